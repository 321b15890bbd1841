"""A WSGI fast path for signed stream URLs, in front of Django's handler (project/wsgi.py).

Why by hand: `make bench-request-cpu` puts a signed 128 KiB seek at about 260 µs of CPU through
Django's full handler and about 67 µs here; the difference is the chain of nine middleware, URL
resolving, signals and response classes, none of which such a request needs. Seeks are the hottest
request a video site gets (a `<video>` that scrubs sends dozens), and Django has no per-URL
middleware stack, so this module answers the one request shape that needs none of it.

It takes GET and HEAD on exactly `/stream/<uuid>/` with a valid `sig`, no Authorization
header, a ready asset, and a MIDDLEWARE setting made only of the classes listed below.
Everything else, and every answer it would not give itself (403, 404, 405, a host or
user-agent refusal, an HTTPS redirect, an unexpected error), goes to Django unchanged, which
decides again from scratch. What it does run is Django's own code: a real `WSGIRequest` (host
validation, scheme), `answers.answer` (the view's checklist), and the request and response hooks
of the middleware that act on such a request. tests/streaming/test_fast_path.py checks that
both ways give the same status, headers and bytes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.handlers.base import reset_urlconf
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.db import close_old_connections
from django.http import HttpResponse
from django.urls import get_script_prefix, reverse
from django.utils.module_loading import import_string

from streaming.access import ready_asset
from streaming.answers import answer
from streaming.conf import stream_settings
from streaming.signing import SIGNATURE_PARAM, SignatureCheck, check_signature
from streaming.sources import LocalRangeReader

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
_Reply = tuple[str, list[tuple[str, str]], Any]

# Middleware whose hooks change a signed GET of a stream: they run here too.
_HOOKED = (
    "django.middleware.security.SecurityMiddleware",  # HTTPS redirect, HSTS, Referrer-Policy…
    "django.middleware.common.CommonMiddleware",  # user agents, host check, Content-Length
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # X-Frame-Options
)
# Middleware that leave such a request alone: nothing here reads the session, the user, CSRF
# state or messages (each only acts when they are used), static files are outside /stream/,
# and a request with an Authorization header (the bearer-token middleware's) is not taken.
_INERT = (
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "project.middleware.MalformedSessionCookieMiddleware",  # only drops a cookie
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "media_pipeline.auth.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # acts only on a sign-in that django-axes locked out
)
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # Django's <uuid:>
_BLOCK = 256 * 1024  # read size where the server cannot sendfile
# Corking pays for long bodies (see `_cork`); a 128 KiB seek measured no gain from it, so
# short bodies skip its two extra system calls.
_CORK_FROM = 1024 * 1024


def _cork(sock: socket.socket | None) -> socket.socket | None:
    """Hold back partial TCP segments until `_Body.close` (nginx's `tcp_nopush`), so the
    headers and the sendfile'd bytes leave in full segments. `make bench-stream`'s 1 GiB full
    GET went from 2498 MiB/s uncorked to 3258 MiB/s corked (nginx: 3375 and 3629 in those
    runs). gunicorn hands the application its socket as `gunicorn.socket`."""
    if sock is None or not hasattr(socket, "TCP_CORK"):
        return None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    except OSError:
        return None
    return sock


# `request_finished`'s receivers in a bare Django project. Of the three, only the first has work
# after a request of this path: it read the database, but opened no cache (`close_caches`
# closes the caches opened on this thread, which the Django request that opened them already
# did when it finished) and set no URLconf (`reset_urlconf` undoes a request's `urlconf`).
_DJANGOS_RECEIVERS = (close_old_connections, close_caches, reset_urlconf)


def _finish_request() -> None:
    """End the request as Django's handler does, with `request_finished`, or, while only
    Django's own receivers listen, with the one of them that has work to do. Sending the signal
    took a fifth of this path's CPU (measured in process, a seek went from 88 µs to 70 µs
    without it): its receiver list is resolved under a lock and the other two receivers each
    walk a thread-local. Any other receiver (an error reporter's, a metrics app's, the test
    client's) gets the signal sent as usual."""
    # Entries are (key, receiver or a weak reference to it, is_async).
    live = [_dereference(entry[1]) for entry in signals.request_finished.receivers]
    if not all(receiver in _DJANGOS_RECEIVERS for receiver in live):
        signals.request_finished.send(sender=WSGIHandler)
    elif close_old_connections in live:  # not when disconnected (as the test client does)
        close_old_connections()


def _dereference(receiver: Any) -> Any:
    return receiver() if isinstance(receiver, weakref.ReferenceType) else receiver


class _Body:
    """The answer's body for the WSGI server: a file it can sendfile, or an iterable. Closing
    it (which every WSGI server does after the last byte, disconnects included) sends what
    corking held back, closes the file or S3 body and ends the request as Django's handler
    would (`_finish_request`)."""

    def __init__(self, reader: Any, corked: socket.socket | None = None) -> None:
        self._reader = reader
        self._corked = corked

    def fileno(self) -> int:
        return self._reader.fileno()

    def read(self, size: int = -1) -> bytes:
        return self._reader.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._reader)

    def close(self) -> None:
        try:
            if self._corked is not None:
                with contextlib.suppress(OSError):  # the client may be gone already
                    self._corked.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            self._reader.close()
        finally:
            _finish_request()


class _EnvironHeaders:
    """Request headers by HTTP name, read straight from the environ (what Django's
    `request.headers` does, without first copying every header into a new dict)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def get(self, name: str, /) -> str | None:
        return self._environ.get(_environ_key(name))


@cache
def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


def _query(environ: dict[str, Any]) -> dict[str, str]:
    """The query string's last value for each name, which is what `request.GET.get` returns,
    decoded as Django's `QueryDict` decodes it (UTF-8, else Latin-1; DEFAULT_CHARSET is not
    consulted: a signature and `download=1` are ASCII either way). A plain dict costs a third
    of a QueryDict, whose per-key lists nothing here reads."""
    raw = environ.get("QUERY_STRING", "").encode("latin-1")  # PEP 3333: the bytes as latin-1
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return dict(parse_qsl(text, keep_blank_values=True,
                          max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))


class SignedStreamFastPath:
    """WSGI middleware: answers signed stream requests itself, passes the rest to `app`."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self._route: re.Pattern[str] | None = None
        self._hooks: list[Any] | None = None
        self._request_hooks: list[Callable[[WSGIRequest], Any]] = []
        self._added: dict[bool, list[tuple[str, str]]] = {}

    def _setup(self) -> None:
        """Built on the first request, when the URLconf and settings are loaded."""
        zero = uuid.UUID(int=0)
        path = "/" + reverse("streaming:stream", kwargs={"asset_id": zero})[len(get_script_prefix()):]
        self._route = re.compile(re.escape(path).replace(re.escape(str(zero)), f"({_UUID})") + r"\Z")
        unknown = [name for name in settings.MIDDLEWARE if name not in _HOOKED + _INERT]
        if unknown:
            logger.info("stream fast path off: unknown middleware %s", ", ".join(unknown))
            self._hooks = None
            return
        passthrough = lambda request: None  # noqa: E731 - never called: only the hooks are
        self._hooks = [import_string(name)(passthrough) for name in settings.MIDDLEWARE
                       if name in _HOOKED]
        self._request_hooks = [hook.process_request for hook in self._hooks
                               if hasattr(hook, "process_request")]
        self._added = {secure: self._headers_hooks_add(secure) for secure in (False, True)}

    def _headers_hooks_add(self, secure: bool) -> list[tuple[str, str]]:
        """What the response hooks add to an answer of ours, found by running them once.

        They add the same headers to every stream answer (HSTS only over HTTPS), each only
        where the answer has none of that name (`_reply` merges them so); all our answers carry
        Content-Length, the one header CommonMiddleware adds where it is missing.
        """
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "localhost",
                   "SERVER_PORT": "443" if secure else "80", "wsgi.input": io.BytesIO(),
                   "wsgi.url_scheme": "https" if secure else "http"}
        request = WSGIRequest(environ)
        request.is_secure = lambda: secure  # type: ignore[method-assign] - whatever the proxy setting
        carrier = HttpResponse()
        carrier["Content-Length"] = "0"
        before = set(carrier.headers)
        assert self._hooks is not None
        for hook in reversed(self._hooks):
            carrier = hook.process_response(request, carrier)
        return [(name, value) for name, value in carrier.items() if name not in before]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._route is None:
            self._setup()
        assert self._route is not None
        match = self._route.match(environ.get("PATH_INFO", ""))
        if (self._hooks is None or match is None
                or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
                or "HTTP_AUTHORIZATION" in environ):
            return self.app(environ, start_response)
        # No `request_started`: its receivers reset DEBUG's query log and recycle database
        # connections, which `_finish_request` (when the body closes) does as well. A
        # connection that died while idle makes the query fail, and then Django's handler,
        # which does send `request_started`, replaces it and answers.
        try:
            reply = self._reply(environ, uuid.UUID(match[1]))
        except Exception:
            # Django answers the same request again, with its own error handling and logging.
            logger.debug("stream fast path: handing over to Django", exc_info=True)
            reply = None
        if reply is None:
            _finish_request()
            return self.app(environ, start_response)
        status, headers, reader = reply
        start_response(status, headers)
        if reader is None:
            _finish_request()
            return []
        if isinstance(reader, LocalRangeReader) and "wsgi.file_wrapper" in environ:
            large = reader.remaining >= _CORK_FROM
            body = _Body(reader, corked=_cork(environ.get("gunicorn.socket")) if large else None)
            return environ["wsgi.file_wrapper"](body, _BLOCK)
        return _Body(reader)

    def _reply(self, environ: dict[str, Any], asset_id: uuid.UUID) -> _Reply | None:
        """Status line, headers and opened body; None where Django must decide."""
        request = WSGIRequest(environ)
        for process_request in self._request_hooks:  # HTTPS redirect, user agents, host check
            if process_request(request) is not None:
                return None
        query = _query(environ)
        check = check_signature(asset_id, query.get(SIGNATURE_PARAM))
        if check not in (SignatureCheck.OWNER, SignatureCheck.SHARE):
            return None
        asset = ready_asset(asset_id)
        if asset is None or not check.allows(asset.is_public):
            return None
        reply = answer(request.method or "GET", _EnvironHeaders(environ), asset,
                       download=query.get("download") == "1", conf=stream_settings())
        headers = reply.headers  # the answer's own dict, made for this request
        for name, value in self._added[request.is_secure()]:
            headers.setdefault(name, value)  # as the hooks do: X-Content-Type-Options is ours
        return f"{reply.status.value} {reply.status.phrase}", list(headers.items()), reply.body
