"""GET/HEAD on an asset's stream URL, composed as a checklist (RFC 9110 §13, §14, §15.3.7):

authorise → headers → preconditions (412/304) → hand-off mode → HEAD → If-Range/Range (416)
→ open → 200, 206 or multipart 206.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe

from media_pipeline.storage import TransientStorageError
from streaming.access import authorised_asset
from streaming.conditional import Validators, evaluate_preconditions, if_range_allows
from streaming.conf import stream_settings
from streaming.delivery import accel_redirect, presigned_redirect
from streaming.ranges import ByteRange, RangeNotSatisfiable, ranges_for
from streaming.responses import MultipartBody, body_response, empty_response, representation_headers
from streaming.sources import LocalSource, S3Source, Source, source_for

logger = logging.getLogger(__name__)


def _epoch(moment: datetime | None) -> int | None:
    # HTTP dates have whole seconds; comparing at that precision is what clients can send.
    return None if moment is None else int(moment.timestamp())


def _requested_ranges(request: HttpRequest, source: Source, validators: Validators,
                      max_ranges: int) -> list[ByteRange] | None:
    """The ranges to send, None for the whole file; raises RangeNotSatisfiable (416)."""
    header = request.headers.get("Range")
    if header is None or not if_range_allows(request.headers.get("If-Range"), validators):
        return None
    return ranges_for(header, source.size, max_ranges)


def _nginx_can_send(request: HttpRequest) -> bool:
    """Whether nginx can take over. Its If-Match and If-Unmodified-Since checks run against
    its own validators before the example config's add_header can replace them, so it would
    answer 412 where Django just said yes: those rare requests are served by Django itself."""
    return "If-Match" not in request.headers and "If-Unmodified-Since" not in request.headers


def _storage_failure(asset_id: uuid.UUID, exc: Exception) -> HttpResponse:
    if isinstance(exc, TransientStorageError):
        logger.warning("stream %s: storage unavailable: %s", asset_id, exc)
        response = HttpResponse(status=HTTPStatus.SERVICE_UNAVAILABLE)
        response["Retry-After"] = "5"
        return response
    # A ready asset whose bytes are missing or replaced: an operator problem, not the client's.
    logger.error("stream %s: stored object missing or changed: %s", asset_id, exc)
    return HttpResponse(status=HTTPStatus.NOT_FOUND)


def _send(request: HttpRequest, source: Source, ranges: list[ByteRange] | None,
          headers: dict[str, str]) -> HttpResponseBase:
    """Open the range(s) and build the 200 or 206; opening first lets 404/503 still be sent."""
    if source.size == 0:
        return empty_response(HTTPStatus.OK, headers)
    if ranges is None:
        whole = ByteRange(0, source.size - 1)
        return body_response(request, HTTPStatus.OK, source.open_range(whole), source.size, headers)
    first = source.open_range(ranges[0])
    if len(ranges) == 1:
        headers["Content-Range"] = ranges[0].content_range(source.size)
        return body_response(request, HTTPStatus.PARTIAL_CONTENT, first, ranges[0].length, headers)
    # §14.6: the type and disposition move into the parts; the outer type is multipart.
    body = MultipartBody(source, ranges, first)
    headers["Content-Type"] = body.content_type
    return body_response(request, HTTPStatus.PARTIAL_CONTENT, body, body.content_length, headers)


@require_safe
def stream(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponseBase:
    """Serve an asset's bytes to whoever may read them."""
    conf = stream_settings()
    asset = authorised_asset(request, asset_id)
    source = source_for(asset)
    headers = representation_headers(source, asset.filename,
                                      download=request.GET.get("download") == "1",
                                      public=asset.is_public)
    validators = Validators(source.etag, _epoch(source.last_modified))
    status = evaluate_preconditions(request.method or "GET", request.headers, validators)
    if status is not None:
        return empty_response(status, headers)

    if conf.delivery == "x-accel" and isinstance(source, LocalSource) and _nginx_can_send(request):
        return accel_redirect(asset.storage_key, headers, conf)
    if conf.delivery == "redirect" and isinstance(source, S3Source):
        return presigned_redirect(asset.storage_key, headers, conf)

    if request.method == "HEAD":
        # §14.2: Range applies to GET only. HEAD never opens the file.
        return empty_response(HTTPStatus.OK, headers, length=source.size)
    try:
        ranges = _requested_ranges(request, source, validators, conf.max_ranges)
    except RangeNotSatisfiable as exc:
        headers["Content-Range"] = f"bytes */{exc.size}"
        return empty_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, headers)
    try:
        return _send(request, source, ranges, headers)
    except (FileNotFoundError, TransientStorageError) as exc:
        return _storage_failure(asset.id, exc)
