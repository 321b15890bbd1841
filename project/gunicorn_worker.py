"""gunicorn's threaded worker, keeping a busy keep-alive connection on its thread for a moment.

Why by hand: after every response, gthread hands a kept-alive connection back to its main thread
(a queued callback, a pipe write to wake the poller, a poller registration) and, when the next
request arrives, back to the thread pool. A `<video>` that seeks, or a page loading its posters,
sends the next request on the same connection within milliseconds, so that round trip is paid
on nearly every request. This worker waits for the next request on the same thread for up to
`KEEPALIVE_LINGER` seconds, and only then hands the connection back as gthread does. gunicorn itself
waits on a pool thread for a new connection's first request (up to five seconds,
`gthread.DEFAULT_WORKER_DATA_TIMEOUT`); this applies the same idea to the requests after it,
for a far shorter time. `make bench-stream`'s 128 KiB seeks measure the difference.

A lingering thread is taken from the pool only while its client is idle, and for at most
`KEEPALIVE_LINGER`: with every thread busy, a new request waits that long at worst.
"""

from __future__ import annotations

import select
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

KEEPALIVE_LINGER = 0.05


def _readable_within(sock: Any, seconds: float) -> bool:
    """Whether the client sends something (a request, or its EOF) within `seconds`."""
    poller = select.poll()  # not select(): a busy worker's descriptors pass 1024
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(seconds * 1000))


class KeepAliveThreadWorker(ThreadWorker):
    """gthread, serving a connection's next request on the same thread when it comes quickly."""

    def handle(self, conn: Any) -> Any:
        while True:
            result = super().handle(conn)
            # True: answered, the connection stays open. Anything else (close, or gthread's
            # deferral of a silent new connection) goes back to gthread as it is.
            if result is not True or not self.alive:
                return result
            # Bytes of the next request may already sit in the parser's buffer (pipelining,
            # or a drained body that read ahead); the socket would not show them as readable.
            if not conn.parser.unreader.buf.getvalue() and not _readable_within(conn.sock, KEEPALIVE_LINGER):
                return result
