"""The WSGI fast path for signed stream URLs answers exactly as Django's full stack does.

Each request goes to both `SignedStreamFastPath(django)` and `django` alone, with the same
environ; status, headers and bytes must match. A spy on the inner app tells whether the fast
path answered itself or handed the request over, so both halves of its contract are tested.
"""

from __future__ import annotations

import re
from typing import Any
from wsgiref.util import FileWrapper

import pytest
from django.core import signals
from django.core.cache import close_caches
from django.core.handlers.base import reset_urlconf
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import RequestFactory

from media_pipeline.models import MediaAsset
from streaming.signing import Grant, stream_url
from streaming.wsgi import SignedStreamFastPath
from tests.streaming.conftest import MakeAsset, payload

DATA = payload(50_000)


class Spy:
    """The inner (Django) application, counting the requests handed to it."""

    def __init__(self) -> None:
        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.django(environ, start_response)


def run(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """Call a WSGI app as a server would, closing the body; header names lower-cased."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    result = app({**environ, "wsgi.file_wrapper": FileWrapper}, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), f"a header sent twice: {sorted(names)}"
    headers = {name.lower(): value for name, value in seen["headers"]}
    return seen["status"], headers, body


def both(url: str, method: str = "GET", secure: bool = False, query: str | None = None, **headers: str
         ) -> tuple[tuple[str, dict[str, str], bytes], tuple[str, dict[str, str], bytes], int]:
    """(fast path's answer, Django's answer, requests the fast path handed over); `query`, when
    given, is the environ's QUERY_STRING as a server would pass it (bytes decoded as Latin-1)."""
    environ = RequestFactory().generic(method, url, secure=secure, **headers).environ
    if query is not None:
        environ["QUERY_STRING"] = query
    spy = Spy()
    fast = run(SignedStreamFastPath(spy), environ)
    return fast, run(WSGIHandler(), environ), spy.calls


def same_answer(fast: tuple[str, dict[str, str], bytes], slow: tuple[str, dict[str, str], bytes]) -> None:
    """Equal, once the random multipart boundary is made the same."""
    boundary = re.compile(r"[0-9a-f]{32}")
    normal = [(status, {k: boundary.sub("B", v) for k, v in headers.items()}, boundary.sub("B", body.decode("latin-1")))
              for status, headers, body in (fast, slow)]
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
def test_signed_requests_are_answered_by_the_fast_path_as_django_would(
        make_asset: MakeAsset, headers: dict[str, str]) -> None:
    url = stream_url(make_asset(DATA))
    fast, slow, handed_over = both(url, **headers)
    same_answer(fast, slow)
    assert handed_over == 0
    assert fast[0].split()[0] in {"200", "206", "304", "412", "416"}


def test_head_and_download_and_svg_match(make_asset: MakeAsset) -> None:
    svg = make_asset(b"<svg/>", mime_type="image/svg+xml", filename="x.svg")
    for url, method in ((stream_url(make_asset(DATA)), "HEAD"),
                        (stream_url(make_asset(DATA)) + "&download=1", "GET"),
                        (stream_url(svg), "GET")):
        fast, slow, handed_over = both(url, method)
        same_answer(fast, slow)
        assert handed_over == 0
    assert fast[1]["content-disposition"].startswith("attachment")


def test_middleware_headers_are_added_as_the_middleware_would(make_asset: MakeAsset, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 3600
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    url = stream_url(make_asset(DATA))
    for secure in (False, True):
        fast, slow, handed_over = both(url, secure=secure, HTTP_RANGE="bytes=0-99")
        same_answer(fast, slow)
        assert handed_over == 0
    assert fast[1]["strict-transport-security"] == "max-age=3600"
    assert fast[1]["x-frame-options"] == "SAMEORIGIN"
    assert fast[1]["referrer-policy"] == "same-origin"


def test_query_strings_are_read_as_django_reads_them(make_asset: MakeAsset) -> None:
    path, _, signature = stream_url(make_asset(DATA)).partition("?sig=")
    answered = {  # query string: whether the fast path answers it itself
        f"sig=bogus&sig={signature}": True,  # the last value counts, as with QueryDict.get
        f"sig={signature}&download=0&download=1": True,
        f"sig={signature}&note=%FF%FE": True,  # percent-escapes that are not UTF-8
        f"sig={signature}&note=\xc3\xa9t\xe9": True,  # raw bytes that are not UTF-8
        f"download=1&sig={signature}&sig=": False,  # an empty last signature: 403, from Django
    }
    for query, fast_answers in answered.items():
        fast, slow, handed_over = both(path, query=query)
        same_answer(fast, slow)
        assert handed_over == (0 if fast_answers else 1), query
    assert fast[0].startswith("403")
    fast, _, _ = both(path, query=f"sig={signature}&download=0&download=1")
    assert fast[1]["content-disposition"].startswith("attachment")


def test_x_accel_answers_match(make_asset: MakeAsset, settings) -> None:
    settings.STREAM_DELIVERY = "x-accel"
    fast, slow, handed_over = both(stream_url(make_asset(DATA)), HTTP_RANGE="bytes=0-99")
    same_answer(fast, slow)
    assert handed_over == 0 and "x-accel-redirect" in fast[1]


def test_everything_else_is_handed_to_django(make_asset: MakeAsset, settings) -> None:
    asset = make_asset(DATA)
    url = stream_url(asset)
    unsigned = url.split("?")[0]
    cases = [
        (unsigned, "GET", {}),  # needs the session: 404 for an anonymous client
        (url.replace("sig=", "sig=0"), "GET", {}),  # tampered: 403
        (url, "POST", {}),  # 405
        (url, "GET", {"HTTP_AUTHORIZATION": "Bearer nope"}),  # the token middleware's: 401
        (url, "GET", {"HTTP_HOST": "evil.example"}),  # host validation: 400
        (stream_url(make_asset(DATA, status="failed")), "GET", {}),  # not ready: 404
    ]
    for target, method, headers in cases:
        fast, slow, handed_over = both(target, method, **headers)
        assert handed_over == 1, (target, method, headers)
        assert fast[0] == slow[0] and fast[0][:3] in {"400", "401", "403", "404", "405"}


def test_https_redirect_and_unknown_middleware_go_to_django(make_asset: MakeAsset, settings) -> None:
    url = stream_url(make_asset(DATA))
    settings.SECURE_SSL_REDIRECT = True
    fast, slow, handed_over = both(url)
    assert handed_over == 1 and fast[0] == slow[0] == "301 Moved Permanently"
    settings.SECURE_SSL_REDIRECT = False
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    fast, slow, handed_over = both(url)
    assert handed_over == 1 and fast == slow


def test_closing_the_body_closes_the_file_and_finishes_the_request(make_asset: MakeAsset) -> None:
    finished: list[object] = []

    def on_finished(**kwargs: object) -> None:
        finished.append(kwargs)

    request_finished.connect(on_finished)
    try:
        environ = RequestFactory().get(stream_url(make_asset(DATA)), HTTP_RANGE="bytes=0-9").environ
        body = SignedStreamFastPath(Spy())({**environ, "wsgi.file_wrapper": FileWrapper},
                                           lambda status, headers: None)
        assert finished == []
        descriptor = body.filelike.fileno()
        body.close()
    finally:
        request_finished.disconnect(on_finished)
    assert len(finished) == 1
    with pytest.raises(ValueError, match="closed file"):
        body.filelike._reader._file.fileno()
    assert descriptor > 2


def _serve_one(url: str) -> None:
    environ = RequestFactory().get(url, HTTP_RANGE="bytes=0-9").environ
    SignedStreamFastPath(Spy())({**environ, "wsgi.file_wrapper": FileWrapper},
                                lambda status, headers: None).close()


def test_with_only_djangos_receivers_the_request_ends_by_closing_old_connections(
        make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch) -> None:
    url = stream_url(make_asset(DATA))
    # A tripwire as well: an app of this project that connects a receiver makes the fast path
    # send the signal again, and this test asks whoever adds one to look at `_finish_request`.
    receivers = [entry[1]() for entry in request_finished.receivers]
    assert sorted(receivers, key=id) == sorted([close_old_connections, close_caches, reset_urlconf],
                                               key=id)  # a bare project's, in any order
    checked: list[bool] = []
    monkeypatch.setattr(connection, "close_if_unusable_or_obsolete", lambda: checked.append(True))
    monkeypatch.setattr(signals.request_finished, "send", lambda **kwargs: pytest.fail("sent"))
    _serve_one(url)
    assert checked == [True]


def test_a_receiver_held_strongly_gets_the_signal_once(make_asset: MakeAsset) -> None:
    url = stream_url(make_asset(DATA))
    calls: list[object] = []

    def on_finished(**kwargs: object) -> None:
        calls.append(kwargs["sender"])

    # In place of one of Django's, so that the receiver list is no longer than theirs.
    request_finished.disconnect(reset_urlconf)
    request_finished.connect(on_finished, weak=False)
    try:
        _serve_one(url)
    finally:
        request_finished.disconnect(on_finished)
        request_finished.connect(reset_urlconf)
    assert calls == [WSGIHandler]


def test_with_close_old_connections_disconnected_no_connection_is_closed(
        make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch) -> None:
    url = stream_url(make_asset(DATA))
    checked: list[bool] = []
    monkeypatch.setattr(connection, "close_if_unusable_or_obsolete", lambda: checked.append(True))
    request_finished.disconnect(close_old_connections)  # as the test client does, or an app
    try:
        _serve_one(url)
    finally:
        request_finished.connect(close_old_connections)
    assert checked == []


def test_a_withdrawn_share_is_left_to_django_which_answers_404(make_asset: MakeAsset) -> None:
    asset = make_asset(DATA, is_public=True)
    url = stream_url(asset, Grant.SHARE)
    MediaAsset.objects.filter(pk=asset.pk).update(is_public=False)
    fast, slow, handed_over = both(url)
    assert handed_over == 1
    assert fast[0].split()[0] == slow[0].split()[0] == "404"
