"""`exchange scan` through click's CliRunner and through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange.cli.base import cli

ROOT = Path(__file__).resolve().parents[3]
DOC = "KESTREL DYNAMICS ordered KD-1234-AB.\nOakridge Acoustics Ltd reviews. Müller Magnet too.\n"


@pytest.fixture
def files(tmp_path: Path, policy_text: str) -> dict[str, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text, encoding="utf-8")
    doc = tmp_path / "doc.txt"
    doc.write_text(DOC, encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("Nothing sensitive here.\n", encoding="utf-8")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Müller".encode("latin-1"))
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02\x03binary junk\x00" * 16)
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text(policy_text.replace("[CUSTOMER, TRADE_SECRET, PART_NUMBER]", "[CUSTOMERS]", 1))
    return {
        "policy": policy,
        "doc": doc,
        "other": other,
        "latin": latin,
        "binary": binary,
        "bad_policy": bad_policy,
    }


def test_cli_json_lines_for_one_recipient(files: dict[str, Path], detector: object) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            str(files["doc"]),
            str(files["other"]),
            "--policy",
            str(files["policy"]),
            "--recipient",
            "bureau",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["file"] for line in lines] == [str(files["doc"]), str(files["other"])]
    findings = lines[0]["findings"]
    for f in findings:
        assert {"entity_type", "start", "end", "text", "score", "recognizer", "decision"} <= set(f)
        assert DOC[f["start"] : f["end"]] == f["text"]
        assert f["decision"] in {"redact", "keep"}
    decisions = {f["text"]: f["decision"] for f in findings if f["entity_type"] == "CUSTOMER"}
    assert decisions["KESTREL DYNAMICS"] == "redact"
    assert decisions["Oakridge Acoustics Ltd"] == "keep"
    assert lines[1]["findings"] == []


def test_cli_json_without_recipient_and_table(files: dict[str, Path], detector: object) -> None:
    result = CliRunner().invoke(cli, ["scan", str(files["doc"]), "--policy", str(files["policy"]), "--json"])
    assert result.exit_code == 0
    finding = json.loads(result.output)["findings"][0]
    assert set(finding["decision"]) == {"bureau", "supplier"}
    table = CliRunner().invoke(cli, ["scan", str(files["doc"]), "--policy", str(files["policy"])])
    assert table.exit_code == 0
    assert "KESTREL DYNAMICS" in table.output
    assert "bureau=redact" in table.output


def test_cli_reads_latin1_text_in_its_own_encoding(files: dict[str, Path], detector: object) -> None:
    result = CliRunner().invoke(
        cli, ["scan", str(files["latin"]), "--policy", str(files["policy"]), "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.splitlines()[0])
    assert [f["text"] for f in record["findings"]] == ["Müller"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt"], "missing.txt: no such file"),
        (["{binary}"], "binary content"),
        (["{doc}", "--recipient", "press"], "unknown recipient 'press'"),
        (["{doc}", "--policy-override"], ""),
    ],
)
def test_cli_bad_input_exits_2(files: dict[str, Path], args: list[str], message: str) -> None:
    if "--policy-override" in args:
        argv = ["scan", str(files["doc"]), "--policy", str(files["bad_policy"])]
        message = "recipients.bureau.redact[0]: unknown entity type 'CUSTOMERS'"
    else:
        argv = [
            "scan",
            *[a.format(**{k: str(v) for k, v in files.items()}) for a in args],
            "--policy",
            str(files["policy"]),
        ]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
def test_subprocess_json_lines_and_exit_codes(files: dict[str, Path]) -> None:
    argv = [
        sys.executable,
        "-m",
        "exchange",
        "scan",
        str(files["doc"]),
        str(files["other"]),
        "--policy",
        str(files["policy"]),
        "--json",
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 2
    assert lines[0]["file"] == str(files["doc"])
    assert any(f["text"] == "KESTREL DYNAMICS" for f in lines[0]["findings"])

    bad = subprocess.run(
        [sys.executable, "-m", "exchange", "scan", str(files["binary"]), "--policy", str(files["policy"])],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


_NO_NETWORK = """
import socket, sys
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(address)
    raise OSError("network disabled by test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = lambda *a, **k: refuse(None, a)
import os, tempfile
home = tempfile.mkdtemp()
os.environ["HOME"] = home
os.environ["XDG_CACHE_HOME"] = os.path.join(home, "cache")
from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
policy = load_policy(open(sys.argv[1], encoding="utf-8").read())
found = Detector(policy).scan("Mail jane.doe@kestrel-dynamics.de about Kestrel Dynamics GmbH, John Smith.")
assert any(f.entity_type == "EMAIL_ADDRESS" for f in found), found
print("attempts", len(attempts))
written = [os.path.join(d, f) for d, _, fs in os.walk(home) for f in fs]
print("written", len(written))
"""


@pytest.mark.slow
def test_building_and_scanning_needs_no_network(files: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK, str(files["policy"])],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "attempts 0" in done.stdout
    assert "written 0" in done.stdout  # no tldextract cache, no model download


def test_cli_scans_pdf_pages(files: dict[str, Path], tmp_path: Path, detector: object) -> None:
    from reportlab.pdfgen import canvas

    pdf_path = tmp_path / "orders.pdf"
    pdf = canvas.Canvas(str(pdf_path))
    pdf.drawString(72, 700, "Cover page")
    pdf.showPage()
    pdf.drawString(72, 700, "Shipped to Kestrel Dynamics GmbH in May.")
    pdf.showPage()
    pdf.save()
    result = CliRunner().invoke(cli, ["scan", str(pdf_path), "--policy", str(files["policy"]), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[0])
    customers = [f for f in record["findings"] if f["entity_type"] == "CUSTOMER"]
    assert [f["page"] for f in customers] == [2]
    assert customers[0]["text"].startswith("Kestrel Dynamics")

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    result = CliRunner().invoke(cli, ["scan", str(broken), "--policy", str(files["policy"])])
    assert result.exit_code == 2
    assert "broken.pdf" in result.output and "Traceback" not in result.output
