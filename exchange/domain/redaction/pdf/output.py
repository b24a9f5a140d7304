"""Writing a redacted PDF: always a full rewrite, never an incremental update.

A full rewrite leaves one revision and drops unreferenced objects, so nothing
removed from the live document survives in an earlier revision. Streams are
never decoded and recompressed here: a decompression bomb that slipped past
the limits would otherwise be inflated in memory.
"""

from __future__ import annotations

import io

import pikepdf


def save_pdf(pdf: pikepdf.Pdf) -> bytes:
    buf = io.BytesIO()
    pdf.save(
        buf,
        compress_streams=True,
        stream_decode_level=pikepdf.StreamDecodeLevel.none,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
        deterministic_id=True,
        fix_metadata_version=False,
        recompress_flate=False,
    )
    return buf.getvalue()
