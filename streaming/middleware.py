"""Signed stream requests answered high in the middleware stack, as WhiteNoise answers static
files: `StreamMiddleware`, placed under SecurityMiddleware and XFrameOptionsMiddleware and
above the session and authentication middleware.

Why: a `<video>` that scrubs sends dozens of 128 KiB range requests, and a signed one needs
none of what the middleware below would give it (session, user, CSRF, messages) nor URL
resolving. Answered here, a seek costs what a WhiteNoise static file costs plus a signature check
and one database read (`make bench-stream`). Every middleware above this one runs as for any
request (HTTPS redirect, HSTS, Referrer-Policy, an error reporter, CORS, metrics), and every
header comes from the code that owns it.

It answers GET and HEAD on exactly the stream URL with a valid owner or share signature, no
Authorization header and an object (from the resolver, STREAM_RESOLVER) that signature opens, through the same `views.answer_for`
as the view, and a bad or expired signature with the view's 403. Everything else (no signature,
a withdrawn share, a bearer token, another method) goes on down the stack to the view, which
decides again with the session at hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase, HttpResponseForbidden
from django.urls import get_script_prefix, reverse

from streaming.objects import resolver
from streaming.signing import SIGNATURE_PARAM, SignatureCheck, check_signature
from streaming.views import answer_for

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # Django's <uuid:>
_SIGNED = (SignatureCheck.OWNER, SignatureCheck.SHARE)


def _stream_route() -> re.Pattern[str]:
    """The stream URL as a pattern of `request.path_info`, taken from the URLconf."""
    zero = uuid.UUID(int=0)
    path = "/" + reverse("streaming:stream", kwargs={"asset_id": zero})[len(get_script_prefix()):]
    return re.compile(re.escape(path).replace(re.escape(str(zero)), f"({_UUID})"))


class StreamMiddleware:
    """Answers signed stream requests; passes every other request on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self._route: re.Pattern[str] | None = None  # the URLconf may not be loaded yet

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self._answer(request)
        return self.get_response(request) if response is None else response

    def _answer(self, request: HttpRequest) -> HttpResponseBase | None:
        if self._route is None:
            self._route = _stream_route()
        match = self._route.fullmatch(request.path_info)
        if (match is None or request.method not in ("GET", "HEAD")
                or "HTTP_AUTHORIZATION" in request.META):
            return None
        # Host validation, which CommonMiddleware (below) would do: DisallowedHost becomes 400.
        request.get_host()
        asset_id = uuid.UUID(match[1])
        check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
        if check is SignatureCheck.INVALID:
            # The view's 403, without a second HMAC; Content-Length as CommonMiddleware adds it.
            return HttpResponseForbidden(headers={"Content-Length": "0"})
        if check not in _SIGNED:
            return None
        thing = resolver().stream(asset_id)
        if thing is None or not check.allows(thing.is_public):
            return None
        return answer_for(request, thing, download=request.GET.get("download") == "1")
