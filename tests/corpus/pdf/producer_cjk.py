"""Chinese, Japanese and Korean PDFs from two independent producers.

* reportlab's built-in CID fonts: Type0 fonts, *not embedded*, with Adobe's
  predefined CMaps (``UniGB-UCS2-H`` for STSong-Light, ``UniCNS-UCS2-H``,
  ``UniJIS-UCS2-H``, ``UniKS-UCS2-H``) and ``/W`` widths; and STSong-Light
  with ``UniGB-UCS2-V`` for vertical writing (columns top to bottom).
* LibreOffice Writer with the embedded Noto Sans CJK SC (LibreOffice 7.4
  writes it as a Type1 subset with a ToUnicode map): a regression check for
  embedded CJK fonts.

Each document names the customer in full, broken over a line, and without its
legal form, next to Chinese text that must survive.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import CIDFont, UnicodeCIDFont
from reportlab.pdfgen import canvas

from tests.corpus.pdf.producer_libreoffice import soffice

#: The declared customer, its base name (no 有限公司) and text that must survive.
CUSTOMER = "宁波瀚海磁电有限公司"
BASE = "宁波瀚海磁电"
KEPT = ("订单客户", "交货期五月", "钕铁硼磁体", "质量证明")
#: Lines of the Simplified Chinese documents: full name, a line break inside the name, base name.
LINES_GB = (
    f"订单客户：{CUSTOMER}，交货期五月。",
    "本批钕铁硼磁体由宁波瀚海",
    "磁电有限公司检验。",
    f"质量证明由{BASE}出具。",
)
#: Traditional Chinese (Adobe-CNS1), Japanese (Adobe-Japan1), Korean (Adobe-Korea1).
CUSTOMER_CNS = "寧波瀚海磁電有限公司"
LINES_CNS = (f"訂單客戶：{CUSTOMER_CNS}，交貨期五月。", "品質證明由寧波瀚海磁電出具。")
CUSTOMER_JA = "株式会社北辰磁材"
LINES_JA = (f"発注者：{CUSTOMER_JA}、納期は五月です。", "品質証明書は北辰磁材が発行します。")
CUSTOMER_KO = "주식회사 한빛자석"
LINES_KO = (f"주문 고객: {CUSTOMER_KO}, 납기는 5월입니다.", "품질 증명서는 한빛자석이 발행합니다.")

_REPORTLAB_FONTS = {
    "gb": ("STSong-Light", LINES_GB),
    "cns": ("MSung-Light", LINES_CNS),
    "japan": ("HeiseiMin-W3", LINES_JA),
    "korea": ("HYSMyeongJo-Medium", LINES_KO),
}


def _register(name: str) -> None:
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(name))


def reportlab_cid(dirpath: Path, script: str) -> Path:
    """Horizontal text in a non-embedded reportlab CID font: ``gb``, ``cns``, ``japan`` or ``korea``.

    ``cns`` goes through reportlab's generic CIDFont with ``UniCNS-UCS2-H``: its
    UnicodeCIDFont pairs MSung-Light (Adobe-CNS1) with ``UniGB-UCS2-H``, a mismatch
    that :func:`reportlab_mismatched` keeps as a fail-closed case.
    """
    font, lines = _REPORTLAB_FONTS[script]
    encoded = script == "cns"
    if encoded:
        if "MSung-Light-UniCNS-UCS2-H" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(CIDFont("MSung-Light", "UniCNS-UCS2-H"))
        font = "MSung-Light-UniCNS-UCS2-H"
    else:
        _register(font)
    path = dirpath / f"reportlab_cid_{script}.pdf"
    c = canvas.Canvas(str(path))
    c.setFont(font, 14)
    for n, line in enumerate(lines):
        c.drawString(72, 720 - 24 * n, line.encode("utf-16-be").decode("latin-1") if encoded else line)
    c.setFont("Helvetica", 11)
    c.drawString(72, 600, "Contact: j.wang@kestrel.local")
    c.showPage()
    c.save()
    return path


def reportlab_mismatched(dirpath: Path) -> Path:
    """reportlab's own MSung-Light: an Adobe-CNS1 font named with the Adobe-GB1 CMap UniGB-UCS2-H."""
    _register("MSung-Light")
    path = dirpath / "reportlab_cid_mismatched.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("MSung-Light", 14)
    c.drawString(72, 720, LINES_CNS[0])
    c.showPage()
    c.save()
    return path


def reportlab_vertical(dirpath: Path) -> Path:
    """STSong-Light with ``UniGB-UCS2-V``: each line is a column, right to left."""
    _register("STSong-Light")
    vertical = "STSong-Light-UniGB-UCS2-V"
    if vertical not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(CIDFont("STSong-Light", "UniGB-UCS2-V"))
    path = dirpath / "reportlab_cid_vertical.pdf"
    c = canvas.Canvas(str(path))
    c.setFont(vertical, 14)
    for n, line in enumerate(LINES_GB):
        # reportlab's generic CIDFont takes the string already encoded (UCS-2 big-endian).
        c.drawString(500 - 30 * n, 780, line.encode("utf-16-be").decode("latin-1"))
    c.showPage()
    c.save()
    return path


_FODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:font-face-decls>
  <style:font-face style:name="Noto Sans CJK SC" svg:font-family="'Noto Sans CJK SC'"
   xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/>
 </office:font-face-decls>
 <office:styles>
  <style:style style:name="Body" style:family="paragraph">
   <style:text-properties style:font-name-asian="Noto Sans CJK SC" style:font-size-asian="14pt"
    style:font-name="Noto Sans CJK SC" fo:font-size="14pt"/>
  </style:style>
 </office:styles>
 <office:body><office:text>{body}</office:text></office:body>
</office:document>
"""


def libreoffice(dirpath: Path, timeout: float = 120) -> Path:
    """The Simplified Chinese lines in Noto Sans CJK SC, through LibreOffice Writer (embedded font)."""
    source = dirpath / "libreoffice_cjk.fodt"
    body = "".join(f'<text:p text:style-name="Body">{escape(line)}</text:p>' for line in LINES_GB)
    source.write_text(_FODT.format(body=body), encoding="utf-8")
    profile = dirpath / "lo-profile-cjk"
    proc = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(dirpath),
            str(source),
        ],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    path = dirpath / "libreoffice_cjk.pdf"
    if not path.exists():
        raise RuntimeError(
            f"soffice failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}"
        )
    return path
