"""PDFs made by LibreOffice Writer from Flat ODT documents built here as XML.

LibreOffice (7.4) lays text out itself, positions glyphs with TJ kerning
arrays and writes its own font subsets: TrueType fonts as simple
``/TrueType`` subsets with a private encoding and a ToUnicode map (not
Type0/CID), OpenType/CFF fonts converted to Type1 subsets. It adds tagged
structure, outlines from headings, link annotations, footnote links and
(with ``ExportNotes``) text annotations for comments. The customer names sit in every one of those
places, and in the document's title, author, subject and keywords.

All documents are converted in a single ``soffice`` call (start-up dominates
the cost) with a private, throw-away user profile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

CUSTOMER = "Kestrel Dynamics GmbH"
CUSTOMER_UMLAUT = "Müller Magnettechnik AG"
#: Every customer name the documents mention; each must be gone after redaction.
CUSTOMERS = (CUSTOMER, CUSTOMER_UMLAUT)
#: The hyperlink target: a customer name inside a URL (not percent-encoded).
CUSTOMER_URL = "https://portal.example.org/customers/Kestrel-Dynamics-GmbH"

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "dc": "http://purl.org/dc/elements/1.1/",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
}

#: PDF export options (LibreOffice >= 7.4 takes them as JSON on the command line).
_EXPORT_OPTIONS = {
    "ExportNotes": {"type": "boolean", "value": "true"},
    "ExportBookmarks": {"type": "boolean", "value": "true"},
    "UseTaggedPDF": {"type": "boolean", "value": "true"},
}


def _p(content: str, style: str = "Body") -> str:
    return f'<text:p text:style-name="{style}">{content}</text:p>'


def _fodt(title: str, author: str, body: str, header: str, footer: str) -> str:
    namespaces = " ".join(f"xmlns:{k}={quoteattr(v)}" for k, v in _NS.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {namespaces} office:version="1.3"
 office:mimetype="application/vnd.oasis.opendocument.text">
 <office:meta>
  <dc:title>{escape(title)}</dc:title>
  <dc:subject>{escape(f"Orders of {CUSTOMER}")}</dc:subject>
  <meta:keyword>{escape(CUSTOMER_UMLAUT)}</meta:keyword>
  <meta:initial-creator>{escape(author)}</meta:initial-creator>
  <dc:creator>{escape(author)}</dc:creator>
  <dc:description>{escape(f"Export file for {CUSTOMER}")}</dc:description>
 </office:meta>
 <office:font-face-decls>
  <style:font-face style:name="DejaVu Sans" svg:font-family="'DejaVu Sans'"
   style:font-family-generic="swiss" style:font-pitch="variable"/>
  <style:font-face style:name="Nimbus Sans" svg:font-family="'Nimbus Sans'"
   style:font-family-generic="swiss" style:font-pitch="variable"/>
 </office:font-face-decls>
 <office:styles>
  <style:default-style style:family="paragraph">
   <style:paragraph-properties fo:margin-bottom="0.2cm"/>
   <style:text-properties style:font-name="DejaVu Sans" fo:font-size="11pt" fo:language="en"
    fo:country="GB" fo:hyphenate="false"/>
  </style:default-style>
  <style:style style:name="Body" style:family="paragraph"/>
  <style:style style:name="Heading_20_1" style:display-name="Heading 1" style:family="paragraph"
   style:default-outline-level="1">
   <style:text-properties fo:font-size="16pt" fo:font-weight="bold"/>
  </style:style>
  <style:style style:name="Justified" style:family="paragraph">
   <style:paragraph-properties fo:text-align="justify"/>
  </style:style>
  <style:style style:name="Nimbus" style:family="paragraph">
   <style:text-properties style:font-name="Nimbus Sans"/>
  </style:style>
  <style:style style:name="NextPage" style:family="paragraph">
   <style:paragraph-properties fo:break-before="page"/>
  </style:style>
  <style:style style:name="Bold" style:family="text">
   <style:text-properties fo:font-weight="bold"/>
  </style:style>
  <style:style style:name="Spaced" style:family="text">
   <style:text-properties fo:letter-spacing="0.08cm"/>
  </style:style>
  <style:style style:name="Footnote" style:family="paragraph">
   <style:text-properties fo:font-size="9pt"/>
  </style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="pm1">
   <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="1.5cm"
    fo:margin-bottom="1.5cm" fo:margin-left="2cm" fo:margin-right="2cm"/>
   <style:header-style>
    <style:header-footer-properties fo:min-height="0.6cm" fo:margin-bottom="0.4cm"/>
   </style:header-style>
   <style:footer-style>
    <style:header-footer-properties fo:min-height="0.6cm" fo:margin-top="0.4cm"/>
   </style:footer-style>
  </style:page-layout>
 </office:automatic-styles>
 <office:master-styles>
  <style:master-page style:name="Standard" style:page-layout-name="pm1">
   <style:header>{_p(header)}</style:header>
   <style:footer>{_p(footer)}</style:footer>
  </style:master-page>
 </office:master-styles>
 <office:body>
  <office:text>
{body}
  </office:text>
 </office:body>
</office:document>
"""


def _cell(content: str) -> str:
    return f'<table:table-cell office:value-type="string">{_p(content)}</table:table-cell>'


def _row(*cells: str) -> str:
    return "<table:table-row>" + "".join(_cell(c) for c in cells) + "</table:table-row>"


def _everywhere_body() -> str:
    kd, mm = escape(CUSTOMER), escape(CUSTOMER_UMLAUT)
    table = (
        '<table:table table:name="Orders">'
        '<table:table-column table:number-columns-repeated="3"/>'
        + _row("Customer", "Item", "Quantity")
        + _row(kd, "turbine", "4")
        + _row(mm, "gearbox", "2")
        + "</table:table>"
    )
    link = f'<text:a xlink:type="simple" xlink:href={quoteattr(CUSTOMER_URL)}>the portal of {kd}</text:a>'
    footnote = (
        '<text:note text:id="ftn1" text:note-class="footnote">'
        "<text:note-citation>1</text:note-citation>"
        f"<text:note-body>{_p(f'Supplied by {mm} under licence.', 'Footnote')}</text:note-body>"
        "</text:note>"
    )
    comment = (
        "<office:annotation><dc:creator>Reviewer Rita</dc:creator>"
        "<dc:date>2024-03-01T10:00:00</dc:date>"
        f"{_p(f'Check the quote of {kd} again')}</office:annotation>"
    )
    return "\n".join(
        [
            f'<text:h text:style-name="Heading_20_1" text:outline-level="1">'
            f'<text:bookmark text:name="annex"/>Annex for {kd}</text:h>',
            _p(f"Order placed by {kd} for the turbine in Bremen."),
            _p(f"The gearbox goes to {mm} in Stuttgart next week."),
            table,
            _p(f"Delivery notes are on {link} today."),
            _p(f"Licensed design{footnote} for the turbine rotor."),
            _p(f"Reviewed{comment} by the export desk on Monday."),
            # Justified: LibreOffice positions the words of a justified line individually.
            _p(
                f"Payment by {mm} within thirty days; {kd} pays the freight, and the"
                " remaining balance of the contract is settled by the export desk in full.",
                "Justified",
            ),
            # One name in two text styles (two fonts inside one name).
            _p(
                '<text:span text:style-name="Bold">Kestrel</text:span> Dynamics GmbH signed;'
                f" {mm} signed too."
            ),
            # Nimbus Sans is an OpenType/CFF font: LibreOffice embeds it as a Type1 subset.
            _p(f"Nimbus line: {kd} and {mm} share the crane.", "Nimbus"),
            '<text:h text:style-name="Heading_20_1" text:outline-level="1">Terms</text:h>',
            _p(f"Second page: {kd} repeats the header.", "NextPage"),
        ]
    )


def _spaced_body() -> str:
    kd, mm = escape(CUSTOMER), escape(CUSTOMER_UMLAUT)
    # Letter-spacing: LibreOffice writes it as a TJ adjustment of about -0.2 em after every
    # glyph, which poppler (and the engine) read as word gaps and pdfium does not.
    return "\n".join(
        [
            _p(f"Order placed by {kd} for the turbine in Bremen."),
            _p(f'Letterhead of <text:span text:style-name="Spaced">{mm}</text:span> for the gearbox.'),
            _p("Neutral closing line about the turbine."),
        ]
    )


#: name -> .fodt content; each becomes ``lo_<name>.pdf``; ``everywhere`` is also exported as
#: PDF/A-2b (``lo_pdfa.pdf``), which adds an XMP metadata stream with the title and author.
DOCUMENTS = {
    "everywhere": _fodt(
        title=f"Orders for {CUSTOMER}",
        author=CUSTOMER_UMLAUT,
        body=_everywhere_body(),
        header=f"Prepared for {escape(CUSTOMER)} by the export desk",
        footer=f"Confidential to {escape(CUSTOMER_UMLAUT)} and the export desk",
    ),
    "spaced": _fodt(
        title="Order summary",
        author="Applicant Alice",
        body=_spaced_body(),
        header="Export desk",
        footer="Page footer",
    ),
}


def soffice() -> str:
    """The ``soffice`` binary; a missing LibreOffice is an error (CI installs it), never a skip."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise RuntimeError(
            "LibreOffice is required for the LibreOffice PDF corpus: install Debian's "
            "libreoffice-writer-nogui (scripts install it in CI)"
        )
    return found


def _convert(binary: str, sources: list[Path], outdir: Path, options: dict[str, Any], timeout: float) -> None:
    profile = outdir.parent / "lo-profile"
    filter_spec = "pdf:writer_pdf_Export:" + json.dumps(options, separators=(",", ":"))
    proc = subprocess.run(
        [
            binary,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            filter_spec,
            "--outdir",
            str(outdir),
            *map(str, sources),
        ],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    missing = [s.name for s in sources if not (outdir / s.with_suffix(".pdf").name).is_file()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(
            f"soffice failed (exit {proc.returncode}, no PDF for {missing}): "
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )


def convert_all(dirpath: Path, timeout: float = 120) -> dict[str, Path]:
    """Write every document as .fodt and convert them to PDF (two ``soffice`` runs in all).

    Returns name -> PDF path for every name in :data:`DOCUMENTS` plus ``pdfa``.
    """
    binary = soffice()
    plain_dir, pdfa_dir = dirpath / "lo", dirpath / "lo-pdfa"
    plain_dir.mkdir(exist_ok=True)
    pdfa_dir.mkdir(exist_ok=True)
    sources = []
    for name, xml in DOCUMENTS.items():
        src = plain_dir / f"lo_{name}.fodt"
        src.write_text(xml, encoding="utf-8")
        sources.append(src)
    _convert(binary, sources, plain_dir, _EXPORT_OPTIONS, timeout)
    pdfa_src = pdfa_dir / "lo_pdfa.fodt"
    pdfa_src.write_text(DOCUMENTS["everywhere"], encoding="utf-8")
    pdfa_options = {**_EXPORT_OPTIONS, "SelectPdfVersion": {"type": "long", "value": "2"}}
    _convert(binary, [pdfa_src], pdfa_dir, pdfa_options, timeout)
    out = {name: plain_dir / f"lo_{name}.pdf" for name in DOCUMENTS}
    out["pdfa"] = pdfa_dir / "lo_pdfa.pdf"
    return out
