"""The request class: uploads spool in memory, never to a plaintext temp file.

Werkzeug writes multipart file parts above 500 KiB to a temporary file on
disk. Plaintext of uploads must not land on the web host's disk, so parts
stay in memory; MAX_CONTENT_LENGTH bounds how much one request can hold.

Werkzeug also keeps a multipart part sent without a ``name`` under the key
``None``; code that iterates form keys (Flask-WTF's CSRF lookup) expects
strings and crashed on it, so nameless parts are dropped while parsing.
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

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for field in ("form", "files"):
            parsed = self.__dict__[field]
            if None in parsed:
                self.__dict__[field] = self.parameter_storage_class(
                    [(key, value) for key, value in parsed.items(multi=True) if key is not None]
                )
