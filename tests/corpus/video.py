"""Generated test videos: short clips drawn by FFmpeg itself, with what cameras leave behind.

Nothing here is committed as a binary: each function renders its clip into a
directory at test time with ``ffmpeg -f lavfi``. A clip shows a customer name
for part of its length and a harmless line throughout, and carries a sine
audio track, container tags (location, creation time, title, make), and on
request subtitles, timecode data tracks and a cover picture that all repeat
the name. Clips are short and small: OCR is the slow part of every test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

CUSTOMER = "Kestrel Dynamics GmbH"
#: shown throughout every clip; must survive redaction
HARMLESS = "Turbine assembly line"
LOCATION = "+52.5200+013.4000/"
CREATION = "2024-05-01T10:00:00Z"
MAKE = "KestrelCam"
#: seconds during which the name is on screen (default clip)
SHOWN = (1.0, 3.0)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def _text(text: str, *, y: int, size: int = 32, x: str = "40", enable: str | None = None) -> str:
    escaped = text.replace(":", r"\:")
    out = f"drawtext=fontfile={DEJAVU}:text='{escaped}':x={x}:y={y}:fontsize={size}:fontcolor=black"
    return out + (f":enable='{enable}'" if enable else "")


def clip(
    directory: Path,
    name: str,
    *,
    seconds: float = 4.0,
    size: str = "640x360",
    moving: bool = False,
    audio: bool = True,
    tags: bool = True,
    subtitles: bool = False,
    timecode: bool = False,
    cover: bool = False,
    faststart: bool = False,
) -> Path:
    """A clip named ``name``; its suffix (.mp4, .mov, .m4v, .webm) picks the container.

    The name is shown during :data:`SHOWN` (or, with ``moving``, crawls
    right at 60 px/s for the whole clip); :data:`HARMLESS` is shown throughout.
    """
    path = directory / name
    suffix = path.suffix
    if moving:
        shown = _text(CUSTOMER, y=80, x="20+60*t")
    else:
        shown = _text(CUSTOMER, y=80, enable=f"between(t,{SHOWN[0]},{SHOWN[1]})")
    inputs = ["-f", "lavfi", "-i", f"color=c=white:s={size}:d={seconds}:r=25"]
    maps = ["-map", "0:v"]
    codecs: list[str] = ["-vf", f"{shown},{_text(HARMLESS, y=220)}"]
    if suffix == ".webm":
        codecs += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "30"]
    else:
        codecs += ["-c:v:0", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
        maps += ["-map", f"{_count(inputs) - 1}:a"]
        codecs += ["-c:a", "libopus" if suffix == ".webm" else "aac"]
    if subtitles:
        srt = directory / f"{path.stem}.srt"
        srt.write_text(f"1\n00:00:00,000 --> 00:00:03,000\n{CUSTOMER} order 41\n", encoding="utf-8")
        inputs += ["-i", str(srt)]
        maps += ["-map", f"{_count(inputs) - 1}:s"]
        codecs += ["-c:s", "webvtt" if suffix == ".webm" else "mov_text"]
    if cover:
        picture = directory / f"{path.stem}-cover.png"
        _ffmpeg(
            "-f", "lavfi", "-i", "color=c=white:s=320x80:d=1",
            "-vf", _text(CUSTOMER, y=25, size=20, x="10"), "-frames:v", "1", str(picture),
        )  # fmt: skip
        inputs += ["-i", str(picture)]
        maps += ["-map", f"{_count(inputs) - 1}:v"]
        codecs += ["-c:v:1", "png", "-disposition:v:1", "attached_pic"]
    meta: list[str] = []
    if tags:
        meta += ["-metadata", f"location={LOCATION}", "-metadata", f"creation_time={CREATION}"]
        meta += ["-metadata", f"title={CUSTOMER} visit", "-metadata", f"comment=made for {CUSTOMER}"]
        if suffix == ".mov":
            meta += ["-metadata", f"com.apple.quicktime.location.ISO6709={LOCATION}"]
            meta += ["-metadata", f"com.apple.quicktime.make={MAKE}", "-movflags", "use_metadata_tags"]
    if timecode:
        meta += ["-timecode", "01:00:00:00"]
    if faststart:
        meta += ["-movflags", "+faststart"]
    fmt = {".mov": "mov", ".webm": "webm", ".m4v": "ipod"}.get(suffix, "mp4")
    _ffmpeg(*inputs, *maps, *codecs, *meta, "-t", str(seconds), "-f", fmt, str(path))
    return path


def _count(inputs: list[str]) -> int:
    return inputs.count("-i")


def truncated(source: Path, directory: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source``'s bytes, as an upload cut off in transit."""
    data = source.read_bytes()
    path = directory / f"truncated-{source.name}"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def audio_only_mp4(directory: Path) -> Path:
    """An ISO-BMFF file with brand ``isom`` and a sine track but no picture."""
    path = directory / "audio-only.mp4"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac", "-f", "mp4", str(path))
    return path


def m4a(directory: Path) -> Path:
    """An AAC file in an M4A container (brand "M4A "): not a video."""
    path = directory / "voice.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac", "-f", "ipod", str(path))
    return path


def matroska(directory: Path) -> Path:
    """A Matroska (not WebM) file: DocType "matroska"."""
    path = directory / "clip.mkv"
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=white:s=320x180:d=1:r=10",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "matroska", str(path),
    )  # fmt: skip
    return path


#: FFmpeg filters that turn a clip's picture: text upside down, or running top to bottom /
#: bottom to top (a portrait frame of a landscape shot)
TURNS = {"upside-down": "hflip,vflip", "top-to-bottom": "transpose=1", "bottom-to-top": "transpose=2"}


def turned(source: Path, directory: Path, how: str) -> Path:
    """``source``'s picture turned by the filter :data:`TURNS` names, re-encoded by FFmpeg (video only)."""
    path = directory / f"{how}-{source.stem}.mp4"
    _ffmpeg(
        "-i", str(source), "-map", "0:v", "-vf", TURNS[how],
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-f", "mp4", str(path),
    )  # fmt: skip
    return path
