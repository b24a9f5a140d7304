"""Private, short-lived working directories for background jobs.

Plaintext of uploaded files exists only inside one of these while a job runs:
created with mode 0700 and removed when the job ends, whatever the outcome.

A job killed outright (SIGKILL, OOM) cannot remove its own directory, so the
owning process id is part of the name (``exchange-job-<pid>-...``): workers
remove at start, and the reconciler on every pass, the directories whose
owner is dead, and never one of a live process (two workers on one machine
share the temporary directory).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "exchange-job-"


@contextmanager
def private_workspace(prefix: str = PREFIX) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as name:
        path = Path(name)
        path.chmod(0o700)
        yield path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def reap_stale_workspaces(root: Path | None = None, prefix: str = PREFIX) -> int:
    """Remove workspaces whose owning process is dead; the number removed."""
    base = Path(root or tempfile.gettempdir())
    removed = 0
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(prefix) or entry.is_symlink() or not entry.is_dir():
            continue
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue  # an old-style name without a pid: its owner cannot be told apart
        if entry.stat().st_uid != os.getuid() or _alive(int(pid_text)):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed
