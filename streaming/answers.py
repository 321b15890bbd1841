"""What to answer a stream request, decided once for both ways in: the Django view
(`views.py`) and the middleware for signed URLs (`middleware.py`).

The checklist (RFC 9110 §13, §14, §15.3.7), for an asset the caller has already authorised:

headers → preconditions (412/304) → hand-off mode → HEAD → If-Range/Range (416) → open →
200, 206 or multipart 206.

An `Answer` is plain data (status, final headers, an opened body or none), so each way in only
adapts it to its own response type and neither can drift from the other.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from http import HTTPStatus

from django.core.signals import setting_changed
from django.dispatch import receiver

from streaming.conditional import (
    RequestHeaders,
    Validators,
    evaluate_preconditions,
    if_range_allows,
)
from streaming.conf import StreamSettings
from streaming.delivery import accel_redirect, presigned_redirect
from streaming.errors import TransientStorageError
from streaming.objects import LocalFile, S3Object, Streamable
from streaming.ranges import ByteRange, RangeNotSatisfiable, ranges_for
from streaming.responses import MultipartBody, representation_headers
from streaming.sources import RangeReader, Source, source_for

logger = logging.getLogger(__name__)

@dataclass
class Answer:
    """A response as data. `headers` are final, Content-Length included where there is one;
    `body`, when set, is opened and must be iterated or closed by whoever sends it."""

    status: HTTPStatus
    headers: dict[str, str]
    body: RangeReader | MultipartBody | None = None


def _epoch(moment: datetime | None) -> int | None:
    # HTTP dates have whole seconds; comparing at that precision is what clients can send.
    return None if moment is None else int(moment.timestamp())


def empty(status: HTTPStatus, headers: dict[str, str], length: int = 0) -> Answer:
    """A bodiless answer (HEAD, 304, 412, 416) with the given headers and Content-Length."""
    headers = dict(headers)
    if status == HTTPStatus.NOT_MODIFIED:
        # §15.4.5: a 304 describes no content; it carries only validators and cache headers,
        # and no Content-Length (§8.6 allows only the 200's, which uvicorn would then expect
        # as a body; `views.django_response` keeps CommonMiddleware from adding "0").
        for name in ("Content-Type", "Content-Disposition", "Accept-Ranges"):
            headers.pop(name, None)
    else:
        headers["Content-Length"] = str(length)
    if status in (HTTPStatus.PRECONDITION_FAILED, HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE):
        headers.pop("Content-Type", None)
    return Answer(status, headers)


def _nginx_can_send(request_headers: RequestHeaders) -> bool:
    """Whether nginx can take over. Its If-Match and If-Unmodified-Since checks run against
    its own validators before the example config's add_header can replace them, so it would
    answer 412 where Django just said yes: those rare requests are served by Django itself."""
    return (request_headers.get("If-Match") is None
            and request_headers.get("If-Unmodified-Since") is None)


def _storage_failure(asset_id: uuid.UUID, exc: Exception) -> Answer:
    if isinstance(exc, TransientStorageError):
        logger.warning("stream %s: storage unavailable: %s", asset_id, exc)
        return Answer(HTTPStatus.SERVICE_UNAVAILABLE, {"Retry-After": "5", "Content-Length": "0"})
    # A ready asset whose bytes are missing or replaced: an operator problem, not the client's.
    logger.error("stream %s: stored object missing or changed: %s", asset_id, exc)
    return Answer(HTTPStatus.NOT_FOUND, {"Content-Length": "0"})


def _send(source: Source, ranges: list[ByteRange] | None, headers: dict[str, str]) -> Answer:
    """Open the range(s) and describe the 200 or 206; opening first lets 404/503 still be sent."""
    if source.size == 0:
        return empty(HTTPStatus.OK, headers)
    if ranges is None:
        headers["Content-Length"] = str(source.size)
        return Answer(HTTPStatus.OK, headers, source.open_range(ByteRange(0, source.size - 1)))
    first = source.open_range(ranges[0])
    if len(ranges) == 1:
        headers["Content-Range"] = ranges[0].content_range(source.size)
        headers["Content-Length"] = str(ranges[0].length)
        return Answer(HTTPStatus.PARTIAL_CONTENT, headers, first)
    # §14.6: the type and disposition move into the parts; the outer type is multipart.
    body = MultipartBody(source, ranges, first)
    headers["Content-Type"] = body.content_type
    headers["Content-Length"] = str(body.content_length)
    return Answer(HTTPStatus.PARTIAL_CONTENT, headers, body)


def _describe(thing: Streamable, download: bool) -> tuple[Source, dict[str, str], Validators]:
    """The source, the representation headers and the validators of a streamable."""
    source = source_for(thing)
    headers = representation_headers(source, thing.filename, download=download,
                                     public=thing.is_public)
    return source, headers, Validators(source.etag, _epoch(source.last_modified))


# Memoised by the streamable, which the resolver builds from the row it reads on every request
# (a changed row is a new key): a seek then skips building the ETag, Content-Disposition and
# Last-Modified (`make bench-request-cpu`).
_representation = lru_cache(maxsize=1024)(_describe)


@receiver(setting_changed)
def _forget_representations(**_: object) -> None:
    _representation.cache_clear()


def answer(method: str, request_headers: RequestHeaders, thing: Streamable, download: bool,
           conf: StreamSettings) -> Answer:
    """The answer to GET or HEAD on an authorised streamable."""
    source, base_headers, validators = _representation(thing, download)
    headers = dict(base_headers)  # this answer's own: the steps below add to it
    status = evaluate_preconditions(method, request_headers, validators)
    if status is not None:
        return empty(status, headers)

    where = thing.location
    if conf.delivery == "x-accel" and isinstance(where, LocalFile) and _nginx_can_send(request_headers):
        return Answer(HTTPStatus.OK, accel_redirect(where, headers, conf))
    if conf.delivery == "redirect" and isinstance(where, S3Object):
        return Answer(HTTPStatus.FOUND, presigned_redirect(where, headers, conf))

    if method == "HEAD":
        # §14.2: Range applies to GET only. HEAD never opens the file.
        return empty(HTTPStatus.OK, headers, length=source.size)
    try:
        ranges = None
        range_header = request_headers.get("Range")
        if range_header is not None and if_range_allows(request_headers.get("If-Range"), validators):
            ranges = ranges_for(range_header, source.size, conf.max_ranges)
    except RangeNotSatisfiable as exc:
        headers["Content-Range"] = f"bytes */{exc.size}"
        return empty(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, headers)
    try:
        return _send(source, ranges, headers)
    except (FileNotFoundError, TransientStorageError) as exc:
        return _storage_failure(thing.id, exc)
