"""CSV and plain text in several encodings through the real pipeline and detector (with NER).

Upload sniffing names the type from the content, ``redact_document`` runs the
engine for both recipients, and every output is checked by independent means:
its raw leading bytes (BOM), a strict decode with the input's codec, and
Python's ``csv`` module for the rows and columns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.filetypes import CSV, TEXT, sniff_media_type
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.pipeline import redact_document
from tests.corpus import text_encodings as corpus


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="session")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[corpus.Sample, Path]]:
    return corpus.write_all(tmp_path_factory.mktemp("text_corpus"))


@pytest.mark.parametrize("name", [s.name for s in corpus.samples()])
def test_pipeline_redacts_in_the_input_encoding(
    name: str, files: dict[str, tuple[corpus.Sample, Path]], detector: Detector, policy: Policy
) -> None:
    sample, path = files[name]
    media_type = sniff_media_type(sample.data[:8192], name)
    assert media_type == (CSV if sample.rows else TEXT)
    outcome = redact_document(
        path, media_type, RecipientPlanner(detector, policy), ["supplier", "bureau"], EngineLimits()
    )
    assert outcome.findings
    for recipient, result in outcome.results.items():
        assert result.ok, (recipient, result.report)
        assert result.data is not None
        assert result.data.startswith(sample.bom)
        if not sample.bom:
            for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
                assert not result.data.startswith(bom)
        text = result.data[len(sample.bom) :].decode(sample.codec)  # strict: the encoding is kept
        assert corpus.PART not in text
        hidden = [v for v in sample.holds if recipient == "supplier" or v in (corpus.PART, corpus.SECRET)]
        for value in hidden:
            assert value.casefold() not in text.casefold(), (recipient, value)
        if recipient == "bureau" and corpus.CUSTOMER_CN in sample.holds:
            assert corpus.CUSTOMER_CN in text  # the bureau may see the customer
        if sample.rows is not None:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sample.delimiter))
            assert [len(r) for r in rows] == [len(r) for r in sample.rows]
            assert rows[0] == sample.rows[0]


def test_chinese_table_keeps_chinese_text(
    files: dict[str, tuple[corpus.Sample, Path]], detector: Detector, policy: Policy
) -> None:
    _, path = files["orders_gb18030.csv"]
    outcome = redact_document(path, CSV, RecipientPlanner(detector, policy), ["supplier"], EngineLimits())
    result = outcome.results["supplier"]
    assert result.data is not None
    rows = list(csv.reader(io.StringIO(result.data.decode("gb18030"), newline="")))
    assert rows[1][2] == "钕铁硼磁体，N52等级"
    assert rows[2] == ["上海某公司", "KD-12", "按时交货, 无问题"]
    assert corpus.CUSTOMER_CN not in rows[3][2] and rows[3][2].endswith("的第二批")


def test_split_name_and_quoted_newlines(
    files: dict[str, tuple[corpus.Sample, Path]], detector: Detector, policy: Policy
) -> None:
    _, path = files["quoted.csv"]
    outcome = redact_document(path, CSV, RecipientPlanner(detector, policy), ["supplier"], EngineLimits())
    result = outcome.results["supplier"]
    assert result.data is not None
    rows = list(csv.reader(io.StringIO(result.data.decode(), newline="")))
    assert rows[1][2] == 'says "hello", then\r\nleaves'
    assert rows[2][1] == "Acme; Inc"
    assert "Kestrel" not in rows[3][1] and "Dynamics" not in rows[3][2]
