"""The engine registry: a sniffed media type -> the engine that redacts it.

The worker, ``exchange scan`` and ``exchange redact`` look engines up here;
none of them branches on a file type. Adding a format means adding one
engine module and naming it in ``_ENGINE_MODULES``.

Invariant: content decides the type. The first engine whose ``sniff``
claims the bytes wins, in the order below (binary formats with magic numbers
before plain text, which accepts whatever decodes).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import BinaryIO

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import RedactionEngine

#: module path -> the engine class's name; order matters (see module docstring)
_ENGINE_MODULES: tuple[tuple[str, str], ...] = (
    ("exchange.domain.redaction.pdf.pdf_engine", "PdfEngine"),
    ("exchange.domain.redaction.office.docx", "DocxEngine"),
    ("exchange.domain.redaction.office.xlsx", "XlsxEngine"),
    ("exchange.domain.redaction.office.pptx", "PptxEngine"),
    ("exchange.domain.redaction.video.engine", "VideoEngine"),
    ("exchange.domain.redaction.image.engine", "ImageEngine"),
    ("exchange.domain.redaction.text_engine", "TextEngine"),
)


@cache
def engines() -> tuple[RedactionEngine, ...]:
    found: list[RedactionEngine] = []
    for module_name, class_name in _ENGINE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # An engine still being built is simply absent; any other import error is a bug.
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        found.append(getattr(module, class_name)())
    return tuple(found)


def supported_media_types() -> tuple[str, ...]:
    return tuple(mt for engine in engines() for mt in engine.media_types)


def sniff(head: bytes, source: BinaryIO | None = None) -> tuple[str, RedactionEngine] | None:
    """(media type, engine) for the first engine that claims the content, else None."""
    for engine in engines():
        media_type = engine.sniff(head, source)
        if media_type is not None:
            return media_type, engine
    return None


def engine_for(media_type: str) -> RedactionEngine:
    for engine in engines():
        if media_type in engine.media_types:
            return engine
    raise UnsupportedFile(f"no redaction engine for {media_type}")
