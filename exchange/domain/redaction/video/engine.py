"""The video engine: MP4, QuickTime, M4V and WebM footage (of production lines, mostly).

``read`` samples the picture at :data:`DEFAULT_SAMPLE_FPS` frames per second,
OCRs every sample and hands the texts (and the container's metadata values)
to the detector. ``redact`` turns what the plan finds into opaque boxes held
over spans of time (:mod:`.timeline`), burns them in while re-encoding the
one video stream, and verifies the written file by probing it and OCR-ing it
again at another rate and offset.

Threat assumptions: the file may be hostile (truncated, damaged, crafted to
hang or balloon the decoder, absurd dimensions or durations); FFmpeg runs in
bounded child processes only (:mod:`.ffmpeg`). The recipient may inspect every
byte: blurs, audio, subtitles, timed-metadata tracks (GPS, GPMF), cover
pictures, chapter titles and container tags are all leaks.

Invariants:

* Limits (duration, frame pixels, sample count, size in bytes, one deadline
  for the whole file) are checked on ffprobe's facts before any frame is
  decoded; every failure becomes :class:`UnsupportedFile` with one line.
* Only the first real video stream is ever written. Audio is always dropped,
  since no offline speech recognition reads it here and nothing may leave
  unread; so are subtitles, data tracks, attachments, chapters and every tag.
* Covers are solid black (``drawbox`` with ``t=fill``), never blurred, and held
  at least one sample interval before and after each sample they were seen in.
* Fail closed: ``data`` is set only when the written file has exactly one
  video stream, no tags beyond the muxer's own (:data:`ALLOWED_FORMAT_TAGS`,
  :data:`ALLOWED_STREAM_TAGS`), the source's duration, and (when pixels are
  redacted) no sensitive value in an OCR of its frames sampled at
  :data:`VERIFY_RATE_FACTOR` times the reading rate, from :data:`VERIFY_OFFSET` of its
  interval in.
  An OCR that cannot run withholds.
* Reading and verification OCR every sampled frame whole. Frames go to Tesseract in
  batches of :func:`batch_size` frames, one batch per OCR worker at a time, to readers
  that stay loaded (:func:`~exchange.domain.redaction.image.ocr.ocr_batch`); each frame
  is read as it would be alone, and a batch that does not return every frame fails the
  file like a failed run.
* Plaintext stays in the job's directory (the source file's): frames are piped,
  and the only files written (filter script, output) sit in a private
  subdirectory that is removed whatever happens.

Text turned a quarter or half turn: one upright pass already reads text
running bottom to top; a frame whose upright reading holds a doubtful word
(what text upside down or top to bottom looks like to Tesseract) is read again
turned 90, 270 and 180 degrees (:data:`~exchange.domain.redaction.image.ocr.QUARTER_TURNS`),
in reading and in verification alike. Frames without words, or whose words are
all read surely, cost no extra run.

Known limits: text on screen for less than one sample interval may be missed by
both samplings; text at other angles (a slanted label) is not searched for per
frame as the image engine does (that costs a dozen runs per sample), so it is
only flagged ``needs_review`` through its low OCR confidence; a frame whose
words are all read surely is not turned, so a small sideways label that
Tesseract skips beside upright captions goes unread; speech is
never transcribed, hence removed.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    count_types,
    new_report,
    withheld,
)
from exchange.domain.redaction.image.engine import confidence_facts
from exchange.domain.redaction.image.ocr import QUARTER_TURNS, Box, OcrResult, check_languages, ocr_batch
from exchange.domain.redaction.image.pixels import cover, pixel_digest
from exchange.domain.redaction.text import find_leaks
from exchange.domain.redaction.video import ffmpeg
from exchange.domain.redaction.video.sniff import sniff_video
from exchange.domain.redaction.video.timeline import CoverSpan, even_outwards, plan_covers

#: samples per second read by OCR (an ``EngineLimits.video_sample_fps`` overrides it)
DEFAULT_SAMPLE_FPS = 2.0
#: the verifier samples this many times as often as reading did
VERIFY_RATE_FACTOR = 1.5
#: ... starting this fraction of its own interval in. With the rates 2:3, samples at k/2 and
#: (j + 1/4)/3 seconds never meet (4j + 1 = 6k has no solution in integers), so every verified
#: frame is one reading did not see; from half an interval in, every third one was
VERIFY_OFFSET = 0.25
#: longest video accepted, seconds (an ``EngineLimits.video_max_seconds`` overrides it)
DEFAULT_MAX_SECONDS = 600.0
#: seconds ffprobe may take (it reads headers and indexes only)
PROBE_TIMEOUT = 30.0
#: pixels added around a cover beyond the image engine's margin: lossy coding smears edges
EXTRA_MARGIN = 2
#: luma a "removed" frame may reach and still count as black (coding noise)
BLACK_LUMA = 24
#: decoders FFmpeg may run on an upload; others are refused rather than exercised
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg"})
#: tags the muxers write themselves; anything else left in the output withholds it
ALLOWED_FORMAT_TAGS: dict[str, dict[str, str | None]] = {
    "mp4": {"major_brand": None, "minor_version": None, "compatible_brands": None},
    "webm": {"encoder": "Lavf"},
}
ALLOWED_STREAM_TAGS: dict[str, dict[str, str | None]] = {
    "mp4": {
        "language": "und",
        "handler_name": "VideoHandler",
        "vendor_id": "[0][0][0][0]",
        "encoder": "Lavc libx264",
    },
    "webm": {"ENCODER": "Lavc libvpx-vp9", "DURATION": None},
}
#: container tags that describe the encoding, not the footage (not worth the detector's time)
_TECHNICAL_TAGS = frozenset(
    {"major_brand", "minor_version", "compatible_brands", "vendor_id", "language", "duration"}
)
_OUTPUT = {"mp4": ("video/mp4", ".mp4", "h264"), "webm": ("video/webm", ".webm", "vp9")}
_ENCODER_THREADS = str(max(1, min(4, os.cpu_count() or 1)))
#: frames one batch holds at most. Readers stay loaded, so a batch costs nothing to start:
#: small ones let OCR begin as soon as the first frames are decoded and keep the workers
#: evenly loaded, and fewer decoded frames wait in memory for their batch
BATCH_FRAMES = 4
#: pixels one batch holds at most (7 frames of 1920x1080): about two scanned A4 pages at
#: 300 dpi, the size of run the image engine gives the same ``ocr_timeout``
BATCH_PIXELS = 16_000_000


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What ffprobe says about the input, checked against the limits."""

    stream_index: int
    codec: str
    #: displayed size (after the rotation FFmpeg applies when decoding)
    size: tuple[int, int]
    duration: float
    #: seconds one source frame is shown (for the sampler's rounding)
    frame_duration: float
    #: streams that are dropped, by kind: audio, subtitle, data, attachment, video
    dropped: dict[str, int]
    #: tag values and chapter titles, for the detector
    metadata: tuple[str, ...] = ()


@dataclass(slots=True)
class VideoDocument(SourceDocument):
    #: "mp4" (ISO-BMFF family, written as MP4/H.264) or "webm" (written as WebM/VP9)
    container: str = "mp4"
    info: VideoInfo | None = None
    sample_fps: float = DEFAULT_SAMPLE_FPS
    #: time in seconds of each sample, parallel to ``ocr``
    sample_times: list[float] = field(default_factory=list)
    ocr: list[OcrResult] = field(default_factory=list)
    #: pixel digest -> OCR of those pixels (still shots repeat frames)
    ocr_cache: dict[str, OcrResult] = field(default_factory=dict)
    limits: EngineLimits = field(default_factory=EngineLimits)
    #: ``time.monotonic`` value by which all work on this file must be done
    deadline: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _limit(limits: EngineLimits, name: str, default: float) -> float:
    value = getattr(limits, name)
    return float(value) if isinstance(value, int | float) and value > 0 else default


def _demuxer(container: str) -> str:
    return "matroska" if container == "webm" else "mov"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _ratio(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    num, _, den = value.partition("/")
    top, bottom = _number(num), _number(den)
    if top is None or not bottom:
        return None
    return top / bottom if top > 0 else None


def _clock(value: Any) -> float | None:
    """Matroska's per-track DURATION tag, "HH:MM:SS.nnnnnnnnn"."""
    if not isinstance(value, str) or value.count(":") != 2:
        return None
    hours, minutes, seconds = value.split(":")
    parts = (_number(hours), _number(minutes), _number(seconds))
    if any(p is None for p in parts):
        return None
    h, m, s = (p or 0.0 for p in parts)
    return h * 3600 + m * 60 + s


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or ():
        if isinstance(side, dict) and _number(side.get("rotation")) is not None:
            return int(_number(side.get("rotation")) or 0)
    return int(_number((stream.get("tags") or {}).get("rotate")) or 0)


def _tag_values(tags: Any) -> list[str]:
    if not isinstance(tags, dict):
        return []
    return [
        str(value)
        for key, value in tags.items()
        if str(key).lower() not in _TECHNICAL_TAGS and str(value).strip()
    ]


def video_info(data: dict[str, Any], limits: EngineLimits) -> VideoInfo:
    """Check ffprobe's JSON against the limits; the facts ``read`` and ``redact`` rely on."""
    streams = [s for s in data.get("streams") or () if isinstance(s, dict)]
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    assert isinstance(fmt, dict)  # noqa: S101  (narrowing for mypy)
    pictures = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    if not pictures:
        raise UnsupportedFile("the file has no video stream")
    stream = pictures[0]
    codec = str(stream.get("codec_name") or "")
    if codec not in ALLOWED_CODECS:
        raise UnsupportedFile(f"the video codec is not supported ({codec or 'unknown'})")
    width, height = int(_number(stream.get("width")) or 0), int(_number(stream.get("height")) or 0)
    if width <= 0 or height <= 0:
        raise UnsupportedFile("the video is truncated or damaged (no frame size)")
    if width * height > limits.max_image_pixels:
        raise UnsupportedFile(
            f"the video's frames are too large ({width}x{height}; "
            f"the limit is {limits.max_image_pixels / 1e6:.0f} megapixels)"
        )
    if _rotation(stream) % 180:
        width, height = height, width
    duration = (
        _number(stream.get("duration"))
        or _clock((stream.get("tags") or {}).get("DURATION"))
        or _number(fmt.get("duration"))
    )
    if not duration or duration <= 0:
        raise UnsupportedFile("the video is truncated or damaged (no duration)")
    max_seconds = _limit(limits, "video_max_seconds", DEFAULT_MAX_SECONDS)
    if duration > max_seconds:
        raise UnsupportedFile(f"the video is too long ({duration:.0f} s; the limit is {max_seconds:.0f} s)")
    fps = _limit(limits, "video_sample_fps", DEFAULT_SAMPLE_FPS)
    if duration * fps > limits.max_pages:
        raise UnsupportedFile(
            f"the video would need {duration * fps:.0f} OCR samples; the limit is {limits.max_pages}"
        )
    rate = _ratio(stream.get("avg_frame_rate")) or _ratio(stream.get("r_frame_rate")) or 25.0
    dropped: dict[str, int] = {}
    for other in streams:
        if other is stream:
            continue
        kind = str(other.get("codec_type") or "data")
        if kind == "video" and (other.get("disposition") or {}).get("attached_pic"):
            kind = "attachment"
        dropped[kind] = dropped.get(kind, 0) + 1
    metadata = _tag_values(fmt.get("tags"))
    for any_stream in streams:
        metadata += _tag_values(any_stream.get("tags"))
    for chapter in data.get("chapters") or ():
        if isinstance(chapter, dict):
            metadata += _tag_values(chapter.get("tags"))
    return VideoInfo(
        stream_index=int(stream.get("index", 0)),
        codec=codec,
        size=(width, height),
        duration=duration,
        frame_duration=min(0.5, max(0.01, 1.0 / rate)),
        dropped=dropped,
        metadata=tuple(dict.fromkeys(metadata)),
    )


def batch_size(size: tuple[int, int], expected: float, workers: int) -> int:
    """Frames per Tesseract run for about ``expected`` frames over ``workers`` parallel runs.

    As many as :data:`BATCH_FRAMES` and :data:`BATCH_PIXELS` allow, spread so that every
    round of runs has one batch per worker of about the same size: a short clip still keeps
    every worker busy, and no lone batch is left to run at the end while the others wait.
    """
    workers = max(1, workers)
    cap = max(1, min(BATCH_FRAMES, BATCH_PIXELS // max(1, size[0] * size[1])))
    expected = max(1.0, expected)
    rounds = math.ceil(expected / (workers * cap))
    return max(1, min(cap, math.ceil(expected / (rounds * workers))))


def _parallel_ocr(
    frames: Iterable[bytes],
    size: tuple[int, int],
    read: Callable[[Sequence[Image.Image]], list[OcrResult]],
    cache: dict[str, OcrResult],
    *,
    workers: int,
    per_batch: int,
) -> list[OcrResult]:
    """OCR each frame as it is decoded, ``per_batch`` frames per run, ``workers`` runs at a time,
    identical pixels once.

    At most ``workers + 1`` batches and the one being filled wait in memory: decoding pauses
    while OCR catches up.

    Only bit-identical frames share a reading. Nearly identical ones are read again: between
    samples of a still, noisy shot (x264, 640x360) pixels moved by 0.16-0.33 grey levels on
    average and 9-27 at most, while one changed digit of a part number moves them by 0.17 and
    a new word in a 14 px font by 0.13 (measured), so no "near enough" threshold is safe.
    """
    workers = max(1, workers)
    slots = threading.BoundedSemaphore(workers + 1)
    queued: set[str] = set()
    batches: list[tuple[list[str], Future[list[OcrResult]]]] = []
    order: list[str | OcrResult] = []
    filling: list[tuple[str, Image.Image]] = []

    def one(images: list[Image.Image]) -> list[OcrResult]:
        try:
            results = read(images)
        finally:
            slots.release()
        if len(results) != len(images):
            raise UnsupportedFile("OCR did not read every frame it was given")
        return results

    def submit(pool: ThreadPoolExecutor) -> None:
        slots.acquire()
        # A batch that failed fails the file: stop decoding now rather than at the end.
        for _, done in batches:
            if done.done() and done.exception() is not None:
                slots.release()
                done.result()
        digests, images = [d for d, _ in filling], [i for _, i in filling]
        batches.append((digests, pool.submit(one, images)))
        filling.clear()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for raw in frames:
                image = Image.frombytes("L", size, raw)
                digest = pixel_digest(image)
                if digest in cache:
                    order.append(cache[digest])
                    continue
                if digest not in queued:
                    queued.add(digest)
                    filling.append((digest, image))
                    if len(filling) >= per_batch:
                        submit(pool)
                order.append(digest)
            if filling:
                submit(pool)
        except BaseException:
            # Queued OCR runs are pointless now; the first error is what counts.
            for _, future in batches:
                future.cancel()
            raise
        for digests, future in batches:
            for digest, result in zip(digests, future.result(), strict=True):
                cache[digest] = result
    return [cache[item] if isinstance(item, str) else item for item in order]


def _ocr_samples(
    frames: Iterable[bytes],
    size: tuple[int, int],
    document: VideoDocument,
    languages: str,
    *,
    expected: float,
) -> list[OcrResult]:
    """Each sampled frame read (turned too where unsure): reading and verification read alike."""
    limits = document.limits

    def read(images: Sequence[Image.Image]) -> list[OcrResult]:
        return ocr_batch(images, languages=languages, timeout=limits.ocr_timeout, turns=QUARTER_TURNS)

    return _parallel_ocr(
        frames,
        size,
        read,
        document.ocr_cache,
        workers=limits.ocr_workers,
        per_batch=batch_size(size, expected, limits.ocr_workers),
    )


class VideoEngine:
    format = "video"
    media_types = ("video/mp4", "video/quicktime", "video/x-m4v", "video/webm")

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        return sniff_video(head)

    # -- reading -------------------------------------------------------------

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        deadline = time.monotonic() + limits.max_seconds_per_file
        try:
            if not source.is_file():
                raise UnsupportedFile("the video is not a regular file")
            size = source.stat().st_size
            with source.open("rb") as handle:
                head = handle.read(8192)
        except OSError:
            raise UnsupportedFile("the file cannot be read") from None
        if size > limits.max_input_bytes:
            raise UnsupportedFile(f"the video is larger than {limits.max_input_bytes // 2**20} MiB")
        media_type = sniff_video(head)
        if media_type is None:
            raise UnsupportedFile("the file is not an MP4, QuickTime, M4V or WebM video")
        container = "webm" if media_type == "video/webm" else "mp4"
        languages = check_languages(limits.ocr_languages)
        data = ffmpeg.probe(
            source, _demuxer(container), timeout=min(PROBE_TIMEOUT, deadline - time.monotonic())
        )
        info = video_info(data, limits)
        fps = _limit(limits, "video_sample_fps", DEFAULT_SAMPLE_FPS)
        stream = ffmpeg.FrameStream(
            source,
            demuxer=_demuxer(container),
            stream_index=info.stream_index,
            size=info.size,
            fps=fps,
            offset=0.0,
            deadline=deadline,
            memory=ffmpeg.memory_limit(info.size[0] * info.size[1]),
        )
        document = VideoDocument(
            source,
            media_type,
            container=container,
            info=info,
            sample_fps=fps,
            limits=limits,
            deadline=deadline,
        )

        results = _ocr_samples(stream, info.size, document, languages, expected=info.duration * fps + 1)
        if stream.damaged or not results:
            raise UnsupportedFile("the video is truncated or damaged (its frames cannot all be decoded)")
        # The sampler emits one frame per interval up to the last decoded frame: far fewer than the
        # stated duration means the picture ends early (a cut-off file whose header survived).
        if len(results) < info.duration * fps - max(2.0, fps):
            raise UnsupportedFile("the video is truncated (its frames end before its stated duration)")
        document.ocr = results
        document.sample_times = [index / fps for index in range(len(results))]
        document.units = [TextUnit(r.text, n, "ocr") for n, r in enumerate(results, start=1)]
        document.units += [TextUnit(value, None, "metadata") for value in info.metadata]
        facts = confidence_facts(results, limits)
        reasons = facts["review_reasons"]
        if len(reasons) > 10:
            # Hundreds of samples can each be weak; the report names the first few.
            reasons[10:] = [f"and {len(reasons) - 10} more samples"]
        document.facts.update(facts)
        document.facts["video"] = {
            "duration_s": round(info.duration, 3),
            "width": info.size[0],
            "height": info.size[1],
            "codec": info.codec,
            "sample_fps": fps,
            "frames_sampled": len(results),
            "frames_ocr_run": len({id(r) for r in results}),
        }
        if info.dropped.get("audio"):
            document.warnings.append("audio removed: speech cannot be checked")
        others = {k: v for k, v in info.dropped.items() if k != "audio"}
        if others:
            kinds = ", ".join(f"{v} {k}" for k, v in sorted(others.items()))
            document.warnings.append(f"streams removed: {kinds}")
        return document

    # -- redacting -----------------------------------------------------------

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        if not isinstance(document, VideoDocument) or document.info is None:
            raise TypeError("VideoEngine.redact needs the document its read() returned")
        info = document.info
        media_type, extension, codec = _OUTPUT[document.container]
        report = new_report(self.format)
        report["ocr"] = dict(document.facts["ocr"])
        report["needs_review"] = bool(document.facts["review_reasons"])
        report["review_reasons"] = list(document.facts["review_reasons"])
        report["warnings"] = list(document.warnings)
        report["video"] = dict(document.facts["video"])
        report["audio"] = "removed" if info.dropped.get("audio") else "none"
        report["streams_removed"] = dict(info.dropped)
        report["metadata_removed"] = True
        report["images"] = plan.images
        report["videos"] = plan.videos
        if plan.videos == "exclude":
            report["ok"] = True
            report["excluded"] = "videos: exclude"
            report["warnings"].append("videos excluded by policy: this file is left out of the bundle")
            return RedactionResult(True, None, report, media_type, extension, excluded="videos: exclude")

        covers: list[CoverSpan] = []
        found_types: list[str] = []
        if plan.images == "redact":
            covers, found_types = self._covers(document, plan, report)
        elif plan.images == "keep":
            report["warnings"].append("images kept by policy: the picture was not redacted or verified")
        report["counts"] = count_types(found_types)
        report["boxes_drawn"] = len(covers)
        report["time_spans"] = [[round(c.start, 3), round(c.end, 3)] for c in covers]

        workdir = Path(tempfile.mkdtemp(prefix=".video-", dir=document.path.parent))
        try:
            output = workdir / f"out{extension}"
            try:
                self._encode(document, covers, plan.images == "remove", output, workdir)
            except UnsupportedFile as exc:
                return withheld(report, f"the video could not be written: {exc.message}", media_type)
            try:
                leaks = self._verify(document, plan, output, report)
            except UnsupportedFile as exc:
                return withheld(report, f"verification could not run: {exc.message}", media_type)
            if leaks or report["verification"]["leaks"]:
                return withheld(
                    report, "verification found redacted content in the output", media_type, leaks
                )
            data = output.read_bytes()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        report["ok"] = True
        report["output_format"] = f"{document.container}/{codec}"
        return RedactionResult(True, data, report, media_type, extension)

    @staticmethod
    def _covers(
        document: VideoDocument, plan: RecipientPlan, report: dict[str, Any]
    ) -> tuple[list[CoverSpan], list[str]]:
        """Boxes per sample (margins as in the image engine, clear of words that stay), over time."""
        assert document.info is not None  # noqa: S101  (checked by redact)
        found_types: list[str] = []
        samples: list[tuple[float, list[Box]]] = []
        for number, (moment, result) in enumerate(zip(document.sample_times, document.ocr, strict=True), 1):
            spans = list(plan.find(result.text)) if result.text else []
            boxes = _boxes(result, spans)
            samples.append((moment, boxes))
            if spans:
                found_types.extend(s.entity_type for s in spans)
                report["pages"].append(
                    {
                        "page": number,
                        "time_s": round(moment, 3),
                        "status": "redacted",
                        "redactions": count_types([s.entity_type for s in spans]),
                        "boxes": len(boxes),
                    }
                )
        covers = plan_covers(
            samples,
            interval=1.0 / document.sample_fps,
            slack=document.info.frame_duration,
            size=document.info.size,
        )
        return covers, found_types

    @staticmethod
    def _encode(
        document: VideoDocument, covers: Sequence[CoverSpan], remove: bool, output: Path, workdir: Path
    ) -> None:
        assert document.info is not None  # noqa: S101  (checked by redact)
        info = document.info
        # Even dimensions for 4:2:0; a padded row or column is black.
        steps = ["setpts=PTS-STARTPTS", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "format=yuv420p"]
        if remove:
            steps.append("drawbox=x=0:y=0:w=iw:h=ih:color=black@1:t=fill")
        for span in covers:
            left, top, right, bottom = even_outwards(span.box, info.size)
            steps.append(
                f"drawbox=x={left}:y={top}:w={right - left}:h={bottom - top}:color=black@1:t=fill"
                f":enable='between(t,{span.start:.4f},{span.end:.4f})'"
            )
        # A script file, not argv: hundreds of covers outgrow a command line. It holds numbers only.
        script = workdir / "filter.txt"
        script.write_text(",".join(steps), encoding="ascii")
        if document.container == "webm":
            codec_args = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
            codec_args += ["-b:v", "0", "-crf", "32", "-f", "webm"]
        else:
            codec_args = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
            # SEI units carry x264's build and options string; nothing a recipient needs.
            codec_args += ["-bsf:v", "filter_units=remove_types=6", "-movflags", "+faststart", "-f", "mp4"]
        argv = [
            ffmpeg.tool("ffmpeg"),
            "-nostdin", "-hide_banner", "-v", "error", "-xerror", "-y",
            "-protocol_whitelist", "file",
            "-f", _demuxer(document.container),
            "-i", str(document.path),
            "-map", f"0:{info.stream_index}",
            "-map_metadata", "-1", "-map_chapters", "-1",
            "-an", "-sn", "-dn",
            "-filter_script:v", str(script),
            "-pix_fmt", "yuv420p",
            "-threads", _ENCODER_THREADS,
            "-fflags", "+bitexact", "-flags:v", "+bitexact",
            *codec_args,
            str(output),
        ]  # fmt: skip
        done = ffmpeg.run(
            argv,
            timeout=document.deadline - time.monotonic(),
            what="encoding the video",
            memory=ffmpeg.memory_limit(info.size[0] * info.size[1]),
        )
        if not done.clean or not output.is_file():
            raise UnsupportedFile("the encoder failed")

    def _verify(
        self, document: VideoDocument, plan: RecipientPlan, output: Path, report: dict[str, Any]
    ) -> list[str]:
        assert document.info is not None  # noqa: S101  (checked by redact)
        info = document.info
        verification: dict[str, Any] = {"performed": True, "passed": False, "checks": [], "leaks": []}
        report["verification"] = verification
        verification["checks"].append("streams_and_tags")
        # ffprobe reads headers while the frames are decoded and read: neither needs the other.
        with ThreadPoolExecutor(max_workers=1) as side:
            probing = side.submit(
                ffmpeg.probe,
                output,
                _demuxer(document.container),
                timeout=min(PROBE_TIMEOUT, document.deadline - time.monotonic()),
            )
            leaked = self._verify_pixels(document, plan, output, verification)
            written = probing.result()
        for problem in container_problems(written, document.container, info):
            verification["leaks"].append({"kind": "container", "what": problem})
        verification["passed"] = not verification["leaks"]
        return leaked

    @staticmethod
    def _verify_pixels(
        document: VideoDocument, plan: RecipientPlan, output: Path, verification: dict[str, Any]
    ) -> list[str]:
        """Black frames or an OCR of the output's frames, as the plan's ``images`` asks."""
        assert document.info is not None  # noqa: S101  (checked by redact)
        info = document.info
        limits = document.limits
        leaked: list[str] = []
        if plan.images == "keep":
            verification["checks"].append("pixels_skipped_kept_by_policy")
            return leaked
        verify_fps = _limit(limits, "video_sample_fps", DEFAULT_SAMPLE_FPS) * VERIFY_RATE_FACTOR
        offset = VERIFY_OFFSET / verify_fps
        stream = ffmpeg.FrameStream(
            output,
            demuxer=_demuxer(document.container),
            stream_index=0,
            size=info.size,
            fps=verify_fps,
            offset=offset,
            deadline=document.deadline,
            memory=ffmpeg.memory_limit(info.size[0] * info.size[1]),
        )
        verification["sample_fps"] = verify_fps
        if plan.images == "remove":
            verification["checks"].append("black_frames")
            count = 0
            for number, raw in enumerate(stream, start=1):
                count += 1
                if max(raw) > BLACK_LUMA:
                    verification["leaks"].append({"kind": "pixels", "page": number})
            if stream.damaged or count == 0:
                raise UnsupportedFile("the written video cannot be decoded again")
            verification["frames_checked"] = count
            return leaked
        verification["checks"].append("ocr_of_output")
        languages = check_languages(limits.ocr_languages)
        readings = _ocr_samples(stream, info.size, document, languages, expected=info.duration * verify_fps)
        if stream.damaged or not readings:
            raise UnsupportedFile("the written video cannot be decoded again")
        verification["frames_checked"] = len(readings)
        # New text the reading never met (another frame, another reading) is scanned too,
        # so values it reveals join the plan's sensitive values before the check.
        for reading in readings:
            if reading.text:
                plan.find(reading.text)
        for number, reading in enumerate(readings, start=1):
            for value in find_leaks(reading.text, plan.sensitive_values):
                leaked.append(value)
                verification["leaks"].append(
                    {
                        "kind": "ocr",
                        "page": number,
                        "time_s": round(offset + (number - 1) / verify_fps, 3),
                        "value_index": plan.sensitive_values.index(value),
                    }
                )
        return leaked


def _boxes(result: OcrResult, spans: Sequence[Redaction]) -> list[Box]:
    """Padded boxes over the lines of ``spans``, kept clear of words that stay (as in images)."""
    if not spans:
        return []
    staying = [
        word.box
        for word, (ws, we) in zip(result.words, result.spans, strict=True)
        if not any(ws < s.end and we > s.start for s in spans)
    ]
    boxes: list[Box] = []
    for span in spans:
        for box in result.boxes_for(span.start, span.end):
            corners = cover(box, None, staying)
            xs, ys = [p[0] for p in corners], [p[1] for p in corners]
            boxes.append(
                (
                    math.floor(min(xs)) - EXTRA_MARGIN,
                    math.floor(min(ys)) - EXTRA_MARGIN,
                    math.ceil(max(xs)) + EXTRA_MARGIN,
                    math.ceil(max(ys)) + EXTRA_MARGIN,
                )
            )
    return boxes


def container_problems(data: dict[str, Any], container: str, info: VideoInfo) -> list[str]:
    """What in a written file's ffprobe JSON is not the one clean video stream it should be.

    Kinds and tag names only (never values): they go into the report.
    """
    problems: list[str] = []
    streams = [s for s in data.get("streams") or () if isinstance(s, dict)]
    kinds = [str(s.get("codec_type")) for s in streams]
    if kinds != ["video"]:
        problems.append(f"streams: {', '.join(kinds) or 'none'}")
    expected_codec = _OUTPUT[container][2]
    for stream in streams:
        if stream.get("codec_name") != expected_codec:
            problems.append("codec")
        if (stream.get("disposition") or {}).get("attached_pic"):
            problems.append("attached picture")
        if stream.get("side_data_list"):
            problems.append("side data")
        problems += _tag_problems(stream.get("tags"), ALLOWED_STREAM_TAGS[container], "stream")
        width, height = int(_number(stream.get("width")) or 0), int(_number(stream.get("height")) or 0)
        # The encoder pads odd sizes by one pixel (4:2:0).
        if (width, height) != (info.size[0] + info.size[0] % 2, info.size[1] + info.size[1] % 2):
            problems.append("frame size")
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    assert isinstance(fmt, dict)  # noqa: S101  (narrowing for mypy)
    problems += _tag_problems(fmt.get("tags"), ALLOWED_FORMAT_TAGS[container], "format")
    if data.get("chapters"):
        problems.append("chapters")
    duration = _number(fmt.get("duration"))
    if duration is None or abs(duration - info.duration) > max(0.5, 3 * info.frame_duration):
        problems.append("duration")
    return problems


#: tag names a report may repeat; any other name in a written file is "other" (names come from input)
_NAMED_TAGS = frozenset(
    {"location", "creation_time", "make", "model", "title", "comment", "date", "handler_name", "encoder"}
)


def _tag_problems(tags: Any, allowed: dict[str, str | None], where: str) -> list[str]:
    if not isinstance(tags, dict):
        return []
    problems = []
    for key, value in tags.items():
        name = key if key in _NAMED_TAGS else "other"
        if key not in allowed:
            problems.append(f"{where} tag {name}")
        elif allowed[key] is not None and value != allowed[key]:
            problems.append(f"{where} tag {name} value")
    return problems
