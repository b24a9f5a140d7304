"""From boxes seen in sampled frames to boxes drawn over spans of time.

OCR sees a video only at its samples, ``interval`` seconds apart. Text seen
in sample *k* may have been on screen since just after sample *k-1* and until
just before sample *k+1*, and it may have moved in between. So:

* every box is held from one whole interval (plus ``slack``, one frame of
  the source, for the sampler picking the nearest frame) before the first
  sample it was seen in until one interval (plus slack) after the last;
* a box seen in consecutive samples near the same place is one *track*;
  between two of its samples the cover is the union of both boxes, so text
  panning from one to the other stays covered on its way;
* before a track's first and after its last sample the cover is grown in
  the direction the track was moving, by one step of that motion;
* pieces of a track whose boxes barely differ (OCR boxes jitter by a few
  pixels) are joined into one, so a still caption is one drawn box.

Assumptions and limits: text shown for less than one interval between two
samples is not seen here at all (the verifier samples at another rate and
offset, which catches some of it); motion is assumed to be roughly steady
between samples. Everything here is pure arithmetic on numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

Box = tuple[int, int, int, int]  # left, top, right, bottom; right/bottom exclusive

#: a piece joins the one before when their union is at most this much larger than the piece
JOIN_GROWTH = 1.1
#: a box in the next sample continues a track when it lies within this many of the track
#: box's own heights (text moves, but not across the frame in half a second)
REACH_HEIGHTS = 2.0


@dataclass(frozen=True, slots=True)
class CoverSpan:
    """One opaque box drawn on every frame shown from ``start`` to ``end`` (seconds)."""

    box: Box
    start: float
    end: float


@dataclass(slots=True)
class _Track:
    points: list[tuple[float, Box]] = field(default_factory=list)


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def near(a: Box, b: Box) -> bool:
    """Could ``b`` be ``a`` one sample later? Within :data:`REACH_HEIGHTS` of a's height."""
    reach = REACH_HEIGHTS * max(1, a[3] - a[1], b[3] - b[1])
    return b[0] < a[2] + reach and b[2] > a[0] - reach and b[1] < a[3] + reach and b[3] > a[1] - reach


def _distance(a: Box, b: Box) -> float:
    return abs((a[0] + a[2]) - (b[0] + b[2])) + abs((a[1] + a[3]) - (b[1] + b[3]))


def _clip(box: Box, size: tuple[int, int]) -> Box:
    width, height = size
    return (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))


def _ahead(box: Box, previous: Box) -> Box:
    """``box`` grown by the step it made since ``previous`` (where the text goes next)."""
    dx = (box[0] + box[2] - previous[0] - previous[2]) // 2
    dy = (box[1] + box[3] - previous[1] - previous[3]) // 2
    return union(box, (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy))


def tracks(samples: Sequence[tuple[float, Sequence[Box]]]) -> list[list[tuple[float, Box]]]:
    """Boxes linked across consecutive samples; ``samples`` are (time, boxes) in time order,
    every sample listed (one without boxes breaks every track)."""
    done: list[_Track] = []
    live: list[_Track] = []  # tracks seen in the previous sample
    for time, boxes in samples:
        candidates, live = live, []
        for box in boxes:
            fitting = [t for t in candidates if near(t.points[-1][1], box)]
            if fitting:
                track = min(fitting, key=lambda t: _distance(t.points[-1][1], box))
                candidates.remove(track)
            else:
                track = _Track()
            track.points.append((time, box))
            live.append(track)
        # Tracks not continued in this sample end here.
        done.extend(candidates)
    done.extend(live)
    return [t.points for t in done]


def track_spans(
    points: Sequence[tuple[float, Box]], *, interval: float, slack: float, size: tuple[int, int]
) -> list[CoverSpan]:
    """The covers for one track; see the module docstring."""
    hold = interval + slack
    first_time, first_box = points[0]
    last_time, last_box = points[-1]
    if len(points) == 1:
        pieces = [CoverSpan(first_box, first_time - hold, first_time + hold)]
    else:
        pieces = [CoverSpan(_ahead(first_box, points[1][1]), first_time - hold, first_time)]
        pieces += [CoverSpan(union(a, b), ta, tb) for (ta, a), (tb, b) in itertools.pairwise(points)]
        pieces.append(CoverSpan(_ahead(last_box, points[-2][1]), last_time, last_time + hold))
    joined: list[CoverSpan] = []
    for piece in pieces:
        if joined:
            prev = joined[-1]
            both = union(prev.box, piece.box)
            # Measured against the new piece alone, so a slow crawl cannot snowball into one huge box.
            if area(both) <= JOIN_GROWTH * area(piece.box):
                joined[-1] = CoverSpan(both, prev.start, max(prev.end, piece.end))
                continue
        joined.append(piece)
    return [CoverSpan(_clip(p.box, size), max(0.0, p.start), p.end) for p in joined]


def plan_covers(
    samples: Sequence[tuple[float, Sequence[Box]]],
    *,
    interval: float,
    slack: float,
    size: tuple[int, int],
) -> list[CoverSpan]:
    """Every cover to draw, in order of start time; boxes with no area are dropped."""
    spans = [
        span
        for points in tracks(samples)
        for span in track_spans(points, interval=interval, slack=slack, size=size)
        if area(span.box) > 0
    ]
    return sorted(spans, key=lambda s: (s.start, s.box))


def even_outwards(box: Box, size: tuple[int, int]) -> Box:
    """``box`` with even edges, grown never shrunk: 4:2:0 chroma covers pixels in pairs."""
    left, top, right, bottom = box
    grown = (left - left % 2, top - top % 2, right + right % 2, bottom + bottom % 2)
    return _clip(grown, (size[0] + size[0] % 2, size[1] + size[1] % 2))
