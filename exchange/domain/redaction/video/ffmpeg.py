"""ffprobe and ffmpeg as child processes, bounded in time and memory.

Threat assumptions: the uploaded file is hostile. FFmpeg's demuxers and
decoders are a large body of C, so they only ever run in child processes: a
crash, a hang or a memory balloon ends that child, never the worker.

Invariants:

* Every run has a wall-clock limit. On expiry the child's whole process group
  is killed (``start_new_session``), and :class:`UnsupportedFile` says what
  took too long; a caller never mistakes "did not finish" for "found nothing".
* Children get a bounded address space (``prlimit --as``) where util-linux's
  ``prlimit`` exists; FFmpeg's own limits stay the second line.
* Inputs are opened with the demuxer family the sniffer chose (``mov`` or
  ``matroska``) and the ``file`` protocol only, so a file cannot steer FFmpeg
  to another demuxer (playlists or concat lists that open URLs or other files).
* Messages are fixed sentences: FFmpeg's stderr can quote metadata of the
  file (titles, names), so it is inspected but never repeated.
* Decoded frames travel through a pipe as raw grey pixels; no plaintext frame
  is written to disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from exchange.domain.errors import UnsupportedFile

#: address space of one FFmpeg child: a base for code, threads and buffers ...
MEMORY_BASE = 2 * 2**30
#: ... plus this much per pixel of a frame (reference frames, lookahead, filters)
MEMORY_PER_PIXEL = 400
#: stderr kept from a child (it is only checked for being empty, never shown)
_STDERR_CAP = 64 * 1024


@cache
def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UnsupportedFile(f"video processing is not available on this server ({name} is not installed)")
    return path


@cache
def _prlimit() -> str | None:
    return shutil.which("prlimit")


def memory_limit(pixels: int) -> int:
    return MEMORY_BASE + MEMORY_PER_PIXEL * max(0, pixels)


def _argv(argv: Sequence[str], memory: int) -> list[str]:
    limiter = _prlimit()
    if limiter is None:
        return list(argv)
    return [limiter, f"--as={memory}", "--", *argv]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # communicate() rather than wait(): it also closes the pipes.
    proc.communicate()


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def clean(self) -> bool:
        """Exit status 0 and nothing on stderr (children run at ``-v error``)."""
        return self.returncode == 0 and not self.stderr.strip()


def run(argv: Sequence[str], *, timeout: float, what: str, memory: int = MEMORY_BASE) -> Completed:
    """A finished child; UnsupportedFile when it overran ``timeout`` (the caller judges its status)."""
    if timeout <= 0:
        raise UnsupportedFile(f"{what} did not start: the time allowed for this file is used up")
    proc = subprocess.Popen(  # noqa: S603  (argv built from fixed tool paths, no shell)
        _argv(argv, memory),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise UnsupportedFile(f"{what} took longer than {timeout:g} seconds") from None
    except BaseException:
        _kill(proc)
        raise
    return Completed(proc.returncode, out, err)


def probe(path: Path, demuxer: str, *, timeout: float) -> dict[str, Any]:
    """ffprobe's JSON for streams, format and chapters; UnsupportedFile when it cannot read the file."""
    argv = [
        tool("ffprobe"),
        "-v", "error",
        "-protocol_whitelist", "file",
        "-f", demuxer,
        "-show_streams", "-show_format", "-show_chapters",
        "-of", "json",
        "-i", str(path),
    ]  # fmt: skip
    done = run(argv, timeout=timeout, what="reading the video's structure")
    if done.returncode != 0:
        raise UnsupportedFile("the video is truncated or damaged (its structure cannot be read)")
    try:
        data = json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise UnsupportedFile("the video is truncated or damaged (its structure cannot be read)") from None
    if not isinstance(data, dict):
        raise UnsupportedFile("the video is truncated or damaged (its structure cannot be read)")
    return data


class FrameStream:
    """Raw grey frames of one video stream, sampled at ``fps`` from ``offset`` seconds.

    Iterate it for each frame's bytes (``width * height``). Afterwards
    :attr:`damaged` says whether FFmpeg reported any error; a run that
    overran ``deadline`` (a ``time.monotonic`` value) is killed and raises.
    """

    def __init__(
        self,
        path: Path,
        *,
        demuxer: str,
        stream_index: int,
        size: tuple[int, int],
        fps: float,
        offset: float,
        deadline: float,
        memory: int,
    ) -> None:
        self.size = size
        self.deadline = deadline
        self.damaged = False
        self.timed_out = False
        seek = ["-ss", f"{offset:.4f}"] if offset > 0 else []
        self.argv = [
            tool("ffmpeg"),
            "-nostdin", "-hide_banner", "-v", "error", "-xerror",
            "-threads", "1",
            "-protocol_whitelist", "file,pipe",
            "-f", demuxer,
            *seek,
            "-i", str(path),
            "-map", f"0:{stream_index}",
            "-an", "-sn", "-dn",
            # Timestamps from 0 so sample k is at offset + k / fps whatever the container's start.
            "-vf", f"setpts=PTS-STARTPTS,fps={fps:g},format=gray",
            "-f", "rawvideo", "pipe:1",
        ]  # fmt: skip
        self.memory = memory

    def __iter__(self) -> Iterator[bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise UnsupportedFile("decoding did not start: the time allowed for this file is used up")
        proc = subprocess.Popen(  # noqa: S603  (argv built from fixed tool paths, no shell)
            _argv(self.argv, self.memory),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if proc.stdout is None or proc.stderr is None:  # pipes were asked for above
            raise RuntimeError("ffmpeg started without pipes")
        errors = bytearray()
        stderr = proc.stderr

        def drain() -> None:
            # A full stderr pipe would block FFmpeg and look like a hang.
            for chunk in iter(lambda: stderr.read(4096), b""):
                if len(errors) < _STDERR_CAP:
                    errors.extend(chunk)

        def expire() -> None:
            self.timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        watchdog = threading.Timer(remaining, expire)
        watchdog.daemon = True
        watchdog.start()
        frame_bytes = self.size[0] * self.size[1]
        try:
            while True:
                frame = proc.stdout.read(frame_bytes)
                if len(frame) < frame_bytes:
                    if frame:
                        self.damaged = True  # a partial frame: FFmpeg stopped mid-write
                    break
                yield frame
        finally:
            watchdog.cancel()
            if proc.poll() is None and not self.timed_out:
                # The consumer stopped early (an error downstream): end the child now.
                expire()
                self.timed_out = False
            proc.wait()
            drainer.join(timeout=5)
            proc.stdout.close()
            stderr.close()
        if self.timed_out:
            raise UnsupportedFile("decoding the video took longer than the time allowed for this file")
        if proc.returncode != 0 or errors.strip():
            self.damaged = True
