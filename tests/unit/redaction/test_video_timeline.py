"""Time-span merging: boxes seen at samples become covers held over time."""

from __future__ import annotations

import pytest

from exchange.domain.redaction.video.engine import DEFAULT_SAMPLE_FPS, VERIFY_OFFSET, VERIFY_RATE_FACTOR
from exchange.domain.redaction.video.timeline import (
    CoverSpan,
    even_outwards,
    plan_covers,
    tracks,
    union,
)

SIZE = (640, 360)
STEP = 0.5  # two samples per second
SLACK = 0.04  # one frame at 25 fps


def covered(spans: list[CoverSpan], time: float, box: tuple[int, int, int, int]) -> bool:
    """Is ``box`` wholly inside one cover drawn at ``time``?"""
    return any(
        s.start <= time <= s.end
        and s.box[0] <= box[0]
        and s.box[1] <= box[1]
        and s.box[2] >= box[2]
        and s.box[3] >= box[3]
        for s in spans
    )


def test_still_caption_is_one_cover_held_an_interval_beyond_its_samples() -> None:
    box = (40, 80, 400, 115)
    jitter = [(40, 80, 400, 115), (41, 79, 401, 115), (40, 81, 399, 116), (40, 80, 400, 115)]
    samples = [(0.0, []), *((1.0 + STEP * i, [b]) for i, b in enumerate(jitter)), (3.0, [])]
    spans = plan_covers(samples, interval=STEP, slack=SLACK, size=SIZE)
    assert len(spans) == 1
    (span,) = spans
    assert span.start == pytest.approx(1.0 - STEP - SLACK)
    assert span.end == pytest.approx(2.5 + STEP + SLACK)
    assert covered(spans, 0.6, box) and covered(spans, 2.9, box)


def test_single_sample_is_held_one_interval_each_way() -> None:
    samples = [(0.0, []), (0.5, [(10, 10, 50, 30)]), (1.0, [])]
    (span,) = plan_covers(samples, interval=STEP, slack=SLACK, size=SIZE)
    assert span.start == pytest.approx(0.0)  # clipped at the start of the video
    assert span.end == pytest.approx(1.0 + SLACK)


def test_moving_text_stays_covered_between_and_beyond_samples() -> None:
    # A line crawling right at 60 px/s, seen every half second: 30 px per sample.
    seen = [(1.0 + STEP * i, (40 + 30 * i, 80, 340 + 30 * i, 115)) for i in range(4)]
    spans = plan_covers([(t, [b]) for t, b in seen], interval=STEP, slack=SLACK, size=SIZE)
    # Every position the text passes through from one interval before its first sample to one
    # after its last, sampled finely, is under some cover then; the covers stay narrow.
    for k in range(50):
        time = 0.55 + k * 0.05
        x = int(40 + 60 * (time - 1.0))
        assert covered(spans, time, (x, 80, x + 300, 115)), (time, spans)
    assert all(s.box[2] - s.box[0] <= 300 + 2 * 30 for s in spans)


def test_far_boxes_are_separate_tracks() -> None:
    samples = [(0.0, [(10, 10, 60, 30), (400, 300, 500, 330)]), (0.5, [(12, 10, 62, 30)])]
    found = tracks(samples)
    assert sorted(len(t) for t in found) == [1, 2]


def test_gap_breaks_a_track() -> None:
    box = (10, 10, 60, 30)
    samples = [(0.0, [box]), (0.5, []), (1.0, [box])]
    assert len(tracks(samples)) == 2
    spans = plan_covers(samples, interval=STEP, slack=SLACK, size=SIZE)
    # Held through the gap from both sides: never uncovered between the samples.
    for k in range(21):
        assert covered(spans, k * 0.05, box)


def test_covers_are_clipped_to_the_frame() -> None:
    (span,) = plan_covers([(0.0, [(-5, -5, 700, 400)])], interval=STEP, slack=SLACK, size=SIZE)
    assert span.box == (0, 0, 640, 360)


def test_even_outwards_never_shrinks() -> None:
    assert even_outwards((3, 5, 9, 11), SIZE) == (2, 4, 10, 12)
    assert even_outwards((0, 0, 639, 359), (639, 359)) == (0, 0, 640, 360)
    box = (13, 7, 101, 55)
    assert union(box, even_outwards(box, SIZE)) == even_outwards(box, SIZE)


@pytest.mark.parametrize("source_fps", [24, 25, 30000 / 1001, 30, 50, 60])
def test_verification_never_samples_a_frame_reading_saw(source_fps: float) -> None:
    def frame(seconds: float) -> int:
        return int(seconds * source_fps + 0.5)  # the source frame shown at that moment, rounded

    read_fps = DEFAULT_SAMPLE_FPS
    verify_fps = read_fps * VERIFY_RATE_FACTOR
    read = {frame(k / read_fps) for k in range(int(600 * read_fps))}
    verified = [frame((j + VERIFY_OFFSET) / verify_fps) for j in range(int(600 * verify_fps))]
    assert len(set(verified)) == len(verified)
    assert not read.intersection(verified)
