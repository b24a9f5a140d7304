"""The request class: uploads spool in memory, never to a plaintext temp file.

Werkzeug writes multipart file parts above 500 KiB to a temporary file on
disk. Plaintext of uploads must not land on the web host's disk, so parts
stay in memory; MAX_CONTENT_LENGTH bounds how much one request can hold.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request


class InMemoryUploadRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
