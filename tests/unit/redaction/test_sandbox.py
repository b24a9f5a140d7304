"""The sandbox on real children: crashes, limits, deadlines, confinement, answers."""

from __future__ import annotations

import ctypes
import os
import pathlib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from exchange.domain.errors import PolicyError, UnsupportedFile
from exchange.domain.redaction.sandbox import (
    INTERNAL_ERROR,
    SandboxLimits,
    inside_sandbox,
    landlock_abi,
    run_sandboxed,
)

FAST = SandboxLimits(memory_bytes=512 * 2**20, cpu_seconds=1, open_files=64, wall_seconds=20)


def _run(fn: object, workdir: Path, limits: SandboxLimits = FAST) -> object:
    return run_sandboxed(fn, limits=limits, workdir=workdir).value  # type: ignore[arg-type]


def _segfault() -> None:
    ctypes.string_at(0)


def _allocate() -> int:
    return len(bytearray(2 * 2**30))


def _spin() -> None:
    while True:
        pass


def _open_many() -> int:
    return len([open(os.devnull, encoding="ascii") for _ in range(500)])


def _unsupported() -> None:
    raise UnsupportedFile("the PDF is damaged beyond repair")


def _policy_error() -> None:
    raise PolicyError("must be a list", field="recipients.bureau.redact")


def _value_error() -> None:
    raise ValueError("Kestrel Dynamics GmbH\nsecond line")


def test_a_result_comes_back_with_the_confinement_facts(tmp_path: Path) -> None:
    run = run_sandboxed(lambda a, b: {"sum": a + b, "pid": os.getpid()}, 2, 3, limits=FAST, workdir=tmp_path)
    assert run.value["sum"] == 5
    assert run.value["pid"] != os.getpid()
    assert run.confinement["sandbox"] == "process"
    assert run.confinement["limits"]["open_files"] == 64
    assert run.confinement["landlock"].startswith(("enforced", "unavailable"))
    assert not inside_sandbox()


def test_large_outputs_travel_as_files_and_are_cleaned_up(tmp_path: Path) -> None:
    data = os.urandom(9 * 2**20)
    value = _run(lambda: [data, b"small"], tmp_path)
    assert value == [data, b"small"]
    assert not list(tmp_path.glob(".sandbox-out-*"))


def test_a_segfault_fails_the_file_with_the_signal(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match=r"^the file made the parser crash \(signal 11\)$"):
        _run(_segfault, tmp_path)


def test_memory_past_the_limit(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match=r"^the file needed more memory than allowed$"):
        _run(_allocate, tmp_path)
    # The same allocation passes with room for it: the limit, not the function, failed it.
    # Generous time: touching 2 GiB can take seconds of CPU on a busy machine, and time is not under test.
    roomy = SandboxLimits(memory_bytes=3 * 2**30, cpu_seconds=60, wall_seconds=120)
    assert _run(_allocate, tmp_path, roomy) == 2 * 2**30


def test_cpu_past_the_limit(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(UnsupportedFile, match=r"more processing time than allowed \(1 CPU seconds\)"):
        _run(_spin, tmp_path)
    assert time.monotonic() - started < 10


def _sleep_with_grandchild() -> None:
    child = subprocess.Popen(["sleep", "1000"])
    Path("grandchild.pid").write_text(str(child.pid))
    time.sleep(1000)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}  # killed, waiting for init to reap it


def test_the_wall_clock_kills_the_whole_group(tmp_path: Path) -> None:
    limits = SandboxLimits(cpu_seconds=5, wall_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(UnsupportedFile, match=r"^the file took longer than 1\.5 seconds to process$"):
        _run(_sleep_with_grandchild, tmp_path, limits)
    assert time.monotonic() - started < 8
    pid = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the grandchild `sleep 1000` survived the sandbox"


def _write_outside(target: str) -> str:
    Path("inside.txt").write_text("allowed")
    Path("tmp/also-inside.txt").write_text("allowed")
    try:
        Path(target).write_text("escaped")
    except PermissionError:
        return "denied"
    return "written"


@pytest.mark.skipif(landlock_abi() < 1, reason="Landlock is unavailable here: writes are not confined")
def test_writes_outside_the_workdir_are_denied(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside.txt"
    assert _run(lambda: _write_outside(str(outside)), work) == "denied"
    assert not outside.exists()
    assert (work / "inside.txt").read_text() == "allowed"
    assert (work / "tmp" / "also-inside.txt").read_text() == "allowed"


@pytest.mark.skipif(landlock_abi() < 4, reason="Landlock below ABI 4 does not restrict TCP")
def test_tcp_connections_are_denied(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def connect() -> str:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except PermissionError:
                return "denied"
            return "connected"

        assert _run(connect, tmp_path) == "denied"


def test_inherited_sockets_are_cut_off(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        # The child writes to a descriptor it inherited, as a compromised parser would to a database socket.
        _run(lambda: os.write(theirs.fileno(), b"leak"), tmp_path)
        ours.setblocking(False)
        with pytest.raises(BlockingIOError):
            ours.recv(16)


def test_too_many_open_files(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match=r"^the file needed more open files than allowed$"):
        _run(_open_many, tmp_path)


def test_a_domain_error_keeps_its_class_and_message(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile) as caught:
        _run(_unsupported, tmp_path)
    assert type(caught.value) is UnsupportedFile
    assert caught.value.message == "the PDF is damaged beyond repair"
    with pytest.raises(PolicyError) as policy:
        _run(_policy_error, tmp_path)
    assert policy.value.message == "recipients.bureau.redact: must be a list"


def test_any_other_error_is_one_line_without_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile) as caught:
        _run(_value_error, tmp_path)
    assert caught.value.message == INTERNAL_ERROR
    assert "\n" not in str(caught.value) and "Kestrel" not in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_the_parent_refuses_classes_outside_the_domain(tmp_path: Path) -> None:
    # A compromised child answering with an arbitrary class must not get it built in the parent.
    with pytest.raises(UnsupportedFile, match=f"^{INTERNAL_ERROR}$"):
        _run(lambda: pathlib.PurePosixPath("/etc/passwd"), tmp_path)


def test_sandboxes_do_not_nest(tmp_path: Path) -> None:
    def outer() -> tuple[int, int, dict[str, object], bool]:
        inner = run_sandboxed(os.getpid, limits=FAST, workdir=Path.cwd())
        return inner.value, os.getpid(), inner.confinement, inside_sandbox()

    inner_pid, outer_pid, confinement, inside = _run(outer, tmp_path)  # type: ignore[misc]
    assert inside and inner_pid == outer_pid != os.getpid()
    assert "nested" in confinement["sandbox"]
