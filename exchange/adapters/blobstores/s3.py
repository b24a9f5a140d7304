"""The raw blob store on S3-compatible object storage (AWS S3, SeaweedFS, MinIO, ...).

Invariants:

* Object names are ``<prefix>/<key>`` with a server-made key
  (``keys.checked_key``): no user input, no ``..``, nothing outside the
  configured prefix.
* Writes stream: bytes are buffered up to one part (8 MiB by default) and
  sent as a multipart upload, so memory stays bounded whatever the blob's
  size; a blob smaller than a part is one ``PutObject``. An object becomes
  visible only when the upload completes; a failure aborts the multipart
  upload, so nothing half-written is ever stored under a key.
* Every call has connect and read timeouts and botocore's bounded retries
  (``standard`` mode, ``max_attempts``); once they are spent, a connection
  error, timeout or server error becomes ``StorageUnavailable`` (503), an
  out-of-space answer ``StorageFull`` (507). Messages are one line and name
  neither credentials nor object names.

Threat assumptions: the bucket may be read by someone who must not read the
documents, so callers store only ciphertext here (``EncryptedBlobStore``).
Credentials come from configuration only and are never logged or put into a
message; without configured keys boto3's own credential chain applies (an
instance role, for example).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from exchange.adapters.blobstores.guards import GuardedSink, GuardedSource, same_bytes
from exchange.adapters.blobstores.keys import checked_key
from exchange.domain.errors import StorageFull, StorageUnavailable
from exchange.ports import StoreCheck

if TYPE_CHECKING:
    from exchange.settings import S3Settings

#: S3's smallest allowed part (except the last) is 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024
_FULL_CODES = {"QuotaExceeded", "XMinioStorageFull", "InsufficientStorage", "EntityTooLarge"}
_DENIED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def translate(exc: BaseException) -> BaseException:
    """The domain error for a failure of the object store (others pass through unchanged)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _FULL_CODES or status == 507:
            return StorageFull("the object store has no room for this blob; nothing was stored")
        if code == "NoSuchBucket":
            return StorageUnavailable("the object store's bucket does not exist")
        if code in _DENIED_CODES or status == 403:
            return StorageUnavailable("the object store refused the configured credentials")
        return StorageUnavailable(f"the object store answered with an error (HTTP {status or code})")
    if isinstance(exc, BotoCoreError | Urllib3Error | ConnectionError | TimeoutError):
        return StorageUnavailable("the object store is unreachable; try again later")
    return exc


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES


class _MultipartUpload:
    """A write end holding at most one part in memory."""

    def __init__(self, client: Any, bucket: str, name: str, part_size: int) -> None:
        self._client, self._bucket, self._name = client, bucket, name
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        #: the most bytes held in memory at once, for tests of the memory bound
        self.peak_buffered = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.peak_buffered = max(self.peak_buffered, len(self._buffer))
        while len(self._buffer) >= self._part_size:
            # One copy of the part, not two: a slice of a bytearray would be a second.
            with memoryview(self._buffer) as view:
                part = bytes(view[: self._part_size])
            del self._buffer[: self._part_size]
            self._send(part)

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._name)
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self._name, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def complete(self) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._name, Body=bytes(self._buffer))
            return
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._name,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        # The upload was never completed, so no object exists under the key;
        # a bucket lifecycle rule reaps parts an outage kept us from aborting.
        with suppress(BotoCoreError, ClientError, Urllib3Error):
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._name, UploadId=self._upload_id)


class S3RawStore:
    backend = "s3"

    def __init__(
        self, bucket: str, prefix: str, settings: S3Settings, part_size: int = 8 * 1024 * 1024
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError("S3 parts are at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self._create_bucket = settings.create_bucket
        self._bucket_ready = not settings.create_bucket
        #: the latest write end, so tests and benchmarks can read its memory peak
        self.last_upload: _MultipartUpload | None = None
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            # Path-style names work with every S3-compatible server; AWS still accepts them.
            s3={"addressing_style": "path" if settings.endpoint else "auto"},
            signature_version="s3v4",
        )
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint or None,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id or None,
            aws_secret_access_key=settings.secret_access_key or None,
            config=config,
        )

    def _name(self, key: str) -> str:
        key = checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            try:
                self._client.create_bucket(Bucket=self.bucket)
            except ClientError as made:
                # Another process may have created it between our two calls.
                code = str(made.response.get("Error", {}).get("Code"))
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    @contextmanager
    def writer(self, key: str) -> Iterator[GuardedSink]:
        name = self._name(key)
        upload = _MultipartUpload(self._client, self.bucket, name, self.part_size)
        sink = GuardedSink(upload.write, translate)
        try:
            self._ensure_bucket()
            yield sink
            sink.raise_failure()
            upload.complete()
        except BaseException as exc:
            upload.abort()
            mapped = translate(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            self.last_upload = upload

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        body = self._open(key)
        try:
            yield GuardedSource(body, translate)  # type: ignore[misc]
        finally:
            body.close()

    def _open(self, key: str) -> Any:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError("no blob under this key") from None
            raise translate(exc) from exc
        except (BotoCoreError, Urllib3Error) as exc:
            raise translate(exc) from exc

    def chunks(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        # Opened here, not in the generator, so an outage fails before a response streams.
        return self._iterate(self._open(key), chunk_size)

    @staticmethod
    def _iterate(body: Any, chunk_size: int) -> Iterator[bytes]:
        source = GuardedSource(body, translate)
        try:
            while chunk := source.read(chunk_size):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError, Urllib3Error) as exc:
            raise translate(exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise translate(exc) from exc
        except (BotoCoreError, Urllib3Error) as exc:
            raise translate(exc) from exc
        return True

    def check(self) -> StoreCheck:
        started = time.perf_counter()
        name = f"{self.prefix}/.probe/{secrets.token_hex(8)}".lstrip("/")
        payload = secrets.token_bytes(16)
        try:
            self._ensure_bucket()
            self._client.put_object(Bucket=self.bucket, Key=name, Body=payload)
            read = self._client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
            self._client.delete_object(Bucket=self.bucket, Key=name)
            same_bytes(read, payload)
        except (BotoCoreError, ClientError, Urllib3Error, StorageUnavailable) as exc:
            error = translate(exc)
            reason = error.message if isinstance(error, StorageUnavailable) else "the object store failed"
            status = error.status if isinstance(error, StorageUnavailable) else 503
            return StoreCheck(self.backend, False, _ms(started), reason, status)
        return StoreCheck(self.backend, True, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
