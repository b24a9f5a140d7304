"""Text and CSV files with producer tricks, through the real detector; outputs checked independently.

Each file is built here with Python's codecs and csv module (one with
LibreOffice). An output is decoded strictly with the input's codec and read
with Python's ``csv`` module and ``html``/``urllib`` decoders that are no part
of the engine; a file that cannot be redacted must be withheld or refused,
never shared with the name in it.
"""

from __future__ import annotations

import base64
import codecs
import csv
import html
import io
import shutil
import subprocess
import unicodedata
import urllib.parse
from pathlib import Path

import pytest

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.text_engine import TextEngine
from tests.corpus import text_encodings as corpus

NAME = corpus.CUSTOMER
UMLAUT = corpus.CUSTOMER_UMLAUT


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(corpus.POLICY)


@pytest.fixture(scope="module")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


def run(path: Path, detector: Detector, policy: Policy) -> RedactionResult:
    engine = TextEngine()
    document = engine.read(path, EngineLimits())
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan("supplier"))


#: Cyrillic letters a reader takes for Latin ones (lower case)
_LOOKALIKE = str.maketrans("аекорсух", "aekopcyx")


def shown(text: str) -> str:
    """What a reader sees, by unicodedata alone: no invisible or combining characters,
    compatibility forms (full width) as ASCII, look-alike letters as Latin, one space."""
    text = unicodedata.normalize("NFKD", text).casefold().translate(_LOOKALIKE)
    kept = "".join(
        c
        for c in text
        if unicodedata.category(c) not in ("Cf", "Mn", "Co", "Cn") and not 0xFE00 <= ord(c) <= 0xFE0F
    )
    return " ".join(kept.replace("-\r\n", "").split())


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("zero_width.txt", "Dear Kes\u200btrel Dyna\u200cmics Gm\u200dbH and Kes\u2060trel Dynamics GmbH\n"),
        ("soft_hyphen.txt", "Dear Kes\u00adtrel Dy\u00adnamics GmbH\n"),
        ("bidi_marks.txt", "Dear Kes\u202etrel\u202c Dynamics GmbH and Kest\u200erel Dynamics GmbH\n"),
        (
            "joiners.txt",
            "Dear Kes\u034ftrel Dynamics GmbH; Kest\ufe0frel Dynamics GmbH; "
            "Kes\U000e0041trel Dynamics GmbH\n",
        ),
        (
            "full_width.txt",
            "Dear ＫｅｓｔｒｅｌＤｙｎａｍｉｃｓ ＧｍｂＨ ok\n".replace("ｅｌＤ", "ｅｌ\u3000Ｄ"),
        ),
        ("cyrillic_e.txt", "Dear K\u0435strel Dynamics GmbH, \u041a\u0415STREL DYNAMICS GMBH\n"),
        ("combining.txt", "Dear Ke\u0301strel Dynamics GmbH\n"),
        ("cr_hyphen.txt", "Line one\rDear Kes-\r\ntrel Dynamics GmbH\r"),
        ("chinese_split.txt", "客户：宁波 瀚海\n磁电 有限公司 收\n客户：宁\u3000波瀚海磁电有限\r\n公司\n"),
    ],
)
def test_hidden_spellings_are_redacted(name: str, text: str, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(text.encode())
    result = run(path, detector, policy)
    assert result.ok and result.data is not None, result.report
    out = result.data.decode("utf-8")  # strict
    assert "\u2588" in out
    assert "kestrel" not in shown(out) and "瀚海" not in shown(out).replace(" ", ""), out
    assert "kestrel" in shown(text) or "瀚海" in shown(text)  # the reader sees the name in the input


def test_csv_quoted_newline_formula_and_split_cells(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["id", "customer", "note"],
        ["1", "Kestrel\nDynamics GmbH", f'=HYPERLINK("http://x.example/?{NAME}","click")'],
        ["2", "Kestrel", "Dynamics GmbH"],
        ["3", "Oakridge", "x" * 50_000],  # a very long cell, one letter: not base64
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = tmp_path / "formula.csv"
    path.write_text(buffer.getvalue(), newline="")
    result = run(path, detector, policy)
    assert result.ok and result.data is not None, result.report
    parsed = list(csv.reader(io.StringIO(result.data.decode(), newline="")))
    assert [len(r) for r in parsed] == [3, 3, 3, 3]
    assert parsed[1][2].startswith("=HYPERLINK(") and "click" in parsed[1][2]
    assert parsed[3] == rows[3]
    flat = shown(" ".join(" ".join(r) for r in parsed))
    assert "kestrel" not in flat and "dynamics gmbh" not in flat


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # Excel shows ="Kes"&"trel Dynamics GmbH" as the name.
        (
            "concat.csv",
            b'id,note\n1,"=""Kes""&""trel Dynamics GmbH"""\n2,"=CONCAT(""Kes"",""trel Dynamics GmbH"")"\n',
        ),
        # A browser shows &#75;estrel as Kestrel.
        ("entity.html.txt", b"<p>&#75;estrel Dynamics GmbH &amp; partners</p>\n"),
        ("percent.txt", b"see https://x.example/?c=%4Bestrel%20Dynamics%20GmbH\n"),
        # A UTF-8 line in a Windows-1252 file: an editor guessing UTF-8 shows the name.
        ("mixed_encoding.txt", f"Dear {UMLAUT}\n".encode() + "Grüße\n".encode("cp1252")),
    ],
)
def test_encoded_names_are_withheld(name: str, data: bytes, tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    # Independent decoders show the name in the input: the case is real.
    text = data.decode("utf-8", errors="replace")
    readings = [
        html.unescape(text),
        urllib.parse.unquote(text),
        text.replace('""&""', "").replace('"",""', ""),
    ]
    assert any(fold(NAME) in fold(r) or fold(UMLAUT) in fold(r) for r in readings)
    result = run(path, detector, policy)
    assert not result.ok and result.data is None
    assert result.report["withheld"] == "verification found redacted content in the output"
    assert NAME not in str(result.report) and UMLAUT not in str(result.report)


def test_windows_1252_german_is_not_read_as_chinese(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    # GB18030 decodes these bytes too, into private-use characters; that reading hid the name.
    path = tmp_path / "brief.txt"
    path.write_bytes(f"Grüße an {UMLAUT}\n".encode("cp1252"))
    result = run(path, detector, policy)
    assert result.ok and result.data is not None, result.report
    out = result.data.decode("cp1252")
    assert out.startswith("Grüße an ") and "Müller" not in out


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "drawing.svg",
            f'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>{NAME}</text></svg>'.encode(),
            "SVG image is not supported",
        ),
        (
            "mail.txt",
            b"Subject: order\n\n" + base64.encodebytes((f"{NAME} " * 60).encode()),
            "base64-encoded content",
        ),
        (
            "inline.txt",
            b"logo: data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(range(256)) * 2) + b"\n",
            "base64-encoded content",
        ),
        ("utf16_no_bom.txt", f"Dear {NAME}\n".encode("utf-16-le"), "NUL bytes"),
        ("nul.txt", f"Dear {NAME}\x00\n".encode(), "NUL bytes"),
    ],
)
def test_unreadable_text_is_refused(name: str, data: bytes, reason: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnsupportedFile, match=reason) as caught:
        TextEngine().read(path, EngineLimits())
    assert NAME not in caught.value.message and "\n" not in caught.value.message


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_csv(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    # LibreOffice rewrites the table its own way: semicolons, every cell quoted.
    source = tmp_path / "in.csv"
    source.write_text(f'customer,note\n{NAME},"part {corpus.PART}; said ""hi"""\nOakridge,ok\n')
    (tmp_path / "out").mkdir()
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
            "--headless",
            "--infilter=CSV:44,34,76",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,true",
            "--outdir",
            str(tmp_path / "out"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    path = tmp_path / "out" / "in.csv"
    assert path.read_text(encoding="utf-8").startswith('"customer";"note"')
    result = run(path, detector, policy)
    assert result.ok and result.data is not None, result.report
    rows = list(csv.reader(io.StringIO(result.data.decode("utf-8"), newline=""), delimiter=";"))
    assert rows[0] == ["customer", "note"] and rows[2] == ["Oakridge", "ok"]
    assert NAME not in rows[1][0] and corpus.PART not in rows[1][1] and 'said "hi"' in rows[1][1]


def test_utf16_and_utf32_with_bom_keep_their_encoding(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    for codec, bom in (("utf-16-le", codecs.BOM_UTF16_LE), ("utf-32-le", codecs.BOM_UTF32_LE)):
        path = tmp_path / f"{codec}.txt"
        path.write_bytes(bom + "Dear K\u200be\u00adstrel Dynamics GmbH\n".encode(codec))
        result = run(path, detector, policy)
        assert result.ok and result.data is not None and result.data.startswith(bom)
        assert "kestrel" not in shown(result.data[len(bom) :].decode(codec))
