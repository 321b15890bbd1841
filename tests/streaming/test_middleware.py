"""`StreamMiddleware` answers signed stream requests exactly as the view does, under every
middleware above it, and passes everything else on.

Each request goes through Django's WSGI handler twice with the same environ: with the project's
MIDDLEWARE, and with `StreamMiddleware` taken out (so the view answers). Status, headers and
bytes must match. A middleware placed right under `StreamMiddleware` counts the requests that
got past it, so both halves of its contract are tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from wsgiref.util import FileWrapper

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponseBase
from django.test import RequestFactory, override_settings

from media_pipeline.models import MediaAsset
from streaming.signing import Grant, stream_url
from tests.streaming.conftest import MakeAsset, payload

DATA = payload(50_000)
STREAM_MIDDLEWARE = "streaming.middleware.StreamMiddleware"
Answer = tuple[str, dict[str, str], bytes]


class PassedOn:
    """Counts the requests that reach the middleware below `StreamMiddleware`."""

    calls = 0

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        PassedOn.calls += 1
        return self.get_response(request)


class Outermost:
    """A middleware a project might add first (an error reporter, metrics): it must see the
    stream requests too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["X-Seen-By"] = "outermost"
        return response


def run(environ: dict[str, Any]) -> Answer:
    """Call Django's WSGI handler as a server would, closing the body; names lower-cased."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    result = WSGIHandler()({**environ, "wsgi.file_wrapper": FileWrapper}, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), f"a header sent twice: {sorted(names)}"
    return seen["status"], {name.lower(): value for name, value in seen["headers"]}, body


def both(settings, url: str, method: str = "GET", secure: bool = False,
         query: str | None = None, **headers: str) -> tuple[Answer, Answer, int]:
    """(answer with the middleware, answer of the view, requests the middleware passed on)."""
    environ = RequestFactory().generic(method, url, secure=secure, **headers).environ
    if query is not None:
        environ["QUERY_STRING"] = query
    stack = list(settings.MIDDLEWARE)
    below = stack.index(STREAM_MIDDLEWARE) + 1
    PassedOn.calls = 0
    with override_settings(MIDDLEWARE=[*stack[:below], f"{__name__}.PassedOn", *stack[below:]]):
        answered = run(environ)
    passed_on = PassedOn.calls
    with override_settings(MIDDLEWARE=[name for name in stack if name != STREAM_MIDDLEWARE]):
        by_view = run(environ)
    return answered, by_view, passed_on


def same_answer(first: Answer, second: Answer) -> None:
    """Equal, once the random multipart boundary is made the same."""
    boundary = re.compile(r"[0-9a-f]{32}")
    normal = [(status, {k: boundary.sub("B", v) for k, v in headers.items()},
               boundary.sub("B", body.decode("latin-1"))) for status, headers, body in (first, second)]
    assert normal[0] == normal[1]


@pytest.fixture(autouse=True)
def _production_like(settings) -> None:
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.mark.parametrize("headers", [
    {},
    {"HTTP_RANGE": "bytes=100-299"},
    {"HTTP_RANGE": "bytes=-500"},
    {"HTTP_RANGE": "bytes=0-0"},
    {"HTTP_RANGE": "bytes=10-19, 30-39, 35-50"},
    {"HTTP_RANGE": "bytes=999999-"},
    {"HTTP_RANGE": "items=0-5"},
    {"HTTP_RANGE": "bytes=5-4"},
    {"HTTP_IF_NONE_MATCH": "*"},
    {"HTTP_IF_MATCH": '"nope"'},
    {"HTTP_IF_MODIFIED_SINCE": "Wed, 01 May 2024 12:00:00 GMT"},
    {"HTTP_IF_UNMODIFIED_SINCE": "Wed, 01 May 2024 11:00:00 GMT"},
    {"HTTP_RANGE": "bytes=0-9", "HTTP_IF_RANGE": 'W/"weak"'},
], ids=lambda headers: " ".join(f"{k}={v}" for k, v in headers.items()) or "plain")
def test_signed_requests_are_answered_by_the_middleware_as_the_view_would(
        make_asset: MakeAsset, settings, headers: dict[str, str]) -> None:
    answered, by_view, passed_on = both(settings, stream_url(make_asset(DATA)), **headers)
    same_answer(answered, by_view)
    assert passed_on == 0
    assert answered[0].split()[0] in {"200", "206", "304", "412", "416"}


def test_head_and_download_and_svg_match(make_asset: MakeAsset, settings) -> None:
    svg = make_asset(b"<svg/>", mime_type="image/svg+xml", filename="x.svg")
    for url, method in ((stream_url(make_asset(DATA)), "HEAD"),
                        (stream_url(make_asset(DATA)) + "&download=1", "GET"),
                        (stream_url(svg), "GET")):
        answered, by_view, passed_on = both(settings, url, method)
        same_answer(answered, by_view)
        assert passed_on == 0
    assert answered[1]["content-disposition"].startswith("attachment")


def test_the_middleware_above_it_act_on_its_answers(make_asset: MakeAsset, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 3600
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    settings.MIDDLEWARE = [f"{__name__}.Outermost", *settings.MIDDLEWARE]
    url = stream_url(make_asset(DATA))
    for secure in (False, True):
        answered, by_view, passed_on = both(settings, url, secure=secure, HTTP_RANGE="bytes=0-99")
        same_answer(answered, by_view)
        assert passed_on == 0
    headers = answered[1]
    assert headers["strict-transport-security"] == "max-age=3600"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-seen-by"] == "outermost"


def test_the_signature_is_read_as_django_reads_the_query(make_asset: MakeAsset, settings) -> None:
    path, _, signature = stream_url(make_asset(DATA)).partition("?sig=")
    cases = {  # query string: (whether the middleware answers it itself, the status)
        f"sig=bogus&sig={signature}": (True, "200"),  # the last value counts, as with QueryDict.get
        f"sig={signature}&download=0&download=1": (True, "200"),
        f"sig={signature}&note=\xc3\xa9t\xe9": (True, "200"),  # raw bytes that are not UTF-8
        f"download=1&sig={signature}&sig=": (True, "403"),  # an empty last signature
        "download=1": (False, "404"),  # no signature: the view decides, with the session
    }
    for query, (here, status) in cases.items():
        answered, by_view, passed_on = both(settings, path, query=query)
        same_answer(answered, by_view)
        assert (passed_on, answered[0][:3]) == (0 if here else 1, status), query


def test_x_accel_answers_match(make_asset: MakeAsset, settings) -> None:
    settings.STREAM_DELIVERY = "x-accel"
    answered, by_view, passed_on = both(settings, stream_url(make_asset(DATA)),
                                        HTTP_RANGE="bytes=0-99")
    same_answer(answered, by_view)
    assert passed_on == 0 and "x-accel-redirect" in answered[1]


def test_everything_else_is_passed_on(make_asset: MakeAsset, settings) -> None:
    asset = make_asset(DATA)
    url = stream_url(asset)
    public = make_asset(DATA, is_public=True)
    withdrawn = stream_url(public, Grant.SHARE)
    MediaAsset.objects.filter(pk=public.pk).update(is_public=False)
    cases = [
        (url.split("?")[0], "GET", {}),  # needs the session: 404 for an anonymous client
        (url, "POST", {}),  # 405
        (url, "GET", {"HTTP_AUTHORIZATION": "Bearer nope"}),  # the token middleware's: 401
        (stream_url(make_asset(DATA, status="failed")), "GET", {}),  # not ready: 404
        (withdrawn, "GET", {}),  # a share signature for an asset no longer shared: 404
        (url.replace("/stream/", "/stream/x/"), "GET", {}),  # another URL
    ]
    for target, method, headers in cases:
        answered, by_view, passed_on = both(settings, target, method, **headers)
        assert passed_on == 1, (target, method, headers)
        assert answered[0] == by_view[0] and answered[0][:3] in {"401", "403", "404", "405"}


def test_a_bad_signature_is_refused_as_the_view_refuses_it(make_asset: MakeAsset,
                                                            settings) -> None:
    url = stream_url(make_asset(DATA))
    for bad in (url.replace("sig=", "sig=0"), url.replace("sig=o:", "sig=s:"), url + "x"):
        answered, by_view, passed_on = both(settings, bad)
        same_answer(answered, by_view)
        assert answered[0] == "403 Forbidden" and passed_on == 0


def test_a_host_not_allowed_is_refused_as_the_stack_refuses_it(make_asset: MakeAsset,
                                                               settings) -> None:
    answered, by_view, passed_on = both(settings, stream_url(make_asset(DATA)),
                                        HTTP_HOST="evil.example")
    assert answered[0] == by_view[0] == "400 Bad Request"
    assert passed_on == 0


def test_a_host_not_allowed_is_refused_before_the_signature_is_read(make_asset: MakeAsset,
                                                                    settings) -> None:
    bad = stream_url(make_asset(DATA)).replace("sig=", "sig=0")
    answered, by_view, passed_on = both(settings, bad, HTTP_HOST="evil.example")
    assert answered[0] == by_view[0] == "400 Bad Request"
    assert passed_on == 0


def test_https_redirect_comes_first(make_asset: MakeAsset, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    answered, by_view, passed_on = both(settings, stream_url(make_asset(DATA)))
    assert answered[0] == by_view[0] == "301 Moved Permanently"
    assert passed_on == 0


def test_closing_the_body_closes_the_file_and_finishes_the_request(make_asset: MakeAsset) -> None:
    finished: list[object] = []

    def on_finished(**kwargs: object) -> None:
        finished.append(kwargs)

    request_finished.connect(on_finished)
    try:
        environ = RequestFactory().get(stream_url(make_asset(DATA)), HTTP_RANGE="bytes=0-9").environ
        body = WSGIHandler()({**environ, "wsgi.file_wrapper": FileWrapper},
                             lambda status, headers: None)
        assert finished == []
        descriptor = body.filelike.fileno()
        body.close()
    finally:
        request_finished.disconnect(on_finished)
    assert len(finished) == 1
    assert descriptor > 2
    with pytest.raises(ValueError, match="closed file"):
        body.filelike.fileno()
