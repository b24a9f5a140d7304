"""The seam every format engine plugs into: one protocol, one result, one report.

An engine handles the media types it declares. It is used in two steps:

1. ``read(source, limits)`` parses the file once and returns a
   :class:`SourceDocument` whose ``units`` are every text the detector must
   read: page text, OCR of pixels, metadata values. Expensive work (OCR) is
   done here, once, and kept on the document for ``redact``.
2. ``redact(document, plan)`` produces one recipient's output from a
   :class:`~exchange.domain.detection.planner.RecipientPlan` and verifies it.

Invariants every engine keeps:

* Nothing leaves unread: every part of an output (text, pixels, metadata,
  embedded objects) was read by the detector or removed; where neither is
  possible the result is ``ok=False`` with a ``withheld`` reason.
* Fail closed: ``data`` is set only when verification of the written output
  passed. A hostile or damaged input raises :class:`UnsupportedFile` with a
  one-line, secret-free message.
* Reports follow :func:`new_report`'s schema and carry counts, page numbers
  and kinds only: never a secret value, never document text.
* The applicant's manual boxes (``plan.boxes``) are painted only by engines
  that declare ``supports_boxes = True`` (see :func:`paints_boxes`); such an
  engine removes everything under each box, counts it as ``MANUAL``, checks
  the painted region in its decoded output and withholds the file when a
  box is not solid or names a page the file does not have. The pipeline
  withholds a file with boxes from every other engine: never shared unboxed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from exchange.domain.detection.planner import RecipientPlan


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Resource limits and OCR settings shared by every engine (from settings)."""

    #: largest input file an engine opens
    max_input_bytes: int = 256 * 2**20
    #: pages (PDF, TIFF frames) per file
    max_pages: int = 2000
    #: pixels of one decoded image (a pixel bomb claims billions)
    max_image_pixels: int = 120_000_000
    #: Tesseract language codes joined by "+"
    ocr_languages: str = "eng+chi_sim"
    #: seconds one OCR run may take before the file fails with a reason
    ocr_timeout: float = 180.0
    #: mean word confidence (0-100) under which an image is flagged for review
    ocr_review_confidence: float = 70.0
    #: OCR runs in parallel inside one job (Tesseract runs as a child process)
    ocr_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    #: wall-clock seconds for one file, all recipients included
    max_seconds_per_file: float = 1800.0
    #: video frames OCR'd per second of footage when reading (verification uses another rate)
    video_sample_fps: float = 2.0
    #: longest video accepted, seconds
    video_max_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class TextUnit:
    """One text the detector reads: where it came from, and the text."""

    text: str
    #: page or frame number from 1; None for the whole file
    page: int | None = None
    #: "text", "page", "ocr", "metadata", "name", ...
    source: str = "text"


@dataclass(slots=True)
class SourceDocument:
    """A parsed input. Engines subclass it to keep what ``redact`` needs."""

    path: Path
    media_type: str
    units: list[TextUnit] = field(default_factory=list)
    #: facts for the report that do not depend on the recipient (OCR confidence, ...)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RedactionResult:
    """One recipient's output. ``ok`` with ``data`` None and ``excluded`` set means
    the recipient's policy leaves this file out of its bundle (nothing to verify)."""

    ok: bool
    #: the verified output, or None when anything failed or leaked
    data: bytes | None
    report: dict[str, Any]
    #: media type of ``data`` (an engine may re-encode, e.g. HEIC to JPEG)
    media_type: str = ""
    #: file name extension for ``data``, with the dot; "" keeps the input's name
    extension: str = ""
    leaks: list[Any] = field(default_factory=list)
    #: why the recipient's policy leaves the file out (e.g. "videos: exclude"); "" otherwise
    excluded: str = ""


class RedactionEngine(Protocol):
    """A format engine; see the module docstring for the contract.

    Optional capability: a class attribute ``supports_boxes = True`` declares
    that ``redact`` paints and verifies the plan's manual boxes (pages and
    frames numbered from 1, fractions of the page as displayed). It is not a
    protocol member, so engines without it need not say False; ask
    :func:`paints_boxes`.
    """

    #: short name used in reports: "pdf", "image", "text"
    format: str
    #: media types this engine handles
    media_types: tuple[str, ...]

    def sniff(self, head: bytes, source: BinaryIO | None = None) -> str | None:
        """The media type when the content is this engine's, else None.

        ``head`` is the first 8 KiB (or the whole file when smaller). Container
        formats whose type shows only inside (a ZIP's part list) may read
        ``source``, the whole content, seekable; they must not trust its
        position and must leave it wherever they like: callers seek before use.
        """
        ...

    def read(self, source: Path, limits: EngineLimits) -> SourceDocument: ...

    def redact(self, document: SourceDocument, plan: RecipientPlan) -> RedactionResult: ...


def new_report(fmt: str) -> dict[str, Any]:
    """The one report schema every engine fills in (extra keys are allowed).

    * ``format``: engine name; ``ok``: the output is verified and may be shared.
    * ``counts``: redactions per entity type.
    * ``pages``: per page/frame entries ``{"page", "status", "redactions", ...}``.
    * ``ocr``: ``{"used", "images", "mean_confidence", "min_confidence",
      "low_confidence_images"}``.
    * ``needs_review`` with ``review_reasons``: the applicant should look.
    * ``withheld``: why the file is not shared (only when ``ok`` is False).
    * ``verification``: ``{"performed", "passed", "checks", "leaks"}``.
    * ``warnings``: sentences for the applicant, no document text.
    """
    return {
        "format": fmt,
        "ok": False,
        "counts": {},
        "pages": [],
        "ocr": {"used": False, "images": 0},
        "needs_review": False,
        "review_reasons": [],
        "verification": {"performed": False, "passed": False, "checks": [], "leaks": []},
        "warnings": [],
    }


def withheld(
    report: dict[str, Any], reason: str, media_type: str, leaks: Sequence[Any] = ()
) -> RedactionResult:
    """A result that shares nothing: ``reason`` is the one line the applicant reads."""
    report["ok"] = False
    report["withheld"] = reason
    report.setdefault("verification", {})["passed"] = False
    return RedactionResult(False, None, report, media_type, "", list(leaks))


def count_types(entity_types: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for etype in entity_types:
        counts[etype] = counts.get(etype, 0) + 1
    return counts


def paints_boxes(engine: object) -> bool:
    """True when ``engine`` declares that it paints manual boxes (``supports_boxes = True``)."""
    return getattr(engine, "supports_boxes", False) is True


def boxes_beyond(pages: Sequence[int], page_count: int) -> str:
    """The one-line reason when a manual box names a page past the last one; "" otherwise.

    ``pages`` are the boxes' page numbers (from 1).
    """
    beyond = [page for page in pages if page > page_count]
    if not beyond:
        return ""
    noun = "page" if page_count == 1 else "pages"
    return f"manual box on page {min(beyond)}, but the file has {page_count} {noun}"
