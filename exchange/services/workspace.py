"""Private, short-lived working directories for background jobs.

Plaintext of uploaded files exists only inside one of these while a job runs:
created with mode 0700 and removed when the job ends, whatever the outcome.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def private_workspace(prefix: str = "exchange-job-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        path = Path(name)
        path.chmod(0o700)
        yield path
