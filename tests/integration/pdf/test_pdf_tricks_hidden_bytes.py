"""Names where no page text or render shows them: image codecs, encoded URIs, PDF syntax.

Each input carries the name only in a place a viewer does not display but a
recipient can read with ordinary tools (``exiftool -ee``, ``strings``, the
link target a browser opens, a hex dump of the page). The output must not
hold it (checked with those tools), or the file must be withheld.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote_plus

import pikepdf
import pytest
from PIL import Image

from exchange.domain.redaction.pdf import redact_pdf
from exchange.domain.redaction.pdf.engine import verify_output
from exchange.domain.redaction.pdf.limits import PdfLimits
from exchange.domain.redaction.pdf.sanitise import strip_jpeg_metadata
from tests.corpus.pdf import SECRET, producer_tricks
from tests.corpus.pdf.producer_tricks import ENCODED_URIS, HARMLESS_URI, OPERAND_TRICKS
from tests.integration.pdf.conftest import assert_absent, finder, kept_word_boxes, pdftotext, qdf_dump


def _redacted(src: Path, tmp_path: Path) -> Path:
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    return out


def _exiftool(paths: list[Path]) -> str:
    return subprocess.run(
        ["exiftool", "-a", "-G1", *map(str, paths)], check=True, capture_output=True, timeout=60
    ).stdout.decode(errors="replace")


def _jpegs(path: Path, tmp: Path) -> list[Path]:
    """The JPEG streams as stored, extracted by poppler's pdfimages."""
    subprocess.run(["pdfimages", "-j", str(path), str(tmp / "img")], check=True, timeout=60)
    return sorted(tmp.glob("img-*.jpg"))


def test_jpeg_metadata_is_stripped_and_pixels_kept(tmp_path: Path) -> None:
    src = producer_tricks.jpeg_with_metadata(tmp_path)
    _, pixels = producer_tricks.photo_with_metadata()
    (tmp_path / "in").mkdir()
    originals = _jpegs(src, tmp_path / "in")
    assert len(originals) == 1
    # The input really carries the name where exiftool reads it (reportlab wraps the JPEG
    # in ASCII85, so the file's own bytes do not show it).
    assert f"Artist                          : {SECRET}" in _exiftool(originals)
    assert f"{SECRET} comment" in _exiftool(originals)
    out = _redacted(src, tmp_path)
    raw = out.read_bytes()
    for form in (SECRET.encode(), SECRET.encode("utf-16-le"), SECRET.encode("utf-16-be")):
        assert form not in raw
    assert_absent(SECRET, out, tmp_path)
    (tmp_path / "out").mkdir()
    kept = _jpegs(out, tmp_path / "out")
    assert len(kept) == 1, "the photo must stay a JPEG"
    assert SECRET not in _exiftool(kept)
    for form in (SECRET.encode(), SECRET.encode("utf-16-le")):
        assert form not in kept[0].read_bytes()
    with Image.open(kept[0]) as image:
        assert "exif" not in image.info and "comment" not in image.info
        assert image.convert("RGB").tobytes() == pixels.tobytes(), "scan data must be untouched"
    kept_word_boxes(src, out, "turbine.")


def test_verifier_reads_text_inside_image_codecs(tmp_path: Path) -> None:
    # Independently of the stripping: a JPEG comment left in place is a leak.
    src = producer_tricks.jpeg_with_metadata(tmp_path)
    leaks = verify_output(src.read_bytes(), [SECRET], {}, [], PdfLimits())
    assert "raw_stream" in {leak.kind for leak in leaks}


def test_jpeg_stripping_keeps_progressive_scans_and_refuses_garbage() -> None:
    data, _ = producer_tricks.photo_with_metadata()
    progressive = io.BytesIO()
    Image.open(io.BytesIO(data)).save(progressive, "JPEG", progressive=True, comment=SECRET.encode())
    for jpeg in (data, progressive.getvalue()):
        stripped = strip_jpeg_metadata(jpeg)
        assert stripped is not None and SECRET.encode() not in stripped
        with Image.open(io.BytesIO(stripped)) as a, Image.open(io.BytesIO(jpeg)) as b:
            assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()
    assert strip_jpeg_metadata(b"not a jpeg") is None
    assert strip_jpeg_metadata(data[:2] + b"\xff\xe1\xff\xff" + b"short") is None


def _uris(path: Path) -> list[str]:
    with pikepdf.open(path) as pdf:
        return [
            str(annot.A.URI)
            for page in pdf.pages
            for annot in page.obj.get("/Annots", [])
            if "/A" in annot and "/URI" in annot.A
        ]


def test_percent_encoded_uri_naming_the_customer_loses_its_action(tmp_path: Path) -> None:
    src = producer_tricks.percent_encoded_links(tmp_path)
    before = _uris(src)
    assert len(before) == len(ENCODED_URIS) + 1
    # As a browser reads them, the encoded ones name the customer.
    assert all(SECRET in unquote_plus(uri) for uri in before[:-1])
    out = _redacted(src, tmp_path)
    assert _uris(out) == [HARMLESS_URI]
    dump = qdf_dump(out, tmp_path).decode("latin-1")
    assert SECRET.lower() not in unquote_plus(dump).lower()
    assert_absent(SECRET, out, tmp_path)


@pytest.mark.parametrize("trick", sorted(OPERAND_TRICKS))
def test_name_in_pdf_syntax_of_unshown_operands_is_withheld(trick: str, tmp_path: Path) -> None:
    src = producer_tricks.content_operands(tmp_path, trick)
    dump = qdf_dump(src, tmp_path).decode("latin-1")
    # qpdf's normalised content, with its escapes decoded, shows the name.
    readable = re.sub(r"#([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), dump)
    readable = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), readable)
    hexes = [bytes.fromhex(h) for h in re.findall(r"<([0-9a-fA-F]{6,})>", readable)]
    shown = readable + "".join(h.decode("latin-1") + h.decode("utf-16-be", errors="ignore") for h in hexes)
    assert SECRET in shown
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert not result.ok and result.data is None
    assert result.report["verification"]["passed"] is False


def test_image_alternates_and_opi_are_removed(tmp_path: Path) -> None:
    src = producer_tricks.image_alternates(tmp_path)
    out = _redacted(src, tmp_path)
    with pikepdf.open(out) as pdf:
        images = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image"]
        # The drawn image stays; the alternate picture of the name is not written at all.
        assert [(int(i.Width), int(i.Height)) for i in images] == [(200, 40)]
        assert all("/Alternates" not in i and "/OPI" not in i for i in images)
    kept_word_boxes(src, out, "turbine.")


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_name_drawn_out_of_reading_order_is_withheld(order: str, tmp_path: Path) -> None:
    src = producer_tricks.glyph_order(tmp_path, order)
    # poppler sorts glyphs by position and reads the name, as the eye does.
    assert SECRET in pdftotext(src)
    # A detector given the text in content order finds nothing; the file must not pass.
    result = redact_pdf(src, find=finder(SECRET), sensitive_values=[SECRET])
    assert not result.ok and result.data is None
    assert {leak["kind"] for leak in result.report["verification"]["leaks"]} == {"page_text"}
