"""GET/HEAD on an asset's stream URL through Django: authorise, then send what
`answers.answer` decides (the checklist is there). `middleware.StreamMiddleware` answers signed
requests the same way (`answer_for`) before the rest of the stack runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseForbidden,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from streaming.access import authorised_asset, authorised_original
from streaming.answers import Answer, answer
from streaming.conf import stream_settings
from streaming.objects import Streamable
from streaming.responses import body_response


def django_response(request: HttpRequest, reply: Answer) -> HttpResponseBase:
    """The Django response for an answer: streaming when it has a body, empty otherwise."""
    if reply.body is not None:
        return body_response(request, reply.status, reply.body, reply.headers)
    response: HttpResponseBase
    if reply.status == HTTPStatus.NOT_MODIFIED:
        # Streaming (with nothing to stream) so that CommonMiddleware does not give the 304 a
        # "Content-Length: 0", which RFC 9110 §8.6 forbids: a 304's length is the 200's.
        response = StreamingHttpResponse((), status=reply.status)
    else:
        response = HttpResponse(status=reply.status)
    del response["Content-Type"]  # Django's default; an answer names its own type or none
    for name, value in reply.headers.items():
        response[name] = value
    return response


def answer_for(request: HttpRequest, asset: Streamable, download: bool) -> HttpResponseBase:
    """The response to a request for an asset it may read."""
    reply = answer(request.method or "GET", request.headers, asset, download=download,
                   conf=stream_settings())
    return django_response(request, reply)


def _serve(request: HttpRequest, authorise: Callable[[HttpRequest, uuid.UUID], Streamable],
           asset_id: uuid.UUID, download: bool) -> HttpResponseBase:
    try:
        asset = authorise(request, asset_id)
    except PermissionDenied:
        # Answered here rather than raised: Django would log a traceback for every expired URL
        # a player retries, and for each forged one.
        return HttpResponseForbidden()
    return answer_for(request, asset, download)


@require_safe
def stream(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponseBase:
    """Serve an asset's bytes to whoever may read them (403/404 from `authorised_asset`)."""
    return _serve(request, authorised_asset, asset_id, request.GET.get("download") == "1")


@require_safe
def original(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponseBase:
    """The upload as it was sent, to its owner, as an attachment, with Range like a stream."""
    return _serve(request, authorised_original, asset_id, download=True)
