"""The image engine: JPEG, PNG, TIFF (every page), WebP and HEIC/HEIF.

``read`` decodes each frame upright (EXIF orientation applied), OCRs it
(``ocr.ocr_oriented``: a turn search when the upright reading is weak) and
hands the OCR text to the detector; ``redact`` paints opaque covers over what
the plan finds, writes fresh frames with no metadata but a fresh sRGB profile, and
verifies the encoded bytes.

Threat assumptions: the file may be hostile (pixel bombs, truncated or
malformed data, endless frames); the recipient may inspect every byte and
every pixel, so blurs, metadata, thumbnails and hidden alpha are all leaks.

Invariants:

* Limits are checked on the lazily opened file before any pixels are
  decoded: frames against ``max_pages``, the pixels of all frames together
  against ``max_image_pixels``. Every decoding failure becomes
  :class:`UnsupportedFile` with a one-line reason.
* Fail closed: ``data`` is set only when the encoded output was decoded
  again, holds no metadata but that sRGB profile, and (for recipients whose
  images are redacted) an OCR of its pixels at the same turns as the reading
  finds none of ``plan.sensitive_values``. An OCR of the same pixels at the
  same turns is reused (cached by a hash of the pixels), never repeated.
* A frame whose contrast view (``pixels.contrast_view``) shows ink that
  grey binarisation misses (light grey text beside black text, dark text on
  a dark band, coloured text as grey as its background) is OCR'd through
  that view too, upright, and so is its output when verified.
* An image OCR cannot read with confidence is redacted as far as it was read
  and flagged ``needs_review``; it is never silently passed as clean.
* An embedded colour profile is applied at decoding (``pixels.as_srgb``):
  OCR reads the colours a viewer shows, and the output carries a fresh sRGB
  profile, never the input's (whose texts and curves are unread). A CMYK
  frame with a profile is written as RGB.
* HEIF containers: only the primary image is read and written (as JPEG);
  other images, thumbnails and depth maps in the container are dropped.
* JPEG files from phones: only the primary picture (up to its first EOI) is
  decoded and written, as a plain JPEG (named .jpg when the input held
  further pictures, as an .mpo does). Further pictures (MPO/MPF second
  views, Ultra HDR gain maps, depth maps) and trailers after that EOI are
  never decoded, are dropped, and are counted in the report's warnings; the
  output is checked to end at its own EOI with no MPF index
  (``metadata.metadata_left``).
* The applicant's manual boxes (``plan.boxes``; page n is frame n) are
  painted solid in the upright frame, as the applicant saw it, whatever the
  images rule (a removed image is solid already); the decoded output must
  show every box solid black, or the file is withheld, as it is when a box
  names a frame the file does not have.
"""

from __future__ import annotations

import io
import mmap
import struct
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pillow_heif
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from exchange.domain.detection.findings import Redaction
from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.detection.review import MANUAL, ManualBox
from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import (
    EngineLimits,
    RedactionResult,
    SourceDocument,
    TextUnit,
    boxes_beyond,
    count_types,
    new_report,
    withheld,
)
from exchange.domain.redaction.image.metadata import OUTPUT, encode, jpeg_extras, metadata_left
from exchange.domain.redaction.image.ocr import (
    Box,
    OcrResult,
    OcrWord,
    Rotation,
    assemble,
    check_languages,
    ocr_at_angles,
    ocr_image,
    ocr_oriented,
)
from exchange.domain.redaction.image.pixels import (
    Polygon,
    as_srgb,
    contrast_view,
    cover,
    displayable,
    hidden_ink,
    paint,
    paint_boxes,
    pixel_digest,
    placeholder,
    srgb_profile,
    unpainted_boxes,
)
from exchange.domain.redaction.text import find_leaks

pillow_heif.register_heif_opener()

FORMATS = tuple(OUTPUT)
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
#: a word under this confidence counts as poorly read (0-100)
LOW_WORD_CONFIDENCE = 50.0
#: share of poorly read words that flags an image for review
LOW_WORD_SHARE = 0.25
_DAMAGED = "the image is truncated or damaged"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class ImageDocument(SourceDocument):
    #: decoded format: "JPEG", "PNG", "TIFF", "WEBP" or "HEIF"
    kind: str = ""
    #: upright frames, fresh (no info), in ``pixels.KEPT_MODES``
    frames: list[Image.Image] = field(default_factory=list)
    #: OCR per frame, parallel to ``frames``
    ocr: list[OcrResult] = field(default_factory=list)
    icc: bytes | None = None
    limits: EngineLimits = field(default_factory=EngineLimits)
    #: per frame: whether it was also read through its contrast view (pixels.contrast_view)
    contrast: list[bool] = field(default_factory=list)
    #: (pixel digest, turns, contrast pass) -> OCR of those pixels at those turns
    ocr_cache: dict[tuple[str, tuple[float, ...], bool], OcrResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: a JPEG whose MPF index held further pictures (an MPO): written as a plain ".jpg"
    multi_picture: bool = False


def sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        # The major brand decides: MP4 and QuickTime files (isom, mp41, qt) are video.
        major = head[8:12]
        if major in HEIC_BRANDS:
            return "image/heic"
        if major in HEIF_BRANDS:
            (box_size,) = struct.unpack(">I", head[:4])
            compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
            return "image/heic" if compatible & HEIC_BRANDS else "image/heif"
    return None


def _parallel(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _too_large(pixels: int, limits: EngineLimits) -> UnsupportedFile:
    return UnsupportedFile(
        f"the image is too large ({pixels / 1e6:.0f} megapixels; "
        f"the limit is {limits.max_image_pixels / 1e6:.0f})"
    )


def _decode(image: Image.Image, limits: EngineLimits, notes: list[str]) -> list[Image.Image]:
    """Upright, fresh frames of an opened image, after the limits were checked lazily."""
    count = getattr(image, "n_frames", 1)
    if image.format == "HEIF" and count > 1:
        notes.append(f"{count - 1} further image(s) in the HEIF container were dropped")
        count = 1
    if count > limits.max_pages:
        raise UnsupportedFile(f"the image has {count} frames; the limit is {limits.max_pages}")
    total = 0
    for index in range(count):
        image.seek(index)
        total += image.width * image.height
        if total > limits.max_image_pixels:
            raise _too_large(total, limits)
    frames = []
    for index in range(count):
        image.seek(index)
        image.load()
        orientation = image.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(image) if orientation not in (None, 1) else image
        frame, warning = as_srgb(displayable(upright), image.info.get("icc_profile"))
        frames.append(frame)
        if warning and warning not in notes:
            notes.append(warning)
    return frames


def _open(source: Path) -> Image.Image:
    """The opened image; a JPEG as its primary picture only.

    Pillow would open a JPEG with an MPF index as an MPO (each picture a
    frame, a malformed index a warning); the further pictures are never
    shared, so the primary is opened as the plain JPEG it is.
    """
    with source.open("rb") as handle:
        is_jpeg = handle.read(3) == b"\xff\xd8\xff"
    if is_jpeg:
        return JpegImagePlugin.JpegImageFile(source)
    return Image.open(source, formats=FORMATS)


def _jpeg_notes(source: Path) -> tuple[list[str], bool]:
    """Report notes for what a JPEG holds after its primary picture (dropped, never decoded),
    and whether it held further pictures."""
    with source.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        extras = jpeg_extras(data)
    if extras is None:
        return [], False
    notes = []
    if extras.pictures:
        notes.append(
            f"{extras.pictures} further picture(s) in the JPEG file (second view, depth or gain map) "
            "were removed; only the primary picture is kept"
        )
    if extras.other_bytes:
        notes.append(f"{extras.other_bytes} bytes of data after the end of the JPEG picture were removed")
    return notes, bool(extras.pictures)


class ImageEngine:
    format = "image"
    media_types = ("image/jpeg", "image/png", "image/tiff", "image/webp", "image/heic", "image/heif")
    #: manual boxes are painted in the upright frames and verified (see module docstring)
    supports_boxes = True

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        return sniff_image(head)

    # -- reading -------------------------------------------------------------

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument:
        try:
            size = source.stat().st_size
        except OSError:
            raise UnsupportedFile("the file cannot be read") from None
        if size > limits.max_input_bytes:
            raise UnsupportedFile(f"the image is larger than {limits.max_input_bytes // 2**20} MiB")
        languages = check_languages(limits.ocr_languages)
        # Pillow's own bomb check (a warning at the limit, an error at twice it) is
        # the backstop for dimensions it reads before ours; both become one reason.
        Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
        notes: list[str] = []
        multi_picture = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with _open(source) as opened:
                    kind = opened.format or ""
                    had_profile = bool(opened.info.get("icc_profile"))
                    frames = _decode(opened, limits, notes)
            if kind == "JPEG":
                found, multi_picture = _jpeg_notes(source)
                notes += found
        except UnsupportedFile:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnsupportedFile(
                f"the image is too large (the limit is {limits.max_image_pixels / 1e6:.0f} megapixels)"
            ) from None
        except UnidentifiedImageError:
            raise UnsupportedFile("the file is not a JPEG, PNG, TIFF, WebP or HEIF image") from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError, MemoryError):
            raise UnsupportedFile(_DAMAGED) from None
        if kind not in OUTPUT:
            raise UnsupportedFile("the file is not a JPEG, PNG, TIFF, WebP or HEIF image")

        # Frames in parallel; a single frame may use the workers for its turn search instead.
        inner = limits.ocr_workers if len(frames) == 1 else 1

        def read_frame(frame: Image.Image) -> OcrResult:
            return ocr_oriented(frame, languages=languages, timeout=limits.ocr_timeout, workers=inner)

        plain = _parallel(read_frame, frames, limits.ocr_workers)
        contrast = [hidden_ink(frame) for frame in frames]
        results = _with_contrast(plain, frames, contrast, languages, limits)
        media_type = {"HEIF": "image/heif"}.get(kind, OUTPUT[kind][1])
        document = ImageDocument(
            source,
            media_type,
            units=[TextUnit(r.text, n, "ocr") for n, r in enumerate(results, start=1)],
            kind=kind,
            frames=frames,
            ocr=results,
            # Frames were turned into sRGB through their own profiles (pixels.as_srgb).
            icc=srgb_profile() if had_profile else None,
            limits=limits,
            contrast=contrast,
            warnings=notes,
            multi_picture=multi_picture,
        )
        for frame, result, extra in zip(frames, results, contrast, strict=True):
            document.ocr_cache[(pixel_digest(frame), result.angles, extra)] = result
        # Confidence is judged on the plain reading: the contrast view amplifies noise too.
        document.facts.update(confidence_facts(plain, limits))
        document.facts["page_count"] = len(frames)
        return document

    # -- redacting -----------------------------------------------------------

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult:
        if not isinstance(document, ImageDocument):
            raise TypeError("ImageEngine.redact needs the document its read() returned")
        fmt, media_type, extension = OUTPUT[document.kind]
        if document.multi_picture:
            extension = ".jpg"  # no longer an MPO: a name ending .mpo would say otherwise
        report = new_report(self.format)
        report["ocr"] = dict(document.facts["ocr"])
        report["needs_review"] = bool(document.facts["review_reasons"])
        report["review_reasons"] = list(document.facts["review_reasons"])
        report["warnings"] = list(document.warnings)
        report["images"] = plan.images
        beyond = boxes_beyond([b.page for b in plan.boxes], len(document.frames))
        if beyond:
            return withheld(report, beyond, media_type)
        found_types: list[str] = []
        out_frames: list[Image.Image] = []
        for number, (frame, result) in enumerate(zip(document.frames, document.ocr, strict=True), start=1):
            entry: dict[str, Any] = {"page": number, "redactions": {}, "boxes": 0}
            manual = [b for b in plan.boxes if b.page == number]
            if plan.images == "remove":
                out_frames.append(placeholder(frame))
                entry["status"] = "removed"
            elif plan.images == "keep":
                out_frames.append(frame)
                entry["status"] = "kept"
            else:
                spans = list(plan.find(result.text))
                covers = self._covers(result, spans)
                out_frames.append(paint(frame, covers) if covers else frame)
                entry.update(status="redacted", redactions=count_types([s.entity_type for s in spans]))
                entry["boxes"] = len(covers)
                found_types.extend(s.entity_type for s in spans)
            if manual:
                if plan.images != "remove":
                    out_frames[-1] = paint_boxes(out_frames[-1], manual)
                entry["manual_boxes"] = len(manual)
                entry["redactions"] = {**entry["redactions"], MANUAL: len(manual)}
                found_types.extend([MANUAL] * len(manual))
            report["pages"].append(entry)
        report["counts"] = count_types(found_types)
        if plan.images == "keep":
            report["warnings"].append("images kept by policy: their pixels were not redacted or verified")
        try:
            data = encode(out_frames, document.kind, document.icc)
        except (OSError, ValueError) as exc:
            return withheld(report, f"the image could not be written ({type(exc).__name__})", media_type)
        del out_frames
        try:
            leaks = self._verify(document, plan, data, report)
        except UnsupportedFile as exc:
            return withheld(report, f"verification could not run: {exc.message}", media_type)
        unpainted = [leak["page"] for leak in report["verification"]["leaks"] if leak["kind"] == "manual_box"]
        if unpainted:
            reason = f"manual box on page {unpainted[0]} is not painted solid in the output"
            return withheld(report, reason, media_type, leaks)
        if leaks or report["verification"]["leaks"]:
            return withheld(report, "verification found redacted content in the output", media_type, leaks)
        report["ok"] = True
        report["output_format"] = fmt
        return RedactionResult(True, data, report, media_type, extension)

    @staticmethod
    def _covers(result: OcrResult, spans: Sequence[Redaction]) -> list[Polygon]:
        staying: dict[Rotation | None, list[Box]] = {}
        for word, (ws, we) in zip(result.words, result.spans, strict=True):
            if not any(ws < s.end and we > s.start for s in spans):
                box = word.frame_box if word.frame_box is not None else word.box
                staying.setdefault(word.rotation, []).append(box)
        return [
            cover(box, rotation, staying.get(rotation, ()))
            for s in spans
            for box, rotation in result.line_boxes_for(s.start, s.end)
        ]

    def _verify(
        self, document: ImageDocument, plan: RecipientPlan, data: bytes, report: dict[str, Any]
    ) -> list[str]:
        verification: dict[str, Any] = {"performed": True, "passed": False, "checks": [], "leaks": []}
        report["verification"] = verification
        verification["checks"].append("metadata")
        for kind in metadata_left(data):
            verification["leaks"].append({"kind": "metadata", "what": kind})
        try:
            with Image.open(io.BytesIO(data)) as written:
                frames = []
                for index in range(getattr(written, "n_frames", 1)):
                    written.seek(index)
                    written.load()
                    frames.append(written.copy())
        except (OSError, ValueError, SyntaxError) as exc:
            raise UnsupportedFile("the written image cannot be decoded again") from exc
        if len(frames) != len(document.frames):
            raise UnsupportedFile("the written image has a different number of frames")
        if plan.boxes and plan.images != "remove":
            # A removed image is checked whole below (placeholder_solid), boxes included.
            verification["checks"].append("manual_boxes_solid")
            verification["leaks"] += _unpainted(frames, plan.boxes)
        leaked: list[str] = []
        if plan.images == "keep":
            verification["checks"].append("pixels_skipped_kept_by_policy")
        elif plan.images == "remove":
            verification["checks"].append("placeholder_solid")
            for number, frame in enumerate(frames, start=1):
                if any(lo != hi for lo, hi in _extrema(frame)):
                    verification["leaks"].append({"kind": "pixels", "page": number})
        else:
            verification["checks"].append("ocr_of_output")
            limits = document.limits

            def read_written(item: tuple[Image.Image, OcrResult, bool]) -> OcrResult:
                frame, source_ocr, extra = item
                key = (pixel_digest(frame), source_ocr.angles, extra)
                cached = document.ocr_cache.get(key)
                if cached is None:
                    languages = check_languages(limits.ocr_languages)
                    cached = ocr_at_angles(
                        frame, source_ocr.angles, languages=languages, timeout=limits.ocr_timeout, workers=1
                    )
                    if extra:
                        cached = _with_contrast([cached], [frame], [True], languages, limits)[0]
                    document.ocr_cache[key] = cached
                return cached

            readings = _parallel(
                read_written,
                list(zip(frames, document.ocr, document.contrast, strict=True)),
                limits.ocr_workers,
            )
            for number, reading in enumerate(readings, start=1):
                for value in find_leaks(reading.text, plan.sensitive_values):
                    leaked.append(value)
                    verification["leaks"].append(
                        {"kind": "ocr", "page": number, "value_index": plan.sensitive_values.index(value)}
                    )
        verification["passed"] = not verification["leaks"]
        return leaked


#: block numbers of contrast-view words start here, apart from every pass's own lines
_CONTRAST_BLOCK = 10_000_000


def _with_contrast(
    results: Sequence[OcrResult],
    frames: Sequence[Image.Image],
    contrast: Sequence[bool],
    languages: str,
    limits: EngineLimits,
) -> list[OcrResult]:
    """Each reading, with the words of its frame's contrast view added where ``contrast`` says.

    The view has the frame's geometry, so its words' boxes are frame boxes
    and covers painted from them land on the frame (see pixels.contrast_view).
    """
    todo = [frame for frame, extra in zip(frames, contrast, strict=True) if extra]
    views = iter(
        _parallel(
            lambda frame: ocr_image(contrast_view(frame), languages=languages, timeout=limits.ocr_timeout),
            todo,
            limits.ocr_workers,
        )
    )
    out: list[OcrResult] = []
    for result, extra in zip(results, contrast, strict=True):
        if not extra:
            out.append(result)
            continue
        seen = next(views)
        # A word both passes read in the same place is kept once (it would count twice).
        known = {(w.text, w.box) for w in result.words}
        words = list(result.words) + [
            OcrWord(w.text, w.box, w.confidence, (w.line[0] + _CONTRAST_BLOCK, w.line[1], w.line[2]))
            for w in seen.words
            if not any(text == w.text and _overlap(box, w.box) > 0.5 for text, box in known)
        ]
        merged = assemble(words, result.size)
        merged.angles = result.angles
        out.append(merged)
    return out


def _overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _unpainted(frames: Sequence[Image.Image], boxes: Sequence[ManualBox]) -> list[dict[str, Any]]:
    """A leak per manual box not solid in the decoded output (page n is frame n)."""
    leaks: list[dict[str, Any]] = []
    for number, frame in enumerate(frames, start=1):
        mine = [b for b in boxes if b.page == number]
        leaks += [{"kind": "manual_box", "page": number} for _ in unpainted_boxes(frame, mine)]
    return leaks


def _extrema(frame: Image.Image) -> list[tuple[float, float]]:
    """(lowest, highest) value per band."""
    return [band.getextrema() for band in frame.split()]  # type: ignore[misc]  # one band: (lo, hi)


def confidence_facts(results: Sequence[OcrResult], limits: EngineLimits) -> dict[str, Any]:
    """The ``ocr`` report block and review reasons; counts and scores only, no text."""
    confidences = [w.confidence for r in results for w in r.words]
    low_images = []
    reasons: list[str] = []
    for number, result in enumerate(results, start=1):
        mean = result.mean_confidence
        poor = sum(1 for w in result.words if w.confidence < LOW_WORD_CONFIDENCE)
        if mean is not None and mean < limits.ocr_review_confidence:
            low_images.append(number)
            reasons.append(
                f"frame {number}: OCR mean word confidence {mean:.0f} is below "
                f"{limits.ocr_review_confidence:.0f}; text OCR could not read may remain"
            )
        elif result.words and poor / len(result.words) > LOW_WORD_SHARE:
            low_images.append(number)
            reasons.append(f"frame {number}: {poor} of {len(result.words)} OCR words are low-confidence")
        if len(result.angles) > 1:
            reasons.append(f"frame {number}: text was read turned by {_angles(result.angles)} degrees")
    ocr = {
        "used": True,
        "images": len(results),
        "words": len(confidences),
        "mean_confidence": round(sum(confidences) / len(confidences), 1) if confidences else None,
        "min_confidence": round(min(confidences), 1) if confidences else None,
        "low_confidence_images": low_images,
    }
    return {"ocr": ocr, "review_reasons": reasons}


def _angles(angles: Sequence[float]) -> str:
    return ", ".join(f"{a:g}" for a in angles if a)
