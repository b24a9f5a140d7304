"""Hand-written PDFs that hide text from view, one trick per page (pikepdf).

Every page shows a visible line with ``turbine`` (a neighbour that must stay in
place) and draws ``HIDDEN`` — or the corpus SECRET — so that a viewer does not
show it, while text extraction still finds it. ``VISIBLE_CONTROLS`` pages draw
text that *looks* like a trick but is visible (white on a dark box, clipped
to a region that contains it, small but readable); it must survive.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from tests.corpus.pdf import SECRET
from tests.corpus.pdf.producer_handmade import helvetica

Name = pikepdf.Name

#: Text the tricks hide; no finding matches it, so the engine must remove it on its own.
HIDDEN = "Orion Capital"

_VISIBLE = "BT /F1 12 Tf 72 740 Td (Visible line about the turbine.) Tj ET\n"


def _text(value: str, x: float = 100, y: float = 600, size: float = 12) -> str:
    return f"BT /F1 {size} Tf {x} {y} Td ({value}) Tj ET\n"


#: name -> content drawing the hidden text (after the visible line).
TRICKS: dict[str, str] = {
    "white_gray": "1 g " + _text(HIDDEN),
    "white_rgb": "1 1 1 rg " + _text(HIDDEN),
    "white_cmyk": "0 0 0 0 k " + _text(HIDDEN),
    "white_sc_rgb": "/DeviceRGB cs 1 1 1 sc " + _text(HIDDEN),
    "white_scn_cmyk": "/DeviceCMYK cs 0 0 0 0 scn " + _text(HIDDEN),
    "white_icc_gray": "/CSG cs 1 scn " + _text(HIDDEN),
    "white_secret": "1 g " + _text(SECRET),
    "same_colour_as_box": "0.2 0.4 0.8 rg 90 590 200 25 re f " + _text(HIDDEN),
    "clipped_away": "q 0 0 10 10 re W n " + _text(HIDDEN) + "Q\n",
    "clipped_evenodd_hole": "q 80 580 300 40 re 90 590 200 25 re W* n " + _text(HIDDEN) + "Q\n",
    "tiny_font": _text(HIDDEN, size=0.4),
    "zero_font": _text(HIDDEN, size=0),
    "squeezed_tz": "BT /F1 12 Tf 1 Tz 100 600 Td (" + HIDDEN + ") Tj ET\n",
    "tiny_matrix": "q 0.02 0 0 0.02 100 600 cm " + _text(HIDDEN, x=0, y=0) + "Q\n",
    "under_shading": _text(HIDDEN) + "/ShBox sh\n",
    "under_shading_clipped": _text(HIDDEN) + "q 90 590 300 30 re W n /Sh0 sh Q\n",
    "under_polygon": _text(HIDDEN) + "0 g 90 595 m 300 595 l 310 605 l 300 620 l 90 620 l 85 605 l h f\n",
    "under_curve": _text(HIDDEN) + "1 g 90 595 m 90 625 300 625 300 595 c 300 590 l 90 590 l h f\n",
    "under_rect_and_path": _text(HIDDEN)
    + "1 g 90 595 60 25 re 150 595 m 300 595 l 300 620 l 230 625 l 150 620 l h f\n",
    "transparent": "/GsClear gs " + _text(HIDDEN),
    "separation_none": "/CSNone cs 1 scn " + _text(HIDDEN),
    "invisible_mode_no_image": "BT 3 Tr /F1 12 Tf 100 600 Td (" + HIDDEN + ") Tj ET\n",
    "outside_form_bbox": "/FmClip Do\n",
}

#: Text inside streams the engine does not read as page text: the page must fail closed.
UNREAD_TEXT: dict[str, str] = {
    "text_in_tiling_pattern": "/Pattern cs /PTxt scn 90 590 300 30 re f\n",
    "text_in_soft_mask": "/GsMask gs 0 g 90 590 300 30 re f\n",
}

#: Text drawn in ways that look like tricks but are visible: must stay, in place.
VISIBLE_CONTROLS: dict[str, str] = {
    "white_on_dark_box": "0 0 0.3 rg 90 590 200 25 re f 1 g " + _text("Visible turbine"),
    "clip_contains_text": "q 90 590 300 30 re W n " + _text("Visible turbine") + "Q\n",
    "small_but_readable": _text("Visible turbine", size=4),
    "box_before_text": "0.9 g 90 590 200 25 re f 0 g " + _text("Visible turbine"),
    "colour_text": "0 0.5 0 rg " + _text("Visible turbine"),
    # A spot colour starts at full tint (visible), unlike tint 0 (paper).
    "spot_initial_tint": "/CSSpot cs " + _text("Visible turbine"),
    "white_on_image": "q 300 0 0 40 90 585 cm /Pic Do Q 1 g " + _text("Visible turbine"),
}


def _resources(pdf: pikepdf.Pdf, with_form: bool) -> pikepdf.Dictionary:
    font = helvetica(pdf)
    icc = pdf.make_stream(b"\x00" * 128, N=1, Alternate=Name.DeviceGray)
    shading = pikepdf.Dictionary(
        ShadingType=2,
        ColorSpace=Name.DeviceRGB,
        Coords=[0, 0, 612, 0],
        Function=pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[1, 1, 1], C1=[0.9, 0.9, 1], N=1),
        Extend=[True, True],
    )
    picture = pdf.make_stream(
        bytes([0, 40, 80, 120] * 4), Type=Name.XObject, Subtype=Name.Image, Width=4, Height=4,
        ColorSpace=Name.DeviceGray, BitsPerComponent=8,
    )  # fmt: skip
    boxed = pikepdf.Dictionary(dict(shading.items()))
    boxed.BBox = [90, 590, 400, 620]
    form = pdf.make_stream(
        _text(HIDDEN, x=100, y=600).encode(),
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 50, 50],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    cell = pdf.make_stream(
        _text(HIDDEN, x=0, y=2, size=4).encode(),
        Type=Name.Pattern, PatternType=1, PaintType=1, TilingType=1, BBox=[0, 0, 40, 8],
        XStep=40, YStep=8, Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )  # fmt: skip
    mask_group = pdf.make_stream(
        b"1 g 0 0 612 792 re f 0 g " + _text(HIDDEN).encode(),
        Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 612, 792],
        Group=pikepdf.Dictionary(S=Name.Transparency, CS=Name.DeviceGray),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )  # fmt: skip
    return pikepdf.Dictionary(
        Font=pikepdf.Dictionary(F1=font),
        Pattern=pikepdf.Dictionary(PTxt=cell),
        ColorSpace=pikepdf.Dictionary(
            CSG=pdf.make_indirect([Name.ICCBased, icc]),
            CSSpot=pdf.make_indirect(
                [
                    Name.Separation,
                    Name("/PANTONE 300 C"),
                    Name.DeviceCMYK,
                    pikepdf.Dictionary(
                        FunctionType=2, Domain=[0, 1], C0=[0, 0, 0, 0], C1=[1, 0.5, 0, 0], N=1
                    ),
                ]
            ),
            CSNone=pdf.make_indirect(
                [
                    Name.Separation,
                    Name("/None"),
                    Name.DeviceGray,
                    pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0], C1=[1], N=1),
                ]
            ),
        ),
        Shading=pikepdf.Dictionary(Sh0=shading, ShBox=boxed),
        ExtGState=pikepdf.Dictionary(
            GsClear=pikepdf.Dictionary(Type=Name.ExtGState, ca=0),
            GsMask=pikepdf.Dictionary(
                Type=Name.ExtGState, SMask=pikepdf.Dictionary(S=Name.Luminosity, G=mask_group)
            ),
        ),
        XObject=pikepdf.Dictionary(FmClip=form) if with_form else pikepdf.Dictionary(Pic=picture),
    )


def trick_pages(dirpath: Path, tricks: dict[str, str], name: str) -> Path:
    """One page per entry of ``tricks``, in order, each with the visible turbine line."""
    pdf = pikepdf.new()
    for body in tricks.values():
        # Resources per page; the form only where it is drawn (an undrawn form in a page's
        # resources is not page content; the verifier's stream scan covers it).
        resources = _resources(pdf, "/FmClip" in body)
        content = (_VISIBLE + "q " + body + "Q\n" + _text("Second turbine line.", x=72, y=500)).encode()
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=Name.Page,
                    MediaBox=[0, 0, 612, 792],
                    Contents=pdf.make_stream(content),
                    Resources=resources,
                )
            )
        )
    path = dirpath / f"{name}.pdf"
    pdf.save(path)
    return path


def hidden_tricks(dirpath: Path) -> Path:
    return trick_pages(dirpath, TRICKS, "hidden_tricks")


def visible_controls(dirpath: Path) -> Path:
    return trick_pages(dirpath, VISIBLE_CONTROLS, "visible_controls")


def appearance_states(dirpath: Path) -> Path:
    """Annotations whose down (/D) and rollover (/R) appearances hold text the normal one does not.

    A Square annotation, a Link carrying an /AP, and a push-button widget of an
    AcroForm field; each /N shows ``turbine``, each /D and /R shows HIDDEN or SECRET.
    """
    pdf = pikepdf.new()
    font = helvetica(pdf)
    res = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=Name.Page,
            MediaBox=[0, 0, 612, 792],
            Contents=pdf.make_stream(_VISIBLE.encode()),
            Resources=res,
        )
    )
    pdf.pages.append(page)

    def form(text: str) -> pikepdf.Object:
        return pdf.make_stream(
            f"BT /F1 10 Tf 2 6 Td ({text}) Tj ET".encode(),
            Type=Name.XObject,
            Subtype=Name.Form,
            BBox=[0, 0, 250, 20],
            Resources=res,
        )

    def states() -> pikepdf.Dictionary:
        return pikepdf.Dictionary(N=form("Normal turbine"), D=form(HIDDEN), R=form(f"Roll {SECRET}"))

    square = pdf.make_indirect(
        pikepdf.Dictionary(Type=Name.Annot, Subtype=Name.Square, Rect=[72, 600, 322, 620], F=4, AP=states())
    )
    link = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[72, 560, 322, 580],
            AP=states(),
            A=pikepdf.Dictionary(S=Name.URI, URI=pikepdf.String("https://example.org/")),
        )
    )
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Btn,
            Ff=65536,
            T=pikepdf.String("button"),
            Rect=[72, 520, 322, 540],
            F=4,
            AP=states(),
            MK=pikepdf.Dictionary(CA=pikepdf.String("Press")),
        )
    )
    pdf.pages[0].obj.Annots = pdf.make_indirect([square, link, widget])
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget], NeedAppearances=False)
    path = dirpath / "appearance_states.pdf"
    pdf.save(path)
    return path


def named_properties(dirpath: Path) -> Path:
    """/ActualText and /Alt in named property lists (``/Span /MC0 BDC``), direct and indirect."""
    pdf = pikepdf.new()
    font = helvetica(pdf)
    props = pikepdf.Dictionary(
        MC0=pikepdf.Dictionary(ActualText=pikepdf.String(f"Buyer {SECRET}")),
        MC1=pdf.make_indirect(pikepdf.Dictionary(Alt=pikepdf.String(f"Logo of {SECRET}"))),
    )
    content = (
        _VISIBLE + "/Span /MC0 BDC BT /F1 12 Tf 72 700 Td (Buyer XXXX) Tj ET EMC\n"
        "/Figure /MC1 BDC 0 g 72 650 20 20 re f EMC\n"
    ).encode()
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content),
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font), Properties=props),
            )
        )
    )
    path = dirpath / "named_properties.pdf"
    pdf.save(path)
    return path


def unused_xobjects(dirpath: Path) -> Path:
    """Resources holding XObjects no content paints: a form with text, an image, and a form
    (which *is* drawn) whose own resources hold an undrawn form with the SECRET."""
    pdf = pikepdf.new()
    font = helvetica(pdf)
    fonts = pikepdf.Dictionary(F1=font)

    def form(text: str, xobjects: pikepdf.Dictionary | None = None) -> pikepdf.Object:
        res = pikepdf.Dictionary(Font=fonts)
        if xobjects is not None:
            res.XObject = xobjects
        return pdf.make_stream(
            _text(text, x=72, y=600).encode(),
            Type=Name.XObject,
            Subtype=Name.Form,
            BBox=[0, 0, 612, 792],
            Resources=res,
        )

    picture = pdf.make_stream(
        b"\x00" * 16, Type=Name.XObject, Subtype=Name.Image, Width=4, Height=4,
        ColorSpace=Name.DeviceGray, BitsPerComponent=8,
    )  # fmt: skip
    used = form("Drawn form turbine", pikepdf.Dictionary(Inner=form(f"Inner {SECRET}")))
    content = (_VISIBLE + "/Used Do\n").encode()
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content),
                Resources=pikepdf.Dictionary(
                    Font=fonts,
                    XObject=pikepdf.Dictionary(Used=used, Unused=form(HIDDEN), Pic=picture),
                ),
            )
        )
    )
    path = dirpath / "unused_xobjects.pdf"
    pdf.save(path)
    return path
