"""PDFs made by Ghostscript's ps2pdf from hand-written PostScript.

Ghostscript re-encodes fonts itself: embedded Type1C subsets with its own
encodings, and user-defined PostScript fonts become PDF Type3 fonts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.corpus.pdf import SECRET

_TEXT_PS = f"""%!PS
/Helvetica findfont 12 scalefont setfont
72 700 moveto (Order placed by {SECRET} for the turbine.) show
72 680 moveto (Second line: the turbine for {SECRET}.) show
/Times-Roman findfont 11 scalefont setfont
72 660 moveto (Kerned: ) show (Kes) show 0.5 0 rmoveto (trel Dynamics) show ( and the turbine.) show
showpage
"""

# A user-defined Type3 font whose glyphs are boxes; glyph names are real letters.
_TYPE3_PS = f"""%!PS
/BoxFont 8 dict def
BoxFont begin
/FontType 3 def
/FontMatrix [0.001 0 0 0.001 0 0] def
/FontBBox [0 0 600 700] def
/Encoding 256 array def
0 1 255 {{ Encoding exch /.notdef put }} for
Encoding 32 /space put
{" ".join(f"Encoding {ord(ch)} /{ch} put" for ch in sorted(set("KestrelDynamicsturbinefoOdpa")))}
/BuildChar {{
  1000 0 0 0 600 700 setcachedevice
  exch pop 32 eq {{ }} {{ 50 0 moveto 550 0 lineto 550 700 lineto 50 700 lineto closepath fill }} ifelse
}} def
end
/BoxFont BoxFont definefont pop
/BoxFont findfont 12 scalefont setfont
72 700 moveto (Order for {SECRET} turbine) show
showpage
"""


def _ps2pdf(ps: str, path: Path) -> Path:
    src = path.with_suffix(".ps")
    src.write_text(ps, encoding="latin-1")
    subprocess.run(
        ["ps2pdf", "-dPDFSETTINGS=/prepress", "-dEmbedAllFonts=true", str(src), str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")

# DejaVu Sans (TrueType) found through FONTPATH: Ghostscript loads it as a Type 42 font and
# writes an embedded TrueType subset; the font is re-encoded to ISO Latin-1 for the umlaut.
_TRUETYPE_PS = f"""%!PS
/DejaVuSans findfont dup length dict begin {{ 1 index /FID ne {{ def }} {{ pop pop }} ifelse }} forall
/Encoding ISOLatin1Encoding def currentdict end /DejaVuSans-Latin1 exch definefont pop
/DejaVuSans-Latin1 findfont 12 scalefont setfont
72 700 moveto (Order placed by {SECRET} for the turbine.) show
72 680 moveto (M\374ller Magnet ships the turbine; {SECRET} pays.) show
/DejaVuSans-Latin1 findfont 9 scalefont setfont
72 660 moveto (Small print: Kes) show 0.4 0 rmoveto (trel Dynamics and the turbine.) show
showpage
"""


def truetype(dirpath: Path) -> Path:
    """Ghostscript (pdfwrite) with DejaVu Sans as a Type 42 font: an embedded TrueType subset."""
    path = dirpath / "gs_truetype.pdf"
    src = path.with_suffix(".ps")
    src.write_text(_TRUETYPE_PS, encoding="latin-1")
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            f"-sFONTPATH={DEJAVU_DIR}",
            "-dEmbedAllFonts=true",
            f"-sOutputFile={path}",
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def text(dirpath: Path) -> Path:
    return _ps2pdf(_TEXT_PS, dirpath / "gs_text.pdf")


def type3(dirpath: Path) -> Path:
    return _ps2pdf(_TYPE3_PS, dirpath / "gs_type3.pdf")


def cid_truetype(dirpath: Path) -> Path:
    """Ghostscript with DejaVu Sans as a CIDFontType2 (Identity-H, glyph ids as CIDs).

    The font comes from a ``cidfmap`` entry; pdfwrite writes no ToUnicode map
    and the embedded subset has no ``cmap`` table, so the text is unknowable:
    poppler prints garbage, and a redactor must refuse rather than guess.
    """
    from fontTools.ttLib import TTFont

    font = TTFont(DEJAVU_DIR / "DejaVuSans.ttf")
    cmap = font.getBestCmap()
    gid = {name: i for i, name in enumerate(font.getGlyphOrder())}

    def hexed(text: str) -> str:
        return "<" + "".join(f"{gid[cmap[ord(c)]]:04X}" for c in text) + ">"

    (dirpath / "cidfmap").write_text(
        f"/DejaVuCID << /FileType /TrueType /Path ({DEJAVU_DIR}/DejaVuSans.ttf) "
        "/SubfontID 0 /CSI [(Identity) 0] >> ;\n"
    )
    ps = f"""%!PS
/DejaVuCID-Identity-H /Identity-H [/DejaVuCID /CIDFont findresource] composefont pop
/DejaVuCID-Identity-H findfont 12 scalefont setfont
72 700 moveto {hexed(f"CID line: {SECRET} buys the turbine.")} show
showpage
"""
    path = dirpath / "gs_cid_truetype.pdf"
    src = path.with_suffix(".ps")
    src.write_text(ps, encoding="latin-1")
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dNOSAFER",  # cidfmap entries are read from the -I directory
            f"-I{dirpath}",
            "-sDEVICE=pdfwrite",
            f"-sOutputFile={path}",
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
