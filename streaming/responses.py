"""Building stream responses: representation headers, bodies for WSGI and ASGI, multipart.

The view decides *what* to send; this module decides *how* the bytes travel:

- WSGI, one local range: `FileResponse` over a `LocalRangeReader`, so gunicorn hands the
  descriptor to `sendfile` (zero-copy) and every other server gets a bounded `read()`.
- WSGI otherwise: a sync iterator. ASGI: an async iterator, because Django buffers a sync
  iterator whole under ASGI (FIELD_NOTES, "Serving byte ranges").
- Several ranges: `multipart/byteranges` (RFC 9110 §14.6) with CRLF, a Content-Type and a
  Content-Range per part, and a Content-Length computed exactly before the first byte.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from http import HTTPStatus

from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date

from streaming.ranges import ByteRange
from streaming.sources import LocalRangeReader, RangeReader, Source

# Media a browser plays or shows itself. SVG is an image type but runs script, so it is
# downloaded, like HTML and everything else that could be rendered as a document.
_INLINE_PREFIXES = ("video/", "audio/", "image/")
_NEVER_INLINE = frozenset({"image/svg+xml"})
_CRLF = b"\r\n"


# The two header values below are pure functions of a few columns and are formatted anew on every
# request, seeks included: memoised, they cost a dictionary lookup (`make bench-request-cpu`).
@lru_cache(maxsize=1024)
def disposition(content_type: str, filename: str, download: bool) -> str:
    """Content-Disposition (RFC 6266, filename* per RFC 5987 through Django's helper)."""
    inline = content_type.startswith(_INLINE_PREFIXES) and content_type not in _NEVER_INLINE
    return content_disposition_header(download or not inline, filename or "download") or ""


def representation_headers(source: Source, filename: str, download: bool,
                           public: bool) -> dict[str, str]:
    """The headers every answer about this representation carries, 206 and 416 included."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": source.etag,
        "Content-Type": source.content_type,
        "Content-Disposition": disposition(source.content_type, filename, download),
        "X-Content-Type-Options": "nosniff",
        # Private media stay out of shared caches; public media may be cached briefly, short
        # enough that unsharing or deleting an asset takes effect within minutes.
        "Cache-Control": "public, max-age=300" if public else "private",
    }
    if source.last_modified is not None:
        headers["Last-Modified"] = _http_date(int(source.last_modified.timestamp()))
    return headers


@lru_cache(maxsize=1024)
def _http_date(epoch: int) -> str:
    return http_date(epoch)


class MultipartBody:
    """The parts of a multipart/byteranges body; each range is opened only when reached."""

    def __init__(self, source: Source, ranges: list[ByteRange], first: RangeReader) -> None:
        self.boundary = secrets.token_hex(16)
        self._source = source
        self._ranges = ranges
        self._current: RangeReader | None = first
        self._heads = [self._part_head(index, byte_range) for index, byte_range in enumerate(ranges)]
        self._tail = _CRLF + f"--{self.boundary}--".encode() + _CRLF

    def _part_head(self, index: int, byte_range: ByteRange) -> bytes:
        lines = [f"--{self.boundary}", f"Content-Type: {self._source.content_type}",
                 f"Content-Range: {byte_range.content_range(self._source.size)}", "", ""]
        head = "\r\n".join(lines).encode("latin-1")
        return head if index == 0 else _CRLF + head

    @property
    def content_type(self) -> str:
        return f"multipart/byteranges; boundary={self.boundary}"

    @property
    def content_length(self) -> int:
        heads = sum(len(head) for head in self._heads)
        return heads + sum(byte_range.length for byte_range in self._ranges) + len(self._tail)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for index, byte_range in enumerate(self._ranges):
                if self._current is None:
                    self._current = self._source.open_range(byte_range)
                yield self._heads[index]
                yield from self._current
                self._current = None
            yield self._tail
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for index, byte_range in enumerate(self._ranges):
                if self._current is None:
                    self._current = await asyncio.to_thread(self._source.open_range, byte_range)
                yield self._heads[index]
                async for chunk in self._current:
                    yield chunk
                self._current = None
            yield self._tail
        finally:
            self.close()


class _AsyncBody:
    """Only `__aiter__` (so Django streams it asynchronously) plus a `close()` Django calls
    from `response.close()`, which releases the file or S3 body even after a disconnect."""

    def __init__(self, reader: RangeReader | MultipartBody) -> None:
        self._reader = reader

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._reader.__aiter__()

    def close(self) -> None:
        self._reader.close()


class _SyncBody:
    def __init__(self, reader: RangeReader | MultipartBody) -> None:
        self._reader = reader

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._reader)

    def close(self) -> None:
        self._reader.close()


def body_response(request: HttpRequest, status: HTTPStatus, reader: RangeReader | MultipartBody,
                  headers: dict[str, str]) -> StreamingHttpResponse:
    """A streaming response whose body suits the server the request came through; `headers`
    include the exact Content-Length."""
    content_type = headers["Content-Type"]
    response: StreamingHttpResponse
    if isinstance(request, ASGIRequest):
        response = StreamingHttpResponse(_AsyncBody(reader), status=status,
                                         content_type=content_type)
    elif isinstance(reader, LocalRangeReader):
        response = FileResponse(reader, status=status, content_type=content_type)
        # Used only where the server cannot sendfile (or no server, as in tests).
        response.block_size = 256 * 1024
    else:
        response = StreamingHttpResponse(_SyncBody(reader), status=status,
                                         content_type=content_type)
    # Set after FileResponse guessed its own: gunicorn's sendfile stops at this Content-Length.
    for name, value in headers.items():
        response[name] = value
    return response
