"""Stream an upload's bytes to staging as Django's multipart parser reads them.

Django's own handlers keep small files in memory and large ones in the web host's temp
directory, which a worker on another machine cannot see (FIELD_NOTES, "Uploads"). This handler
writes each 1 MiB chunk straight to where the worker will read it: a staging file beside
MEDIA_ROOT, or an S3 multipart upload under incoming/. Memory stays bounded by one S3 part.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from media_pipeline import storage

logger = logging.getLogger(__name__)
WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# S3 parts must be ≥5 MiB (but the last); 8 MiB keeps memory per upload small and parts few.
S3_PART_SIZE = 8 * 1024 * 1024


class UploadTooLarge(Exception):
    """The body exceeded MEDIA_MAX_UPLOAD_SIZE while streaming (no usable Content-Length)."""


class StagedFile(UploadedFile):
    """What `request.FILES['file']` holds: the name and size of bytes already in staging."""

    def __init__(self, asset_id: uuid.UUID, staging_key: str, name: str, size: int,
                 content_type: str) -> None:
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.asset_id = asset_id
        self.staging_key = staging_key

    def close(self) -> None:
        """Nothing is open: the bytes are in staging. (Django's parser closes every file it made
        when a later part breaks a limit, and the base class would close `None`.)"""


class _LocalSink:
    def __init__(self, key: str) -> None:
        storage.ensure_local_dirs()
        self.path = storage.staging_path(key)
        # O_EXCL through "xb": a staging name is never reused, so nothing is overwritten.
        self.file: IO[bytes] = open(self.path, "xb")  # noqa: SIM115 - open across chunks; close()

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def finish(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class _S3Sink:
    """A multipart upload to incoming/<asset id>, fed one part at a time; aborted on failure."""

    def __init__(self, key: str) -> None:
        self.client = storage.s3_client()
        self.bucket = storage.s3_bucket()
        self.key = key
        self.buffer = bytearray()
        self.parts: list[dict[str, Any]] = []
        self.completed = False
        self.upload_id = storage.call_s3(self.client.create_multipart_upload,
                                         Bucket=self.bucket, Key=key)["UploadId"]

    def _send_part(self) -> None:
        number = len(self.parts) + 1
        response = storage.call_s3(self.client.upload_part, Bucket=self.bucket, Key=self.key,
                              UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buffer))
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self.buffer.clear()

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= S3_PART_SIZE:
            self._send_part()

    def finish(self) -> None:
        if self.buffer or not self.parts:
            self._send_part()
        storage.call_s3(self.client.complete_multipart_upload, Bucket=self.bucket, Key=self.key,
                   UploadId=self.upload_id, MultipartUpload={"Parts": self.parts})
        self.completed = True

    def discard(self) -> None:
        # An unfinished multipart upload is billed until aborted (FIELD_NOTES, "S3").
        try:
            if self.completed:
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
            else:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                   UploadId=self.upload_id)
        except storage.S3_ERRORS:
            logger.exception("could not abort multipart upload %s of %s", self.upload_id, self.key)


class StagingUploadHandler(FileUploadHandler):
    """Accept exactly one file, in the form field `file`, and stream it to staging."""

    FIELD = "file"
    # Django's parser reads the body in the smallest chunk its handlers ask for; 1 MiB (not
    # the default 64 KiB) cuts Python overhead per byte and still bounds memory.
    chunk_size = 1024 * 1024

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.asset_id = uuid.uuid4()
        self.staging_key = storage.staging_key(self.asset_id)
        self.sink: _LocalSink | _S3Sink | None = None
        self.staged: StagedFile | None = None
        self.receiving = False  # True while the parser feeds the one file we keep
        self.received = 0

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        # Other fields and any second file are read and dropped, never stored.
        self.receiving = field_name == self.FIELD and self.sink is None
        if self.receiving:
            self.sink = _S3Sink(self.staging_key) if storage.backend() == "s3" else _LocalSink(self.staging_key)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if not self.receiving:
            return None
        self.received += len(raw_data)
        if self.received > settings.MEDIA_MAX_UPLOAD_SIZE:
            self.discard()
            raise UploadTooLarge(self.received)
        self.sink.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StagedFile | None:
        if not self.receiving:
            return None
        self.receiving = False
        self.sink.finish()
        self.staged = StagedFile(self.asset_id, self.staging_key, self.file_name,
                                 self.received, self.content_type)
        return self.staged

    def upload_interrupted(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove whatever reached staging: no asset will be created for it."""
        if self.sink is not None:
            self.sink.discard()
            self.sink = None
        self.receiving = False
        self.staged = None


# Where `count_request_bodies` leaves its counter in the WSGI environ (request.META).
BODY_COUNTER = "media_pipeline.body_counter"


class CountingInput:
    """`wsgi.input`, counting the bytes the application reads from it. PEP 3333 lets a
    middleware replace `wsgi.input` with any object that has these methods."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def read(self, *size: int) -> bytes:
        data = self._stream.read(*size)
        self.count += len(data)
        return data

    def readline(self, *size: int) -> bytes:
        line = self._stream.readline(*size)
        self.count += len(line)
        return line

    def readlines(self, *hint: int) -> list[bytes]:
        lines = self._stream.readlines(*hint)
        self.count += sum(map(len, lines))
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self.count += len(line)
            yield line


def count_request_bodies(application: WSGIApplication) -> WSGIApplication:
    """WSGI middleware (project/wsgi.py): requests with a body read it through a
    `CountingInput`, so a view can tell a body cut short from one that arrived whole."""

    def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            environ["wsgi.input"] = environ[BODY_COUNTER] = CountingInput(environ["wsgi.input"])
        return application(environ, start_response)

    return counted


def body_fully_read(request: HttpRequest) -> bool:
    """Did the whole declared body arrive? A client that disconnects mid-upload leaves the
    WSGI stream short of Content-Length while the multipart parser sees a clean end (gunicorn's
    body reader returns what it has). Under ASGI Django receives the whole body before the view
    runs (a disconnect aborts the request), and there is no counter."""
    counter = request.META.get(BODY_COUNTER)
    if counter is None:
        return True
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return counter.count >= declared
