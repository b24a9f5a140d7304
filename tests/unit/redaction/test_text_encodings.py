"""Encoding detection, CSV dialects and the text engine, with declared terms only (no NER).

Outputs are checked independently of the engine: raw leading bytes for the
BOM, a strict decode with the expected codec, and Python's ``csv`` module for
rows and columns.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.filetypes import CSV, TEXT, sniff_media_type
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.text import ASCII_BOX, BOX, TextEncoding, detect_encoding
from exchange.domain.redaction.text_engine import TextEngine, detect_table
from tests.corpus import text_encodings as corpus


class _NoNer:
    """Declared terms and patterns only: the engine's behaviour, not spaCy's, is under test."""

    def analyze_many(self, texts: Any, entities: Any) -> list[list[Any]]:
        return [[] for _ in texts]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="module")
def detector(policy: Policy) -> Detector:
    return Detector(policy, engine=_NoNer())  # type: ignore[arg-type]


def run(path: Path, detector: Detector, policy: Policy, recipient: str = "supplier") -> RedactionResult:
    engine = TextEngine()
    document = engine.read(path, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units])
    return engine.redact(document, planner.plan(recipient))


# -- encoding rule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "codec", "bom"),
    [
        ("Grüße".encode("utf-8-sig"), "utf-8", codecs.BOM_UTF8),
        ("Grüße".encode(), "utf-8", b""),
        (codecs.BOM_UTF16_LE + "宁波".encode("utf-16-le"), "utf-16-le", codecs.BOM_UTF16_LE),
        (codecs.BOM_UTF16_BE + "a,b".encode("utf-16-be"), "utf-16-be", codecs.BOM_UTF16_BE),
        (codecs.BOM_UTF32_LE + "a".encode("utf-32-le"), "utf-32-le", codecs.BOM_UTF32_LE),
        (f"客户：{corpus.CUSTOMER_CN}".encode("gb18030"), "gb18030", b""),
        ("Müller, Straße, Öl".encode("cp1252"), "cp1252", b""),
        ("Crème brûlée à la française".encode("cp1252"), "cp1252", b""),
        ("Grüße".encode("latin-1"), "cp1252", b""),
        (b"caf\xe9 \x81 au lait, " + b"a long enough line of ordinary text. " * 4, "latin-1", b""),
    ],
)
def test_encoding_rule(data: bytes, codec: str, bom: bytes) -> None:
    decoded = detect_encoding(data)
    assert decoded.encoding == TextEncoding(codec, bom)
    assert decoded.encoding.encode(decoded.text) == data  # the rule round-trips the bytes exactly


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a\x00b\x00c", "NUL"),
        (bytes(range(1, 32)) * 4, "binary"),
        (codecs.BOM_UTF8 + b"\xff\xfe broken", "UTF-8"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8a", "UTF-16"),  # unpaired surrogate
    ],
)
def test_binary_and_broken_text_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFile, match=reason):
        detect_encoding(data)


def test_box_fits_the_encoding() -> None:
    assert TextEncoding("gb18030").box == BOX
    assert TextEncoding("cp1252").box == ASCII_BOX == "#" * len(BOX)


# -- CSV dialects ----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_table_dialects_are_detected(delimiter: str) -> None:
    text = delimiter.join(["a", '"b ' + delimiter + ' c"', "d"]) + "\r\n" + delimiter.join("xyz") + "\r\n"
    layout = detect_table(text)
    assert layout is not None
    assert layout.dialect.delimiter == delimiter
    assert layout.rows[0][1] == f"b {delimiter} c"
    assert "".join(layout.records) == text


@pytest.mark.parametrize(
    "text",
    [
        "Dear Sir,\nthank you for the order.\nRegards, Ann\n",  # ragged
        "one line, with, commas\n",  # a single row is no table
        "plain words\nno delimiters\n",
        'a,"unterminated\nb,c\n',
    ],
)
def test_prose_is_not_a_table(text: str) -> None:
    assert detect_table(text) is None


# -- the engine ------------------------------------------------------------------


@pytest.mark.parametrize("sample", corpus.samples(), ids=lambda s: s.name)
def test_engine_keeps_encoding_bom_and_shape(
    sample: corpus.Sample, tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / sample.name
    path.write_bytes(sample.data)
    result = run(path, detector, policy)
    assert result.ok, result.report
    assert result.data is not None
    data = result.data
    assert result.media_type == (CSV if sample.rows else TEXT)
    # BOM kept, byte for byte, and the body decodes strictly with the input's codec.
    assert data[: len(sample.bom)] == sample.bom
    assert not sample.bom or not data[len(sample.bom) :].startswith(sample.bom)
    text = data[len(sample.bom) :].decode(sample.codec)
    for secret in corpus.SECRETS:
        assert secret.casefold() not in text.casefold()
    assert "Kestrel" not in text
    if sample.rows is not None:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sample.delimiter))
        assert len(rows) == len(sample.rows)
        assert [len(r) for r in rows] == [len(r) for r in sample.rows]
        # Cells without secrets are untouched.
        for got, want in zip(rows, sample.rows, strict=True):
            for g, w in zip(got, want, strict=True):
                if not any(s in w for s in corpus.SECRETS) and w not in ("Kestrel", "Dynamics GmbH"):
                    assert g == w
    assert result.report["encoding"]["codec"] == sample.codec


def test_replacement_with_delimiter_and_quote_is_requoted(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f'a,b\n{corpus.PART},x\n"{corpus.CUSTOMER}",y\n', encoding="utf-8")
    engine = TextEngine()
    document = engine.read(path, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    plan = planner.plan("supplier")
    real_find = plan.find

    def find(text: str) -> Any:
        return [type(r)(r.start, r.end, r.entity_type, '[A, "B"]') for r in real_find(text)]

    plan.find = find
    result = engine.redact(document, plan)
    assert result.ok and result.data is not None
    rows = list(csv.reader(io.StringIO(result.data.decode(), newline="")))
    assert rows == [["a", "b"], ['[A, "B"]', "x"], ['[A, "B"]', "y"]]


def test_untouched_rows_keep_their_bytes(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    original = f'"id" , "x"\n"1","{corpus.CUSTOMER}"\n"2","keep ""me"""\n'.replace(" , ", ",")
    path = tmp_path / "q.csv"
    path.write_text(original, encoding="utf-8", newline="")
    result = run(path, detector, policy)
    assert result.ok and result.data is not None
    lines = result.data.decode().splitlines(keepends=True)
    assert lines[0] == '"id","x"\n'
    assert lines[2] == '"2","keep ""me"""\n'
    assert lines[1] == f"1,{BOX}\n"


def test_label_style_for_the_bureau(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(f"part;note\n{corpus.PART};{corpus.SECRET}\n".encode("cp1252"))
    result = run(path, detector, policy, "bureau")
    assert result.ok and result.data is not None
    assert result.data.decode("cp1252") == "part;note\n[PART_NUMBER-1];[TRADE_SECRET-1]\n"


def test_a_leak_withholds(tmp_path: Path, detector: Detector, policy: Policy) -> None:
    path = tmp_path / "l.csv"
    path.write_text(f"a,b\nx,{corpus.CUSTOMER}\n", encoding="utf-8")
    engine = TextEngine()
    document = engine.read(path, EngineLimits())
    plan = RecipientPlanner(detector, policy).plan("supplier")
    plan.find = lambda text: []  # a detector that misses everything
    result = engine.redact(document, plan)
    assert not result.ok and result.data is None
    assert result.report["withheld"]
    assert corpus.CUSTOMER not in repr(result.report)


def test_a_value_split_over_cells_is_caught_by_verification(
    tmp_path: Path, detector: Detector, policy: Policy
) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b,c\nKestrel,Dynamics GmbH,z\n", encoding="utf-8")
    engine = TextEngine()
    document = engine.read(path, EngineLimits())
    plan = RecipientPlanner(detector, policy).plan("supplier")
    plan.find = lambda text: []
    result = engine.redact(document, plan)
    assert not result.ok
    assert "joined_rows" in result.report["verification"]["checks"]


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        ("a,b\n1,2\n".encode("utf-16"), "t.csv", CSV),
        ("客户,零件\n宁波,KD\n".encode("gb18030"), "t.txt", CSV),
        ("Grüße aus Köln".encode("cp1252"), "t.txt", TEXT),
        ("Grüße aus Köln".encode("cp1252"), "t.csv", TEXT),
    ],
)
def test_upload_sniffing(data: bytes, name: str, expected: str) -> None:
    assert sniff_media_type(data, name) == expected
