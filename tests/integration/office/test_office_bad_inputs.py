"""Hostile Office files: each is refused with one line, in bounded time and memory.

Each input is read in a child process so its peak memory is measured alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.corpus import office as corpus

ROOT = Path(__file__).resolve().parents[3]
#: peak resident memory of the child reading one hostile file (imports included)
MAX_RSS_MB = 400
MAX_SECONDS = 30

_CHILD = """
import json, sys
from pathlib import Path
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.office.docx import DocxEngine
try:
    DocxEngine().read(Path(sys.argv[1]), EngineLimits(ocr_languages="eng"))
    message = None
except UnsupportedFile as exc:
    message = exc.message
# VmHWM belongs to this process image; ru_maxrss would carry the forking parent's peak over exec.
status = Path("/proc/self/status").read_text()
peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
print(json.dumps({"message": message, "rss_mb": peak_kb / 1024}))
"""


@pytest.fixture(scope="session")
def plain_docx(office_dir: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("Plain text")
    path = office_dir / "plain.docx"
    document.save(str(path))
    return path


def read_in_child(path: Path) -> tuple[str | None, float, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    outcome = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return outcome["message"], outcome["rss_mb"], time.monotonic() - started


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("zip_bomb", "compression ratio"),
        ("entity_bomb", "declares a DTD"),
        ("traversal", "leaves its folder"),
        ("absolute", "absolute path"),
        ("backslash", "forbidden name"),
        ("duplicate", "duplicate entries"),
        ("symlink", "symbolic link"),
        ("encrypted", "password-protected"),
        ("cfb_header", "password-protected"),
        ("docm", "macro-enabled"),
    ],
)
def test_hostile_input_is_refused_with_one_line(
    plain_docx: Path, office_dir: Path, case: str, expected: str
) -> None:
    out = office_dir / f"bad-{case}.docx"
    makers = {
        "zip_bomb": lambda: corpus.zip_bomb_docx(plain_docx, out),
        "entity_bomb": lambda: corpus.entity_bomb_docx(plain_docx, out),
        "traversal": lambda: corpus.traversal_docx(plain_docx, out, "../../etc/evil.xml"),
        "absolute": lambda: corpus.traversal_docx(plain_docx, out, "/tmp/evil.xml"),
        "backslash": lambda: corpus.traversal_docx(plain_docx, out, "..\\..\\evil.xml"),
        "duplicate": lambda: corpus.duplicate_docx(plain_docx, out),
        "symlink": lambda: corpus.symlink_docx(plain_docx, out),
        "encrypted": lambda: corpus.encrypted_docx(plain_docx, out),
        "cfb_header": lambda: out.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096),
        "docm": lambda: corpus.docm(plain_docx, out),
    }
    makers[case]()
    message, rss_mb, seconds = read_in_child(out)
    assert message is not None, case
    assert expected in message
    assert "\n" not in message
    assert "Kestrel" not in message
    assert rss_mb < MAX_RSS_MB, rss_mb
    assert seconds < MAX_SECONDS, seconds


def test_plain_docx_is_accepted_by_the_same_child(plain_docx: Path) -> None:
    message, _rss, _seconds = read_in_child(plain_docx)
    assert message is None
