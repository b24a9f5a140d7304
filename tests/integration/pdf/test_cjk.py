"""Chinese, Japanese and Korean PDFs: predefined CMaps (embedded or not), vertical writing, Noto CJK.

The customer is found by the real detector from a CJK policy; each output is
read back by poppler's pdftotext (a separate process) and pypdfium2, neither
of which is the engine's reader.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pikepdf
import pytest

from exchange.domain.detection import load_policy, redactions_for, sensitive_values
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.normalise import fold
from exchange.domain.redaction.pdf import extract_pdf_text, redact_pdf
from tests.corpus.pdf import producer_cjk
from tests.corpus.pdf.producer_cjk import BASE, CUSTOMER, CUSTOMER_CNS, CUSTOMER_JA, CUSTOMER_KO, KEPT
from tests.integration.pdf.conftest import pdfium_char_boxes, pdfium_text, pdftotext

POLICY = f"""\
version: 1
name: CJK customers
terms:
  customers: ["{CUSTOMER}", "{CUSTOMER_CNS}", "{CUSTOMER_JA}", "{CUSTOMER_KO}"]
recipients:
  supplier:
    redact: [CUSTOMER, EMAIL_ADDRESS]
"""
#: Per document: names (full and base) that must be gone, and text that must survive.
EXPECT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gb": ((CUSTOMER, BASE), KEPT),
    "cns": ((CUSTOMER_CNS, "寧波瀚海磁電"), ("訂單客戶", "交貨期五月", "品質證明")),
    "japan": ((CUSTOMER_JA, "北辰磁材"), ("発注者", "納期は五月です", "品質証明書")),
    "korea": ((CUSTOMER_KO, "한빛자석"), ("주문", "납기는", "품질")),
    "vertical": ((CUSTOMER, BASE), KEPT),
    "libreoffice": ((CUSTOMER, BASE), KEPT),
}


@pytest.fixture(scope="session")
def cjk_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cjk_corpus")
    pdfs = {script: producer_cjk.reportlab_cid(d, script) for script in ("gb", "cns", "japan", "korea")}
    pdfs["vertical"] = producer_cjk.reportlab_vertical(d)
    pdfs["libreoffice"] = producer_cjk.libreoffice(d)
    return pdfs


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_policy(POLICY))


def _find(detector: Detector) -> Callable[[str], Sequence[Redaction]]:
    policy = detector.policy

    def find(text: str) -> Sequence[Redaction]:
        return redactions_for(detector.scan(text), "supplier", policy)

    return find


def _compact(text: str) -> str:
    return "".join(fold(text).split())


def test_corpus_uses_predefined_cmaps_and_vertical_writing(cjk_pdfs: dict[str, Path]) -> None:
    """Guard the corpus: the fonts are what the tests claim they are."""
    expected = {
        "gb": "/UniGB-UCS2-H",
        "cns": "/UniCNS-UCS2-H",
        "japan": "/UniJIS-UCS2-H",
        "korea": "/UniKS-UCS2-H",
        "vertical": "/UniGB-UCS2-V",
    }
    for name, encoding in expected.items():
        with pikepdf.open(cjk_pdfs[name]) as pdf:
            fonts = pdf.pages[0].Resources.Font
            type0 = [f for f in fonts.values() if f.Subtype == "/Type0"]
            assert encoding in {str(f.Encoding) for f in type0}
            assert all("/FontFile2" not in f.DescendantFonts[0].FontDescriptor for f in type0)  # not embedded


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_cjk_customer_removed_other_text_kept(
    name: str, cjk_pdfs: dict[str, Path], detector: Detector, tmp_path: Path
) -> None:
    src = cjk_pdfs[name]
    gone, kept = EXPECT[name]
    # The engine reads the names (otherwise this test proves nothing), and so does poppler.
    engine_text = _compact("".join(extract_pdf_text(src)))
    assert all(_compact(value) in engine_text for value in gone)
    assert _compact(gone[0]) in _compact(pdftotext(src))
    policy = load_policy(POLICY)
    result = redact_pdf(
        src,
        find=_find(detector),
        sensitive_values=sensitive_values([], "supplier", policy),
        mode="surgical",
    )
    assert result.ok, json.dumps(result.report, ensure_ascii=False)
    assert all(page["status"] == "ok" for page in result.report["pages"])
    assert result.data is not None
    out = tmp_path / "out.pdf"
    out.write_bytes(result.data)
    for reader in (pdftotext(out), pdfium_text(out)):
        text = _compact(reader)
        for value in gone:
            assert _compact(value) not in text, (name, value)
        for value in kept:
            assert _compact(value) in text, (name, value)
        assert "j.wang" not in text
    assert CUSTOMER not in json.dumps(result.report, ensure_ascii=False)


def test_kept_glyphs_stay_in_place(cjk_pdfs: dict[str, Path], detector: Detector, tmp_path: Path) -> None:
    """Horizontal and vertical: every glyph that survives keeps its pdfium box (±0.05 pt)."""
    policy = load_policy(POLICY)
    for name in ("gb", "vertical"):
        src = cjk_pdfs[name]
        result = redact_pdf(
            src, find=_find(detector), sensitive_values=sensitive_values([], "supplier", policy)
        )
        assert result.ok and result.data is not None
        out = tmp_path / f"{name}.pdf"
        out.write_bytes(result.data)
        before = [c for c in pdfium_char_boxes(src) if c[0] in "订单客户交货期五月钕铁硼体检验质量证明出具"]
        after = [c for c in pdfium_char_boxes(out) if c[0].strip()]
        assert before
        for char, *box in before:
            assert any(
                c == char and all(abs(a - b) < 0.05 for a, b in zip(box, other, strict=True))
                for c, *other in after
            ), (name, char, box)


def test_vertical_boxes_cover_the_removed_column_cells(cjk_pdfs: dict[str, Path], detector: Detector) -> None:
    """The redaction boxes in vertical writing are tall and narrow, over the removed glyphs."""
    src = cjk_pdfs["vertical"]
    policy = load_policy(POLICY)
    removed = [c for c in pdfium_char_boxes(src) if c[0] in "宁波瀚海磁电有限公司"]
    result = redact_pdf(src, find=_find(detector), sensitive_values=sensitive_values([], "supplier", policy))
    assert result.ok and result.data is not None
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        ops = pikepdf.parse_content_stream(pdf.pages[0])
        rects = [[float(v) for v in op.operands] for op in ops if str(op.operator) == "re"]
    boxes = [(x, y, x + w, y + h) for x, y, w, h in rects]
    assert boxes and all(b[3] - b[1] > b[2] - b[0] for b in boxes)
    for _, x0, y0, x1, y1 in removed:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        assert any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes), (cx, cy)


def test_cmap_of_another_collection_fails_the_page_not_guesses(tmp_path: Path, detector: Detector) -> None:
    """A CMap whose CIDs belong to another collection than the font's: widths unknown, fail closed."""
    src = producer_cjk.reportlab_mismatched(tmp_path)
    result = redact_pdf(src, find=_find(detector), sensitive_values=[CUSTOMER_CNS], mode="surgical")
    assert not result.ok
    assert result.report["pages"][0]["status"] != "ok"
    assert "Adobe-CNS1" in json.dumps(result.report)
