"""Text shown upside down or sideways in footage is read, covered and verified.

The clips are the corpus clip turned by FFmpeg's own filters. The independent
check turns each extracted output frame back upright with Pillow and reads it
with the Tesseract program: the name must be gone while the harmless caption
beside it still reads. The same check on the source proves the name is there
to be found.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.detection.planner import RecipientPlan
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.video.engine import VideoDocument, VideoEngine
from tests.corpus import video as corpus

from .conftest import finder, frames, tesseract, write

LIMITS = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
#: Pillow's counter-clockwise turn that sets each corpus turn upright again
UPRIGHT = {"upside-down": 180, "top-to-bottom": 90, "bottom-to-top": 270}


@pytest.fixture(scope="module")
def upright(corpus_dir: Path) -> Path:
    return corpus.clip(corpus_dir, "turn-source.mp4", seconds=2.5, audio=False, tags=False)


def upright_readings(clip: Path, directory: Path, how: str) -> list[str]:
    texts = []
    for frame in frames(clip, directory):
        with Image.open(frame) as image:
            image.rotate(UPRIGHT[how], expand=True).save(frame)
        texts.append(" ".join(tesseract(frame).split()).casefold())
    return texts


@pytest.mark.parametrize("how", sorted(corpus.TURNS))
def test_turned_text_is_found_covered_and_verified(upright: Path, corpus_dir: Path, how: str) -> None:
    source = corpus.turned(upright, corpus_dir, how)
    before = upright_readings(source, corpus_dir / f"{how}-before", how)
    assert any(corpus.CUSTOMER.casefold() in t for t in before), before  # the name is there to find

    document = VideoEngine().read(source, LIMITS)
    assert isinstance(document, VideoDocument)
    assert any(corpus.CUSTOMER in r.text for r in document.ocr), [r.text for r in document.ocr]
    plan = RecipientPlan("supplier", finder(corpus.CUSTOMER), [corpus.CUSTOMER])
    result = VideoEngine().redact(document, plan)
    assert result.report["counts"].get("CUSTOMER"), result.report
    out = write(result, corpus_dir, f"{how}-out")
    assert result.report["verification"]["passed"], result.report

    after = upright_readings(out, corpus_dir / f"{how}-after", how)
    assert not any("kestrel" in t for t in after), after
    assert sum(corpus.HARMLESS.casefold() in t for t in after) >= len(after) // 2, after
