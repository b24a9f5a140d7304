"""The sandboxed pipeline with real engines, a real detector and a real worker."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction import pipeline
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.sandbox import SandboxLimits

POLICY = """version: 1
name: sandbox
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau: {redact: [CUSTOMER, TRADE_SECRET], style: label, keep: ["Oakridge Acoustics Ltd"]}
  supplier: {redact: [CUSTOMER, TRADE_SECRET, PERSON]}
"""

TEXT = (
    "Order 41 for Kestrel Dynamics GmbH, shipped via Oakridge Acoustics Ltd.\n"
    "Process: grain boundary diffusion. Contact: John Smith.\n"
    "KESTREL DYNAMICS confirms the end use.\n"
)

LIMITS = EngineLimits(ocr_workers=1, max_seconds_per_file=120)
#: room for a text file, not for a 100-megapixel image
TIGHT = SandboxLimits(memory_bytes=300 * 2**20, cpu_seconds=60)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "order.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def pixel_bomb(path: Path) -> Path:
    # 100 megapixels of white: 120 KB as PNG, about 100 MB decoded, more once OCR starts.
    Image.new("L", (10_000, 10_000), 255).save(path, optimize=True)
    return path


def test_sandboxed_redaction_equals_in_process(detector: Detector, policy: Policy, text_file: Path) -> None:
    state = Labeller().state()
    sandboxed = RecipientPlanner(detector, policy, Labeller(state))
    outcome = pipeline.redact_document(text_file, "text/plain", sandboxed, ["bureau", "supplier"], LIMITS)

    local = RecipientPlanner(detector, policy, Labeller(state))
    document = pipeline._read(text_file, "text/plain", local, LIMITS)
    expected = pipeline._redact(document, local, ["bureau", "supplier"])

    assert outcome.media_type == expected.media_type
    assert outcome.findings == expected.findings and outcome.findings
    for recipient in ("bureau", "supplier"):
        got, want = outcome.results[recipient], expected.results[recipient]
        assert got.ok and got.data is not None
        assert (got.data, got.report, got.leaks, got.media_type) == (
            want.data,
            want.report,
            want.leaks,
            want.media_type,
        )
    assert b"Kestrel" not in outcome.results["bureau"].data  # type: ignore[operator]
    assert b"[CUSTOMER-1]" in outcome.results["bureau"].data  # type: ignore[operator]
    assert {k: v for k, v in outcome.facts.items() if k != "sandbox"} == expected.facts

    # Labels come back: the caller's planner holds the child's labeller state.
    assert sandboxed.labeller.state() == local.labeller.state()
    assert sandboxed.labeller.state()["next"].get("CUSTOMER") == 1
    # So do the findings: the planner answers as if it had scanned the file itself.
    assert pipeline.located_findings(sandboxed) == pipeline.located_findings(local)
    assert sandboxed.redact_name("Kestrel Dynamics GmbH order", "bureau") == "[CUSTOMER-1] order"

    confinement = outcome.facts["sandbox"]
    assert confinement["sandbox"] == "process"
    assert confinement["landlock"].startswith(("enforced", "unavailable"))


def test_labels_carry_from_file_to_file(detector: Detector, policy: Policy, tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Shipped by Oakridge Acoustics Ltd to Kestrel Dynamics GmbH.\n")
    second.write_text("Kestrel Dynamics GmbH paid.\n")
    planner = RecipientPlanner(detector, policy)
    pipeline.redact_document(first, "text/plain", planner, ["bureau"], LIMITS)
    # The worker's pattern once wired: the next file's planner starts from this planner's labeller.
    following = RecipientPlanner(detector, policy, planner.labeller)
    outcome = pipeline.redact_document(second, "text/plain", following, ["bureau"], LIMITS)
    assert outcome.results["bureau"].data == b"[CUSTOMER-1] paid.\n"


def test_read_document_leaves_the_findings_with_the_planner(
    detector: Detector, policy: Policy, text_file: Path
) -> None:
    planner = RecipientPlanner(detector, policy)
    document = pipeline.read_document(text_file, "text/plain", planner, LIMITS)
    local = RecipientPlanner(detector, policy)
    expected = pipeline._read(text_file, "text/plain", local, LIMITS)
    assert document.units == expected.units
    for recipient in (None, "bureau", "supplier"):
        rows = pipeline.located_findings(planner, recipient)
        assert rows == pipeline.located_findings(local, recipient) and rows
    assert "sandbox" in document.facts


def test_a_pixel_bomb_fails_alone_and_the_next_file_goes_on(
    detector: Detector, policy: Policy, text_file: Path, tmp_path: Path
) -> None:
    bomb = pixel_bomb(tmp_path / "bomb.png")
    planner = RecipientPlanner(detector, policy)
    started = time.monotonic()
    with pytest.raises(UnsupportedFile) as caught:
        pipeline.redact_document(bomb, "image/png", planner, ["bureau"], LIMITS, sandbox=TIGHT)
    assert time.monotonic() - started < 60
    message = caught.value.message
    assert "\n" not in message and "Traceback" not in message
    assert "memory" in message, message
    # Same process, same limits: a good file is processed.
    outcome = pipeline.redact_document(
        text_file, "text/plain", RecipientPlanner(detector, policy), ["bureau"], LIMITS, sandbox=TIGHT
    )
    assert outcome.results["bureau"].ok


def test_a_deadline_fails_the_file_with_a_reason(detector: Detector, policy: Policy, tmp_path: Path) -> None:
    # A real scan that takes its time (OCR of a large page) against a tiny wall clock.
    bomb = pixel_bomb(tmp_path / "slow.png")
    limits = EngineLimits(ocr_workers=1, max_seconds_per_file=0.5)
    started = time.monotonic()
    with pytest.raises(UnsupportedFile, match=r"^the file took longer than 0\.5 seconds to process$"):
        pipeline.redact_document(bomb, "image/png", RecipientPlanner(detector, policy), ["bureau"], limits)
    assert time.monotonic() - started < 10


# -- the real worker -----------------------------------------------------------


@pytest.fixture
def tight_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, dict[str, str]]]:
    """A worker of its own whose sandbox has room for a text file only."""
    import redis

    from exchange.models.database import upgrade
    from exchange.settings import Settings
    from tests.conftest import REDIS_BASE, _start_worker, _wait_ready, secret_env

    instance = tmp_path_factory.mktemp("instance-sandbox")
    # Database 15 is outside the pairs conftest hands out, so the shared workers never see these tasks.
    redis_url = f"{REDIS_BASE}/15"
    redis.Redis.from_url(redis_url).flushdb()
    env = secret_env(instance, f"sqlite:///{instance / 'exchange.sqlite3'}", redis_url)
    env["EXCHANGE_SANDBOX_MEMORY_MB"] = "300"
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    log_path = instance / "worker.log"
    worker = _start_worker(env, f"test-sandbox-{os.getpid()}", log_path)
    try:
        _wait_ready(log_path, worker)
        yield settings, {"log": str(log_path), "worker": worker}  # type: ignore[dict-item]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.integration
def test_worker_fails_the_bomb_keeps_the_good_file_and_serves_the_next_case(
    tight_worker: tuple[object, dict[str, object]], tmp_path: Path
) -> None:
    from exchange import create_app
    from tests.seed import new_case, seed_world

    settings, handles = tight_worker
    worker = handles["worker"]
    app = create_app(settings)  # type: ignore[arg-type]
    client = app.test_client()
    world = seed_world(settings)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {world.applicant.token}"}
    robust = POLICY

    def upload(case_id: str, name: str, data: bytes) -> None:
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=headers,
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()

    def settle(case_id: str) -> dict[str, object]:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            body = client.get(f"/api/v1/cases/{case_id}", headers=headers).get_json()
            if body["status"] in {"failed", "review"}:
                return body  # type: ignore[no-any-return]
            time.sleep(0.3)
        pytest.fail("case stuck:\n" + Path(str(handles["log"])).read_text(errors="replace")[-4000:])

    try:
        case_id = new_case(client, world, "hostile", robust)
        upload(case_id, "good.txt", b"Order for Kestrel Dynamics GmbH.\n")
        upload(case_id, "bomb.png", pixel_bomb(tmp_path / "bomb.png").read_bytes())
        assert client.post(f"/api/v1/cases/{case_id}/submit", headers=headers).status_code == 202
        body = settle(case_id)
        files = {f["name"]: f for f in body["files"]}  # type: ignore[attr-defined]
        assert files["good.txt"]["status"] == "processed"
        assert files["bomb.png"]["status"] == "failed"
        assert "memory" in files["bomb.png"]["error"] and "\n" not in files["bomb.png"]["error"]
        assert worker.poll() is None, "the worker died"  # type: ignore[attr-defined]

        following = new_case(client, world, "next", robust)
        upload(following, "next.txt", b"Kestrel Dynamics GmbH again.\n")
        assert client.post(f"/api/v1/cases/{following}/submit", headers=headers).status_code == 202
        assert settle(following)["status"] == "review"
    finally:
        app.extensions["exchange"].database.dispose()


def test_a_leak_comes_back_as_plain_data(
    detector: Detector, policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker's parent process has not imported the PDF engine: a leak described by an
    # engine's own class would be refused at the sandbox border and read as an internal error.
    from tests.corpus.pdf import producer_reportlab

    def forgetful(self, findings, recipient):  # type: ignore[no-untyped-def]
        return []  # fault injection: nothing is redacted, so verification must find the leak

    monkeypatch.setattr(RecipientPlanner, "redactions", forgetful)
    pdf = producer_reportlab.simple(tmp_path)
    outcome = pipeline.redact_document(
        pdf, "application/pdf", RecipientPlanner(detector, policy), ["supplier"], LIMITS
    )
    result = outcome.results["supplier"]
    assert not result.ok and result.data is None
    assert result.leaks and all(isinstance(leak, dict) for leak in result.leaks)
    assert "verification found redacted content" in result.report["withheld"]
