"""Streaming multipart uploads: a file part's bytes go from the socket to the encryptor.

Werkzeug's form parser spools file parts above 500 KiB to plaintext temporary
files (or, kept in memory, holds whole uploads). Routes marked with
``streaming_upload`` never let Flask parse their body; they read
``request.stream`` through Werkzeug's sans-IO ``MultipartDecoder`` one chunk
at a time and hand the file part's data, as an iterator, to the upload
service, which encrypts it into the blob store as it arrives.

Invariants:

* At most one chunk (``CHUNK_BYTES``) plus the decoder's bounded buffer of a
  body is in this process's memory at a time; nothing is written to disk.
* Plain fields are capped (``MAX_FIELD_BYTES``, ``MAX_PARTS``); the file part
  must be the field ``file``; a body that ends before its closing boundary
  is an error raised from inside the chunk iterator, so the service deletes
  what it stored.
* Uploads received at once are bounded per process by a semaphore
  (``EXCHANGE_MAX_CONCURRENT_UPLOADS``); beyond it the answer is 503 with
  ``Retry-After`` before any of the body is read.
* The body's size cap is Werkzeug's ``MAX_CONTENT_LENGTH`` on the stream
  (chunked bodies included, when the server sets ``wsgi.input_terminated``)
  and the service's per-file cap on the bytes actually received.

Threat assumption: the client is hostile; the WSGI server streams
``wsgi.input`` without buffering it to disk (gunicorn does; waitress does not).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import IO, Any, TypeVar

from flask import Flask, Request, current_app, jsonify, request
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder

from exchange.domain.errors import DomainError, InvalidInput
from exchange.web.request import InMemoryUploadRequest

CHUNK_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16
#: The decoder's buffer limit: part headers plus one chunk must fit.
DECODER_BUFFER_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5
FILE_FIELD = "file"

#: endpoints whose body Flask must not parse (their handlers stream it)
STREAMING_ENDPOINTS: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


class MalformedBody(DomainError):
    """The multipart body is not well-formed (status 400)."""


class StreamingUploadRequest(InMemoryUploadRequest):
    """The app's request class, except that streaming upload routes never parse their form.

    Anything that touches ``request.form`` there (Flask-WTF's CSRF lookup
    does) sees an empty form instead of making Werkzeug read the whole body;
    the CSRF token then comes from the ``X-CSRFToken`` header as usual.
    """

    def _load_form_data(self) -> None:
        rule = self.url_rule
        if rule is not None and rule.endpoint in STREAMING_ENDPOINTS:
            self.__dict__["form"] = self.parameter_storage_class()
            self.__dict__["files"] = self.parameter_storage_class()
            return
        super()._load_form_data()


def streaming_upload(endpoint: str) -> Callable[[F], F]:
    """Mark a view (by its endpoint name) as reading its body with ``StreamingForm``."""
    STREAMING_ENDPOINTS.add(endpoint)

    def mark(func: F) -> F:
        return func

    return mark


class UploadSlots:
    """A non-blocking bound on uploads received at once in this process."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._semaphore = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.in_use = 0

    def acquire(self) -> bool:
        if not self._semaphore.acquire(blocking=False):
            return False
        with self._lock:
            self.in_use += 1
        return True

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._semaphore.release()


def install(app: Flask, slots: int) -> None:
    app.request_class = StreamingUploadRequest
    app.extensions["upload_slots"] = UploadSlots(slots)


def upload_slot(func: F) -> F:
    """Run the view only when an upload slot is free; else 503 with Retry-After."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        slots: UploadSlots = current_app.extensions["upload_slots"]
        if not slots.acquire():
            # Answered here, not raised: the error handlers would drop Retry-After.
            answer = jsonify(error="too many uploads at once; retry in a few seconds")
            return answer, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        try:
            return func(*args, **kwargs)
        finally:
            slots.release()

    return wrapper  # type: ignore[return-value]


@dataclass
class StreamingForm:
    """A multipart/form-data body read part by part from a stream."""

    stream: IO[bytes]
    boundary: bytes
    fields: dict[str, str] = field(default_factory=dict)
    _decoder: MultipartDecoder = field(init=False)
    _eof: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._decoder = MultipartDecoder(self.boundary, DECODER_BUFFER_BYTES, max_parts=MAX_PARTS)

    @classmethod
    def from_request(cls, req: Request) -> StreamingForm:
        mimetype, options = parse_options_header(req.headers.get("Content-Type", ""))
        boundary = options.get("boundary", "")
        if mimetype != "multipart/form-data" or not boundary:
            raise InvalidInput(f"send the file as multipart/form-data in the field '{FILE_FIELD}'")
        if len(boundary) > 200 or not boundary.isascii():
            raise MalformedBody("the multipart boundary is malformed")
        # request.stream applies MAX_CONTENT_LENGTH to chunked bodies too (413 while reading).
        return cls(req.stream, boundary.encode("ascii"))

    def _events(self) -> Iterator[Any]:
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError as exc:
                if self._eof:
                    raise MalformedBody("the multipart body ended before its closing boundary") from exc
                raise MalformedBody("the multipart body is malformed") from exc
            if event is NEED_DATA:
                if self._eof:
                    raise MalformedBody("the multipart body ended before its closing boundary")
                chunk = self.stream.read(CHUNK_BYTES)
                if not chunk:
                    self._eof = True
                    self._decoder.receive_data(None)
                else:
                    self._decoder.receive_data(chunk)
                continue
            yield event
            if isinstance(event, Epilogue):
                return

    def file_chunks(self, name: str = FILE_FIELD) -> tuple[str | None, Iterator[bytes]]:
        """(file name, its data as chunks) of the first file part named ``name``.

        Plain fields before it are collected (bounded). The iterator, once the
        file's data is exhausted, reads the rest of the body and raises if it
        holds another file or is malformed, so the caller's consumer sees
        every error while it can still discard what it stored.
        """
        events = self._events()
        for event in events:
            if isinstance(event, File):
                if event.name != name:
                    raise InvalidInput(f"send one file per request, in the field '{FILE_FIELD}'")
                return event.filename, self._file_data(events)
            if isinstance(event, Field):
                self._read_field(event.name, events)
            elif isinstance(event, Epilogue):
                break
        raise InvalidInput(f"send the file as multipart/form-data in the field '{FILE_FIELD}'")

    def _read_field(self, name: str, events: Iterator[Any]) -> None:
        value = bytearray()
        for event in events:
            if not isinstance(event, Data):
                raise MalformedBody("the multipart body is malformed")
            value += event.data
            if len(value) > MAX_FIELD_BYTES:
                raise InvalidInput(f"a form field is at most {MAX_FIELD_BYTES // 1024} KiB")
            if not event.more_data:
                break
        try:
            self.fields[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("form fields must be UTF-8 text") from None

    def _file_data(self, events: Iterator[Any]) -> Iterator[bytes]:
        for event in events:
            if not isinstance(event, Data):
                raise MalformedBody("the multipart body is malformed")
            if event.data:
                yield event.data
            if not event.more_data:
                break
        for event in events:
            if isinstance(event, File):
                raise InvalidInput(f"send one file per request, in the field '{FILE_FIELD}'")
            if isinstance(event, Field):
                self._read_field(event.name, events)


def request_is_streaming_upload() -> bool:
    rule = request.url_rule
    return rule is not None and rule.endpoint in STREAMING_ENDPOINTS
