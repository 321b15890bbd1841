"""gunicorn's threaded worker with two changes for long streams and quick seeks.

Why by hand: gunicorn's gthread worker has neither, and no setting gives them.

1. A busy keep-alive connection stays on its thread. After every response gthread hands a
   kept-alive connection back to its main thread (a queued callback, a pipe write to wake the
   poller, a poller registration) and, when the next request arrives, back to the thread pool.
   A `<video>` that seeks, or a page loading its posters, sends the next request within
   milliseconds, so that round trip is paid on nearly every request. This worker waits for the
   next request on the same thread for up to `KEEPALIVE_LINGER` seconds, then hands the
   connection back as gthread does. gunicorn itself waits on a pool thread for a new
   connection's first request (up to five seconds, `gthread.DEFAULT_WORKER_DATA_TIMEOUT`);
   this does the same for the requests after it, for a far shorter time.

2. A worker whose threads are all taken stops accepting. gthread accepts every connection it
   can poll, and one that arrives while its threads are all streaming waits in its pool's
   queue, possibly for minutes, while another worker has threads free. Here it stays in the
   listen queue, where only workers with a free thread are watching. With 200 slow viewers
   spread over four workers of 64 threads, one worker got more than 64 of them and a new seek
   waited 11.7 s for its first byte (`make bench-stream`, capacity) before this change. A
   kept-alive connection cannot move: when its request has to wait for a thread, the worker
   stops lingering and keeping connections alive until none waits, so its clients come back
   through the listen queue.

`make bench-stream` (128 KiB seeks and capacity) measures both.

3. The Date header is formatted once a second, not once a response (`_DateOncePerSecond`).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import gunicorn
from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

KEEPALIVE_LINGER = 0.05
# The gunicorn releases this worker was written and tested against (pyproject.toml pins the
# same): it overrides gthread methods whose signatures change between major releases.
TESTED_GUNICORN = ((27, 0), (28, 0))


def check_gunicorn_version(version: tuple[int, ...] = gunicorn.version_info) -> None:
    """Refuse to start on a gunicorn this worker was not tested with, rather than misbehave."""
    low, high = TESTED_GUNICORN
    if not low <= tuple(version[:2]) < high:
        raise RuntimeError(
            f"project/gunicorn_worker.py is tested with gunicorn {low[0]}.x; this is "
            f"{'.'.join(map(str, version))}. Install the version in requirements.lock.")


check_gunicorn_version()


def _readable_within(sock: Any, seconds: float) -> bool:
    """Whether the client sends something (a request, or its EOF) within `seconds`."""
    poller = select.poll()  # not select(): a busy worker's descriptors pass 1024
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(seconds * 1000))


class _DateOncePerSecond:
    """`gunicorn.util.http_date` for the Date header of every response, formatted once a
    second, as nginx does with its cached time strings. gunicorn formats it anew for each
    response through `email.utils`, which came to 4% of a worker's CPU under 128 KiB seeks
    (py-spy). The header has whole seconds, so the text is the same."""

    def __init__(self, format_date: Callable[..., str]) -> None:
        self.format_date = format_date
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, timestamp: float | None = None) -> str:
        if timestamp is not None:
            return self.format_date(timestamp)
        second = int(time.time())
        # One tuple, read and replaced whole, so a thread sees a second with its own text. No
        # lock: threads that meet a new second together each format it, and one of the equal
        # results stays.
        last = self._last
        if last[0] != second:
            last = (second, self.format_date(second))
            self._last = last
        return last[1]


class KeepAliveThreadWorker(ThreadWorker):
    """gthread, serving a connection's next request on the same thread when it comes quickly,
    and accepting connections only while a thread is free to take them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections handed to the pool and not finished yet. Changed only on the main
        # thread (gthread submits and finishes there), so it needs no lock.
        self.in_flight = 0

    def init_process(self) -> None:
        # In the worker process, before it serves: gunicorn's responses call `util.http_date()`.
        if not isinstance(util.http_date, _DateOncePerSecond):
            util.http_date = _DateOncePerSecond(util.http_date)
        super().init_process()

    # --- 1. keep a busy connection on its thread (runs on a pool thread) --------------------

    def handle(self, conn: Any) -> Any:
        while True:
            result = super().handle(conn)
            # True: answered, the connection stays open. Anything else (close, or gthread's
            # deferral of a silent new connection) goes back to gthread as it is.
            if result is not True or not self.alive or self._requests_waiting():
                return result
            # Bytes of the next request may already sit in the parser's buffer (pipelining,
            # or a drained body that read ahead); the socket would not show them as readable.
            if not conn.parser.unreader.buf.getvalue() and not _readable_within(conn.sock, KEEPALIVE_LINGER):
                return result

    # --- 2. accept only with a free thread (runs on the main thread) ------------------------

    def enqueue_req(self, conn: Any) -> None:
        super().enqueue_req(conn)  # if the pool refuses it, nothing was counted
        self.in_flight += 1

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)  # may hand the connection to the pool again

    def _has_free_thread(self) -> bool:
        return self.in_flight < self.cfg.threads

    def _requests_waiting(self) -> bool:
        """Whether requests wait for a thread: those of kept-alive connections, which gthread
        hands to the pool whatever it holds (a new connection is not accepted then)."""
        return self.in_flight > self.cfg.threads

    @property
    def max_keepalived(self) -> int:
        """How many idle connections gthread keeps; past it, a response says "Connection:
        close". None while requests wait for a thread, so the clients of a worker full of
        streams come back through the listen queue, to a worker that can answer at once."""
        return 0 if self._requests_waiting() else self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._max_keepalived = value

    def accept(self, listener: Any) -> None:
        if not self._has_free_thread():
            self.set_accept_enabled(False)  # the connection stays queued for another worker
            return
        super().accept(listener)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting again on every turn while it has room for
        # connections; it gets it back once a request finishes and frees a thread.
        super().set_accept_enabled(enabled and self._has_free_thread())
