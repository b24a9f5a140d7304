"""A symbolic Type1 font whose built-in encoding is not StandardEncoding (pikepdf + URW fonts).

The font program is NimbusSans-Regular from Debian's ``fonts-urw-base35``
(installed with Ghostscript), re-encoded: its clear-text ``/Encoding`` puts
every letter one code *above* its ASCII code. The PDF font has no /Encoding
and no ToUnicode and is flagged symbolic, so a reader must use the program's
own encoding; StandardEncoding would read "Lftusfm" for "Kestrel".
"""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf

from tests.corpus.pdf import SECRET

Name = pikepdf.Name
FONT_DIR = Path("/usr/share/fonts/type1/urw-base35")
_CHARS = sorted(set(SECRET + " Order by for the turbine. Builtin encoded line"))


def _code(ch: str) -> int:
    return 32 if ch == " " else ord(ch) + 1


def _program() -> tuple[bytes, int, int, dict[str, int]]:
    pfa = (FONT_DIR / "NimbusSans-Regular.t1").read_bytes()
    afm = (FONT_DIR / "NimbusSans-Regular.afm").read_text("latin-1")
    widths = {m.group(2): int(m.group(1)) for m in re.finditer(r"WX (\d+) ; N (\S+) ;", afm)}
    head, _, rest = pfa.partition(b"eexec\r")
    names = {ch: "space" if ch == " " else "period" if ch == "." else ch for ch in _CHARS}
    puts = "\n".join(f"dup {_code(ch)} /{names[ch]} put" for ch in _CHARS)
    encoding = f"/Encoding 256 array\n0 1 255 {{1 index exch /.notdef put}} for\n{puts}\nreadonly def"
    head = head.replace(b"/Encoding StandardEncoding def", encoding.encode())
    clear = head + b"eexec\n"
    # The URW .t1 files keep the eexec part in binary, followed by 512 zeros and cleartomark.
    binary = rest[: rest.find(b"0" * 64)]
    trailer = b"0" * 512 + b"\ncleartomark\n"
    code_widths = {_code(ch): widths[names[ch]] for ch in _CHARS}
    return clear + binary + trailer, len(clear), len(binary), code_widths


def encode(text: str) -> bytes:
    return bytes(_code(ch) for ch in text)


def symbolic_builtin(dirpath: Path) -> Path:
    program, len1, len2, code_widths = _program()
    pdf = pikepdf.new()
    fontfile = pdf.make_stream(program, Length1=len1, Length2=len2, Length3=len(program) - len1 - len2)
    first, last = 32, max(code_widths)
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name("/NimbusSans-Regular"),
            FirstChar=first,
            LastChar=last,
            Widths=[code_widths.get(c, 0) for c in range(first, last + 1)],
            FontDescriptor=pikepdf.Dictionary(
                Type=Name.FontDescriptor,
                FontName=Name("/NimbusSans-Regular"),
                Flags=4,
                FontBBox=[-200, -300, 1000, 1000],
                ItalicAngle=0,
                Ascent=900,
                Descent=-200,
                CapHeight=700,
                StemV=80,
                FontFile=fontfile,
            ),
        )
    )

    def line(y: int, text: str) -> bytes:
        hexed = encode(text).hex()
        return f"BT /F1 12 Tf 72 {y} Td <{hexed}> Tj ET\n".encode()

    content = line(700, f"Order by {SECRET} for the turbine.") + line(680, "Builtin encoded line.")
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(content),
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            )
        )
    )
    path = dirpath / "symbolic_type1.pdf"
    pdf.save(path)
    return path
