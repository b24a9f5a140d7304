"""PDFs whose text layer names other letters than the page shows ("lying fonts").

A reader sees :data:`VISIBLE` (with the secret); pdftotext, pdfium and the
engine's own model extract the same lines put through :data:`CIPHER`, a fixed
letter substitution, so no text-based detector finds the secret. Three ways:

* :func:`lying_tounicode`: fpdf2 embeds DejaVu as Type0/Identity-H with a
  correct ToUnicode map; pikepdf then rewrites that map's letters.
* :func:`lying_differences`: a Type3 font whose ``/Differences`` names each
  glyph after another letter than its procedure draws (the outlines are
  DejaVu's, drawn as paths through fontTools).
* :func:`lying_cmap`: a simple TrueType font with WinAnsiEncoding and no
  ToUnicode, whose embedded DejaVu subset has a permuted ``cmap``: the code
  for "x" draws the glyph of "K". Viewers (pdfium, poppler) pick glyphs
  through that cmap; extractors read the WinAnsi code.

Each file has a second line in honest Helvetica on the first page and a
second page in Helvetica only, which must stay text (not rendered).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pikepdf
from fontTools.pens.basePen import BasePen
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont
from fpdf import FPDF

from tests.corpus.pdf import SECRET
from tests.corpus.pdf.producer_fpdf2 import DEJAVU
from tests.corpus.pdf.producer_handmade import helvetica

Name = pikepdf.Name

_PLAIN = "abcdefghijklmnopqrstuvwxyz"
_KEYS = "qwertyuiopasdfghjklzxcvbnm"
#: visible letter -> letter the text layer claims (lower and upper case; other characters unchanged)
CIPHER = {**dict(zip(_PLAIN, _KEYS, strict=True)), **dict(zip(_PLAIN.upper(), _KEYS.upper(), strict=True))}
#: What the first page shows in the lying font, line by line.
VISIBLE = (
    f"Purchase order for {SECRET} of Bremen",
    "Delivery of the turbine housings in May",
    f"{SECRET} pays within thirty days",
)
#: Drawn in honest Helvetica next to the lying lines, and alone on page two.
HONEST_LINE = "Reference sheet for the turbine assembly"
HONEST_PAGE = "Second page: the turbine assembly ships in June"


def encipher(text: str) -> str:
    return "".join(CIPHER.get(ch, ch) for ch in text)


def _honest_page(pdf: pikepdf.Pdf) -> None:
    content = f"BT /H 12 Tf 72 720 Td ({HONEST_PAGE}) Tj ET".encode()
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content),
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(H=helvetica(pdf))),
            )
        )
    )


def _page(pdf: pikepdf.Pdf, lying: pikepdf.Object, content: bytes) -> None:
    honest = f"BT /H 11 Tf 72 560 Td ({HONEST_LINE}) Tj ET\n".encode()
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content + b"\n" + honest),
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(L=lying, H=helvetica(pdf))),
            )
        )
    )
    _honest_page(pdf)


# -- ToUnicode -------------------------------------------------------------------------
def lying_tounicode(dirpath: Path) -> Path:
    """fpdf2's Type0 DejaVu with its ToUnicode letters replaced through :data:`CIPHER`."""
    made = FPDF(unit="pt", format="letter")
    made.add_font("DejaVu", "", DEJAVU)
    made.add_page()
    made.set_font("DejaVu", size=14)
    made.set_xy(72, 60)
    for line in VISIBLE:
        made.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    made.set_font("helvetica", size=11)
    made.set_xy(72, 200)
    made.cell(text=HONEST_LINE)
    made.add_page()
    made.set_font("helvetica", size=12)
    made.set_xy(72, 72)
    made.cell(text=HONEST_PAGE)
    source = io.BytesIO(bytes(made.output()))

    def lie(match: re.Match[bytes]) -> bytes:
        code, dst = match.group(1), match.group(2)
        ch = chr(int(dst, 16))
        return b"<%s> <%04X>" % (code, ord(CIPHER.get(ch, ch)))

    path = dirpath / "lying_tounicode.pdf"
    with pikepdf.open(source) as pdf:
        changed = 0
        for obj in pdf.objects:
            is_type0 = isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type0"
            if is_type0 and "/ToUnicode" in obj:
                data = obj.ToUnicode.read_bytes()
                new = re.sub(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]{4})>", lie, data)
                changed += new != data
                obj.ToUnicode = pdf.make_stream(new)
        if not changed:
            raise RuntimeError("fpdf2 wrote no ToUnicode map to rewrite")
        pdf.save(path)
    return path


# -- Type3 with /Differences -------------------------------------------------------------
class _PdfPathPen(BasePen):
    """Glyph outlines as PDF path operators (quadratic segments become cubic ones)."""

    def __init__(self, glyph_set: Any) -> None:
        super().__init__(glyph_set)
        self.ops: list[str] = []

    def _moveTo(self, pt: tuple[float, float]) -> None:  # noqa: N802  (fontTools pen protocol)
        self.ops.append(f"{pt[0]:.1f} {pt[1]:.1f} m")

    def _lineTo(self, pt: tuple[float, float]) -> None:  # noqa: N802
        self.ops.append(f"{pt[0]:.1f} {pt[1]:.1f} l")

    def _curveToOne(  # noqa: N802
        self, pt1: tuple[float, float], pt2: tuple[float, float], pt3: tuple[float, float]
    ) -> None:
        self.ops.append(f"{pt1[0]:.1f} {pt1[1]:.1f} {pt2[0]:.1f} {pt2[1]:.1f} {pt3[0]:.1f} {pt3[1]:.1f} c")

    def _closePath(self) -> None:  # noqa: N802
        self.ops.append("h")


def lying_differences(dirpath: Path) -> Path:
    """A Type3 font: code of "K" is named /A (its cipher letter) and draws DejaVu's "K"."""
    font = TTFont(DEJAVU)
    glyphs = font.getGlyphSet()
    cmap = font.getBestCmap()
    upem = font["head"].unitsPerEm
    hmtx = font["hmtx"]
    shown = sorted(set("".join(VISIBLE)))
    pdf = pikepdf.new()
    procs = pikepdf.Dictionary()
    widths: dict[int, int] = {}
    diffs: list[Any] = []
    for ch in shown:
        gname = cmap[ord(ch)]
        advance = hmtx[gname][0]
        widths[ord(ch)] = advance
        if ch == " ":
            name = "space"
            body = f"{advance} 0 d0"
        else:
            name = CIPHER.get(ch, ch)
            if not name.isalpha():
                name = {"'": "quotesingle", ",": "comma", ".": "period"}.get(ch, f"uni{ord(ch):04X}")
            pen = _PdfPathPen(glyphs)
            glyphs[gname].draw(pen)
            body = f"{advance} 0 d0\n" + "\n".join(pen.ops) + "\nf"
        procs[Name("/" + name)] = pdf.make_stream(body.encode())
        diffs += [ord(ch), Name("/" + name)]
    first, last = min(widths), max(widths)
    type3 = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type3,
            FontBBox=[-200, -500, 2200, 2000],
            FontMatrix=[1 / upem, 0, 0, 1 / upem, 0, 0],
            CharProcs=procs,
            Encoding=pikepdf.Dictionary(Type=Name.Encoding, Differences=diffs),
            FirstChar=first,
            LastChar=last,
            Widths=[widths.get(c, 0) for c in range(first, last + 1)],
            Resources=pikepdf.Dictionary(),
        )
    )
    lines = "\n".join(f"({line}) Tj T*" for line in VISIBLE)
    content = f"BT /L 14 Tf 18 TL 72 720 Td\n{lines}\nET".encode()
    _page(pdf, type3, content)
    path = dirpath / "lying_differences.pdf"
    pdf.save(path)
    return path


# -- TrueType with a permuted cmap -------------------------------------------------------
def lying_cmap(dirpath: Path) -> Path:
    """A simple TrueType font, WinAnsi, no ToUnicode; its cmap maps the cipher letter to the real glyph."""
    shown = sorted(set("".join(VISIBLE)))
    font = TTFont(DEJAVU)
    options = Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = Subsetter(options)
    subsetter.populate(text="".join(shown) + "".join(CIPHER.get(ch, ch) for ch in shown))
    subsetter.subset(font)
    best = font.getBestCmap()
    mapping = {ord(CIPHER.get(ch, ch)): best[ord(ch)] for ch in shown}
    for table in font["cmap"].tables:
        if table.isUnicode():
            table.cmap = dict(mapping)
    buffer = io.BytesIO()
    font.save(buffer)
    program = buffer.getvalue()
    upem = font["head"].unitsPerEm
    hmtx = font["hmtx"]
    widths = [
        round(hmtx[mapping[code]][0] * 1000 / upem) if code in mapping else 0 for code in range(32, 127)
    ]
    pdf = pikepdf.new()
    descriptor = pikepdf.Dictionary(
        Type=Name.FontDescriptor,
        FontName=Name("/LYINGA+DejaVuSans"),
        Flags=32,
        FontBBox=[-1021, -463, 1793, 1232],
        ItalicAngle=0,
        Ascent=928,
        Descent=-236,
        CapHeight=729,
        StemV=80,
        FontFile2=pdf.make_stream(program, Length1=len(program)),
    )
    truetype = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.TrueType,
            BaseFont=Name("/LYINGA+DejaVuSans"),
            FirstChar=32,
            LastChar=126,
            Widths=widths,
            Encoding=Name.WinAnsiEncoding,
            FontDescriptor=pdf.make_indirect(descriptor),
        )
    )
    lines = "\n".join(f"({encipher(line)}) Tj T*" for line in VISIBLE)
    content = f"BT /L 14 Tf 18 TL 72 720 Td\n{lines}\nET".encode()
    _page(pdf, truetype, content)
    path = dirpath / "lying_cmap.pdf"
    pdf.save(path)
    return path


LYING = {
    "tounicode": lying_tounicode,
    "differences": lying_differences,
    "cmap": lying_cmap,
}


def private_use(dirpath: Path) -> Path:
    """fpdf2's Type0 DejaVu with every ToUnicode destination moved into the Private Use Area."""
    path = lying_tounicode(dirpath)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for obj in pdf.objects:
            is_type0 = isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type0"
            if is_type0 and "/ToUnicode" in obj:
                data = obj.ToUnicode.read_bytes()
                obj.ToUnicode = pdf.make_stream(
                    re.sub(
                        rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]{4})>",
                        lambda m: b"<%s> <%04X>" % (m.group(1), 0xE000 + int(m.group(2), 16)),
                        data,
                    )
                )
        pdf.save(dirpath / "private_use.pdf")
    return dirpath / "private_use.pdf"
