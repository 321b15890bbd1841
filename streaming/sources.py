"""Where the bytes come from: a small protocol with a local-disk and an S3 implementation,
opened from a `Streamable`'s location (streaming/objects.py).

Size and validators come from the resolver (the project's database), never from the backend,
so a seek costs one open or one ranged GetObject and nothing else (FIELD_NOTES, "S3"). Backend
errors leave as `FileNotFoundError` (the stored object is gone or is not the one the database
describes) and `TransientStorageError` (retry later), through `streaming.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import botocore.exceptions
import urllib3.exceptions

from streaming.errors import TransientStorageError, translate_s3_error
from streaming.objects import LocalFile, Streamable
from streaming.ranges import ByteRange

# Big enough that per-chunk overhead (a thread hop under ASGI, a socket write) is noise,
# small enough that 32 concurrent streams hold only a few MiB (FIELD_NOTES: 256 KiB-1 MiB).
CHUNK_SIZE = 512 * 1024
# Under ASGI each chunk costs a thread hop and an event-loop send: the largest size wins.
ASYNC_CHUNK_SIZE = 1024 * 1024
# An S3 body passes through botocore, urllib3 and http.client on every read: the largest size
# the field notes allow halves those trips (`make bench-stream`, S3 proxy).
S3_CHUNK_SIZE = 1024 * 1024
_S3_READ_ERRORS = (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, OSError)


class RangeReader(Protocol):
    """One opened range: iterate it once (sync or async); iteration always closes it."""

    def __iter__(self) -> Iterator[bytes]: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class Source(Protocol):
    """A stored representation: its metadata, and ranges opened on demand."""

    size: int
    etag: str
    last_modified: datetime | None
    content_type: str

    def open_range(self, byte_range: ByteRange) -> RangeReader: ...


class LocalRangeReader:
    """A real file positioned at the range start that never reads past the range end.

    `fileno()` plus the file's offset plus an exact Content-Length is all gunicorn's sendfile
    needs (gunicorn/http/wsgi.py `Response.sendfile` starts at `lseek(fd, 0, SEEK_CUR)` and
    sends `response_length` bytes), so through `wsgi.file_wrapper` this is zero-copy; anywhere
    else `read()` is bounded, so no server can send or read bytes outside the range.
    """

    def __init__(self, path: Path, byte_range: ByteRange) -> None:
        # Unbuffered: seek() moves the descriptor itself, which is what sendfile reads from.
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(byte_range.start)
        self._remaining = byte_range.length

    def fileno(self) -> int:
        return self._file.fileno()

    @property
    def remaining(self) -> int:
        """Bytes of the range not read yet (all of it until a server without sendfile reads)."""
        return self._remaining

    def read(self, size: int = -1) -> bytes:
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        data = self._file.read(wanted) if wanted > 0 else b""
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.read(CHUNK_SIZE):
                yield chunk
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Disk reads block: each one runs in a worker thread so the event loop keeps serving.
        try:
            while chunk := await asyncio.to_thread(self.read, ASYNC_CHUNK_SIZE):
                yield chunk
        finally:
            self.close()


class S3RangeReader:
    """The body of one ranged GetObject, read in S3_CHUNK_SIZE pieces and always closed.

    A body left open holds one of the client's pooled connections, so every path closes it:
    the end of iteration, an error, and a client disconnect (generator close under WSGI,
    task cancellation under ASGI both run the `finally`).
    """

    def __init__(self, body: Any) -> None:
        self._body = body

    def close(self) -> None:
        self._body.close()

    def _read(self) -> bytes:
        try:
            return self._body.read(S3_CHUNK_SIZE)
        except _S3_READ_ERRORS as exc:
            raise TransientStorageError(f"S3 body read failed: {exc}") from exc

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._read():
                yield chunk
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(self._read):
                yield chunk
        finally:
            self.close()


@dataclass(frozen=True)
class LocalSource:
    size: int
    etag: str
    last_modified: datetime | None
    content_type: str
    path: Path

    def open_range(self, byte_range: ByteRange) -> LocalRangeReader:
        return LocalRangeReader(self.path, byte_range)


@dataclass(frozen=True)
class S3Source:
    size: int
    etag: str
    last_modified: datetime | None
    content_type: str
    bucket: str
    key: str
    # The object's own S3 ETag: each GET is pinned to it so a replaced object is never spliced.
    s3_etag: str
    client: Any

    def open_range(self, byte_range: ByteRange) -> S3RangeReader:
        return open_s3_range(self.client, self.bucket, self.key, byte_range, self.s3_etag)


def open_s3_range(client: Any, bucket: str, key: str, byte_range: ByteRange,
                  s3_etag: str = "") -> S3RangeReader:
    """One ranged GetObject (never a HEAD first), translated at this boundary: the one S3
    reader of the project, for streams and for the worker's downloads alike. With `s3_etag`,
    the GET is pinned to that object (IfMatch)."""
    params = {"Bucket": bucket, "Key": key, "Range": f"bytes={byte_range.start}-{byte_range.end}"}
    if s3_etag:
        params["IfMatch"] = s3_etag
    try:
        response = client.get_object(**params)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412", "InvalidRange", "416"):
            # The object was replaced or truncated behind the database's back.
            raise FileNotFoundError(f"s3://{bucket}/{key} changed: {code}") from exc
        raise translate_s3_error(exc) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_s3_error(exc) from exc
    return S3RangeReader(response["Body"])


def source_for(thing: Streamable) -> LocalSource | S3Source:
    """The source for a streamable's bytes, where its resolver says they are."""
    meta = {"size": thing.size, "etag": thing.etag, "last_modified": thing.last_modified,
            "content_type": thing.content_type}
    where = thing.location
    if isinstance(where, LocalFile):
        return LocalSource(**meta, path=where.path)
    return S3Source(**meta, bucket=where.bucket, key=where.key, s3_etag=where.s3_etag,
                    client=where.client)
