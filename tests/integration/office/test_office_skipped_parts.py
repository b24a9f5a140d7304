"""Parts the run engines do not parse for text (styles, themes, fonts) hold none, and the guard fails safe.

Files come from python-docx, python-pptx and LibreOffice. Each part the
byte check skips is parsed here anyway and must yield no block and no text
attribute; a body re-encoded as UTF-16 (whose tags the byte check cannot
read) is still redacted, not withheld.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.domain.detection.detector import Detector
from exchange.domain.detection.policy import Policy
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.office import runs
from exchange.domain.redaction.office.docx import DocxEngine
from exchange.domain.redaction.office.package import OfficePackage
from tests.corpus import office as corpus
from tests.integration.office.conftest import assert_no_customer, redact

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def producers(office_dir: Path, libreoffice_files: dict[str, Path]) -> list[Path]:
    return [
        corpus.make_docx(office_dir / "skip-full.docx"),
        corpus.make_long_docx(office_dir / "skip-long.docx", 20),
        corpus.make_pptx(office_dir / "skip-deck.pptx"),
        *[p for p in libreoffice_files.values() if p.suffix in (".docx", ".pptx")],
    ]


def test_skipped_parts_have_no_text_to_read(producers: list[Path]) -> None:
    skipped: set[str] = set()
    for path in producers:
        package = OfficePackage.open(path, EngineLimits())
        for name in runs.text_parts(package):
            if runs.may_hold_text(package, name):
                continue
            root = package.read_xml(name)
            assert runs.blocks(root) == [], (path.name, name)
            assert list(runs.attribute_values(root)) == [], (path.name, name)
            skipped.add(name.rpartition("/")[2])
    # The check is worth having: the styles of every producer are among the parts skipped.
    assert "styles.xml" in skipped


def test_a_utf16_body_is_parsed_and_redacted(office_dir: Path, detector: Detector, policy: Policy) -> None:
    source = corpus.make_docx(office_dir / "utf16-source.docx")

    def to_utf16(data: bytes) -> bytes:
        text = data.decode("utf-8")
        declaration, _, rest = text.partition("?>")
        assert "encoding" in declaration
        redeclared = declaration.replace("UTF-8", "UTF-16").replace("utf-8", "UTF-16") + "?>" + rest
        return redeclared.encode("utf-16")

    path = corpus.rewrite_zip(source, {"word/document.xml": to_utf16}, office_dir / "utf16.docx")
    package = OfficePackage.open(path, EngineLimits())
    assert runs.may_hold_text(package, "word/document.xml")
    result = redact(DocxEngine(), path, detector, policy, ("supplier",))["supplier"]
    assert result.ok, result.report
    assert result.data is not None
    assert_no_customer(result.data)
