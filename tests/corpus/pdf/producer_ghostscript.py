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


def text(dirpath: Path) -> Path:
    return _ps2pdf(_TEXT_PS, dirpath / "gs_text.pdf")


def type3(dirpath: Path) -> Path:
    return _ps2pdf(_TYPE3_PS, dirpath / "gs_type3.pdf")
