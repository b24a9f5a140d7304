"""`exchange redact` end to end with the real detection engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange.cli.redact import redact
from tests.corpus.pdf import SECRET, producer_handmade, producer_reportlab
from tests.integration.pdf.conftest import assert_absent, pdftotext

POLICY = """\
version: 1
name: cli test
terms:
  customers: ["Kestrel Dynamics GmbH"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET]
    style: label
    mode: rasterize
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_redact_mixed_inputs(policy: Path, tmp_path: Path) -> None:
    good = producer_reportlab.simple(tmp_path)
    unmappable = producer_handmade.unmappable(tmp_path)
    garbage = producer_handmade.garbage(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text(f"Order for {SECRET} GmbH.\n", encoding="utf-8")
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        redact,
        [
            str(good),
            str(unmappable),
            str(garbage),
            str(text),
            "--policy",
            str(policy),
            "--recipient",
            "bureau",
            "--out",
            str(out),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert any("bad_garbage.pdf" in e for e in errors)
    assert "Traceback" not in result.output
    # The unmappable page cannot be redacted surgically: it is rasterized, OCR'd and boxed instead.
    assert sorted(p.name for p in out.iterdir()) == [
        "hand_unmappable.pdf",
        "notes.txt",
        "reportlab_simple.pdf",
    ]
    assert_absent(SECRET, out / "hand_unmappable.pdf", tmp_path)
    assert_absent(SECRET, out / "reportlab_simple.pdf", tmp_path)
    assert "turbine" in pdftotext(out / "reportlab_simple.pdf")
    assert SECRET not in (out / "notes.txt").read_text(encoding="utf-8")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [f["status"] for f in data["files"]] == ["ok", "ok", "bad_input", "ok"]
    unmappable_pages = data["files"][1]["report"]["pages"]
    assert [p["status"] for p in unmappable_pages] == ["rasterized"]
    assert "Kestrel" not in report.read_text(encoding="utf-8")


def test_rasterize_recipient_with_labels(policy: Path, tmp_path: Path) -> None:
    good = producer_reportlab.simple(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        redact, [str(good), "--policy", str(policy), "--recipient", "supplier", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert_absent(SECRET, out / good.name, tmp_path)


def test_leak_exits_3_and_writes_nothing(
    policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.domain.detection.planner import RecipientPlanner

    def forgetful(self, findings, recipient):  # type: ignore[no-untyped-def]
        return []  # the plan still collects the sensitive values, but "forgets" to redact anything

    # Fault injection: a planner that redacts nothing must be caught by verification.
    monkeypatch.setattr(RecipientPlanner, "redactions", forgetful)
    good = producer_reportlab.simple(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        redact, [str(good), "--policy", str(policy), "--recipient", "bureau", "--out", str(out)]
    )
    assert result.exit_code == 3
    assert "verification found redacted content on page(s) 1" in result.stderr
    assert list(out.iterdir()) == []
    assert "Kestrel" not in result.output


def test_unknown_recipient(policy: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        redact, ["x.pdf", "--policy", str(policy), "--recipient", "nobody", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "unknown recipient" in result.stderr


def test_hidden_text_is_reported_as_a_warning(policy: Path, tmp_path: Path) -> None:
    from tests.corpus.pdf.producer_hidden import HIDDEN, TRICKS, trick_pages

    src = trick_pages(tmp_path, {k: TRICKS[k] for k in ("white_rgb", "clipped_away")}, "tricks")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        redact, [str(src), "--policy", str(policy), "--recipient", "bureau", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "page(s) 1, 2" in result.stderr
    assert HIDDEN not in result.stderr
    assert_absent(HIDDEN, out / "tricks.pdf", tmp_path)
