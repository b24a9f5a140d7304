"""Nothing leaves unread: pixels in PDFs are read by OCR, painted, and re-read.

Inputs come from independent producers (img2pdf, Ghostscript, reportlab,
LibreOffice, Tesseract's PDF renderer, hand-made pikepdf objects). Every
output is checked by other tools: poppler renders each page (``pdftoppm``)
and a separate ``tesseract`` process reads it; ``pdftotext`` and pdfium read
its text; pikepdf and ``pdfimages`` inspect its images and masks.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits, RedactionResult, SourceDocument
from exchange.domain.redaction.pdf import images
from exchange.domain.redaction.pdf.images import MIN_LONG_SIDE, MIN_SIDE, too_small
from exchange.domain.redaction.pdf.pdf_engine import PdfEngine
from tests.corpus.pdf import producer_scans
from tests.corpus.pdf.producer_scans import CUSTOMER, EMAIL, KEPT, PART, SECRETS
from tests.integration.pdf.conftest import finder, pdfium_text, pdftotext

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=120)
PRODUCERS: dict[str, Callable[[Path], Path]] = {
    "img2pdf": producer_scans.img2pdf_scan,
    "ghostscript": producer_scans.ghostscript_scan,
    "reportlab_photo": producer_scans.reportlab_photo,
    "libreoffice": producer_scans.libreoffice_image,
    "tesseract_layer": producer_scans.tesseract_sandwich,
    "masks": producer_scans.masked_images,
    "form_inline": producer_scans.form_and_inline,
}


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("scans")
    return {name: make(base) for name, make in PRODUCERS.items()}


@pytest.fixture(scope="session")
def read_docs(scans: dict[str, Path]) -> dict[str, SourceDocument]:
    engine = PdfEngine()
    return {name: engine.read(path, LIMITS) for name, path in scans.items()}


def plan(images: str = "redact", mode: str = "surgical", values: list[str] | None = None) -> RecipientPlan:
    return RecipientPlan(
        recipient="supplier",
        find=finder(CUSTOMER, PART, EMAIL),
        sensitive_values=list(SECRETS) if values is None else values,
        mode=mode,
        images=images,  # type: ignore[arg-type]
    )


def ocr_rendered(path: Path, tmp: Path) -> list[str]:
    """Each page rendered by poppler and read by a separate tesseract process."""
    prefix = tmp / (path.stem + "-render")
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(prefix)], check=True, timeout=120)
    texts = []
    for png in sorted(tmp.glob(prefix.name + "*.png")):
        texts.append(
            subprocess.run(
                ["tesseract", str(png), "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
            ).stdout.decode()
        )
    assert texts, "nothing rendered"
    return texts


def _contains(text: str, value: str) -> bool:
    folded = fold(text)
    needle = fold(value)
    return needle in folded or needle.replace(" ", "") in folded.replace(" ", "")


def write(result: RedactionResult, tmp: Path, name: str) -> Path:
    assert result.ok, result.report
    assert result.data is not None
    out = tmp / f"{name}.out.pdf"
    out.write_bytes(result.data)
    return out


def test_too_small_rule() -> None:
    assert too_small((MIN_LONG_SIDE - 1, 400)) is False  # a tall strip can hold a vertical word
    assert too_small((MIN_SIDE - 1, 400)) is True
    assert too_small((MIN_LONG_SIDE - 1, MIN_LONG_SIDE - 1)) is True
    assert too_small((MIN_SIDE, MIN_LONG_SIDE)) is False


def test_read_ocrs_every_image_once(read_docs: dict[str, SourceDocument]) -> None:
    scan = read_docs["img2pdf"]
    ocr_units = [u for u in scan.units if u.source == "ocr"]
    assert [u.page for u in ocr_units] == [1, 2, 3]
    assert all(_contains(u.text, CUSTOMER) and _contains(u.text, EMAIL) for u in ocr_units)
    facts = scan.facts["ocr"]
    assert facts["used"] is True and facts["images"] == 3
    assert facts["mean_confidence"] > 60
    # The form's image is drawn twice but read once; the inline image is read too.
    assert read_docs["form_inline"].facts["ocr"]["images"] == 2
    # The mask-only text is read from the composited appearance.
    masks = " ".join(u.text for u in read_docs["masks"].units if u.source == "ocr")
    assert _contains(masks, CUSTOMER) and _contains(masks, PART) and _contains(masks, EMAIL)


@pytest.mark.parametrize("mode", ["surgical", "rasterize"])
@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_pixels_are_redacted(
    name: str, mode: str, scans: dict[str, Path], read_docs: dict[str, SourceDocument], tmp_path: Path
) -> None:
    result = PdfEngine().redact(read_docs[name], plan(mode=mode))
    out = write(result, tmp_path, name)
    report = result.report
    assert report["ocr"]["used"] and sum(report["counts"].values()) >= 1
    assert "image_ocr" in report["verification"]["checks"]
    rendered = ocr_rendered(out, tmp_path)
    for value in SECRETS:
        for text in (*rendered, pdftotext(out), pdfium_text(out)):
            if name == "masks" and value == EMAIL:
                continue  # checked below: the mask page draws it at 90% alpha
            assert not _contains(text, value), (name, value)
    if name == "masks":
        assert not any(_contains(t, EMAIL) for t in rendered)
    kept = " ".join(rendered)
    assert any(word in kept for word in KEPT), kept
    if name in ("img2pdf", "ghostscript", "tesseract_layer", "libreoffice"):
        assert "Purchase order" in kept  # the rest of the scan is still there


def test_invisible_ocr_layer_goes_with_the_pixels(
    read_docs: dict[str, SourceDocument], tmp_path: Path
) -> None:
    result = PdfEngine().redact(read_docs["tesseract_layer"], plan())
    out = write(result, tmp_path, "layer")
    layer = pdftotext(out)
    assert "turbine" in layer and "Purchase" in layer
    for value in SECRETS:
        assert not _contains(layer, value)
    page = result.report["pages"][0]
    assert page["glyphs_removed"] > 0 and page["images_repainted"] == 1


def _smask_opaque_pixels(path: Path) -> list[int]:
    counts = []
    with pikepdf.open(path) as pdf:
        for _, image in sorted(pdf.pages[0].obj.Resources.XObject.items()):
            smask = image.get("/SMask")
            if isinstance(smask, pikepdf.Stream):
                mask = pikepdf.PdfImage(smask).as_pil_image().convert("L")
                counts.append(sum(1 for v in mask.tobytes() if v == 255))
    return counts


def test_masks_are_painted_too(
    scans: dict[str, Path], read_docs: dict[str, SourceDocument], tmp_path: Path
) -> None:
    result = PdfEngine().redact(read_docs["masks"], plan())
    out = write(result, tmp_path, "masks")
    before = _smask_opaque_pixels(scans["masks"])
    after = _smask_opaque_pixels(out)
    # Both soft masks stay, each now opaque over the painted rectangles.
    assert len(before) == len(after) == 2
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    listing = subprocess.run(
        ["pdfimages", "-list", str(out)], check=True, capture_output=True
    ).stdout.decode()
    kinds = [line.split()[2] for line in listing.splitlines()[2:]]
    assert kinds.count("smask") == 2 and kinds.count("stencil") == 1
    assert result.report["pages"][0]["images_repainted"] == 3


def test_images_rule_remove(read_docs: dict[str, SourceDocument], tmp_path: Path) -> None:
    result = PdfEngine().redact(read_docs["form_inline"], plan(images="remove"))
    out = write(result, tmp_path, "removed")
    with pikepdf.open(out) as pdf:
        images = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image"]
        assert images and all(int(o.Width) == 1 and int(o.Height) == 1 for o in images)
    assert "every image was replaced" in " ".join(result.report["warnings"])
    assert "Letterhead" in pdftotext(out)


def test_images_rule_keep(
    scans: dict[str, Path], read_docs: dict[str, SourceDocument], tmp_path: Path
) -> None:
    # Keep: the recipient may see the pictures; only text is redacted and verified.
    result = PdfEngine().redact(read_docs["reportlab_photo"], plan(images="keep"))
    out = write(result, tmp_path, "kept")
    assert "image_ocr" not in result.report["verification"]["checks"]
    assert any("images: keep" in w for w in result.report["warnings"])
    assert any(_contains(t, CUSTOMER) for t in ocr_rendered(out, tmp_path))


def test_a_missed_picture_fails_closed(read_docs: dict[str, SourceDocument]) -> None:
    blind = RecipientPlan("supplier", find=lambda _text: [], sensitive_values=[CUSTOMER])
    result = PdfEngine().redact(read_docs["img2pdf"], blind)
    assert not result.ok and result.data is None
    assert {leak.kind for leak in result.leaks} == {"image_text"}
    assert "verification found redacted content" in result.report["withheld"]


def test_low_confidence_needs_review(scans: dict[str, Path]) -> None:
    strict = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_review_confidence=99.9)
    engine = PdfEngine()
    result = engine.redact(engine.read(scans["reportlab_photo"], strict), plan())
    assert result.ok
    assert result.report["needs_review"] is True
    assert result.report["ocr"]["low_confidence_images"] == 1
    assert "confidence" in result.report["review_reasons"][0]


def test_a_sideways_scan_is_read_turned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = producer_scans.sideways_scan(tmp_path)
    engine = PdfEngine()
    document = engine.read(src, LIMITS)
    turned: list[int] = []
    real = images.ocr_oriented

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        turned.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "ocr_oriented", counted)
    result = engine.redact(document, plan())
    assert turned == [1]  # the painted page is verified with the turn search too
    out = write(result, tmp_path, "sideways")
    assert result.report["counts"]["CUSTOMER"] >= 3
    # Poppler renders it sideways; turn the render upright for the independent reader.
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(out), str(tmp_path / "s")], check=True
    )
    upright = tmp_path / "upright.png"
    Image.open(tmp_path / "s.png").rotate(-90, expand=True).save(upright)
    text = subprocess.run(
        ["tesseract", str(upright), "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
    ).stdout.decode()
    assert "Purchase order" in text
    for value in SECRETS:
        assert not _contains(text, value), value


def test_explicit_and_colour_key_masks(tmp_path: Path) -> None:
    src = producer_scans.explicit_and_key_masks(tmp_path)
    before = " ".join(ocr_rendered(src, tmp_path))
    assert _contains(before, PART) and _contains(before, CUSTOMER)  # the masks really show them
    engine = PdfEngine()
    result = engine.redact(engine.read(src, LIMITS), plan())
    out = write(result, tmp_path, "mask_kinds")
    assert result.report["pages"][0]["images_repainted"] == 2
    after = " ".join(ocr_rendered(out, tmp_path))
    assert "Customer" in after and "Part" in after
    assert not _contains(after, PART) and not _contains(after, CUSTOMER)
    with pikepdf.open(out) as pdf:
        for _, image in pdf.pages[0].obj.Resources.XObject.items():
            # Both masks became soft masks, opaque over the painted rectangles.
            assert "/Mask" not in image and isinstance(image.get("/SMask"), pikepdf.Stream)


def test_a_misread_ocr_layer_goes_where_the_pixels_are_painted(tmp_path: Path) -> None:
    src = producer_scans.misread_layer(tmp_path)
    assert "Kestre1 Dynamlcs" in pdftotext(src)  # the layer does not match the finder
    engine = PdfEngine()
    result = engine.redact(engine.read(src, LIMITS), plan())
    out = write(result, tmp_path, "misread")
    layer = pdftotext(out)
    assert "Kestre1" not in layer and "Dynamlcs" not in layer
    assert "Customer" in layer and "GmbH" in layer and "turbine" in layer


def test_each_distinct_picture_is_read_once(scans: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("ocr_oriented", "ocr_image"):
        real = getattr(images, name)

        def counted(*args, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(images, name, counted)
    engine = PdfEngine()
    document = engine.read(scans["form_inline"], LIMITS)  # one form image drawn twice, one inline
    assert calls == ["ocr_oriented"] * 2
    calls.clear()
    assert engine.redact(document, plan()).ok
    assert calls == ["ocr_image"] * 2  # read-time results reused; painted pixels re-read
    calls.clear()
    assert engine.redact(document, plan()).ok
    assert calls == []  # a second recipient with the same findings reads nothing new
