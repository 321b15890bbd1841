"""Slow clients against a loopback server: connections that send a request header one line at
a time and never finish it (the "slowloris" attack), held from a single thread.

A thread per client would measure the test's own scheduler; one selector loop holds a
thousand sockets for a few hundred small sends a second. A client the server closes is
reconnected, as an attacker would, so the pressure lasts; the time it was held is recorded,
which is how a test sees a server's header timeout at work.
"""

from __future__ import annotations

import resource
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
# Closing with a zero linger sends RST: no TIME_WAIT left behind for each of a thousand ports.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)
_SELECT_SECONDS = 0.05


@contextmanager
def open_file_limit(at_least: int) -> Iterator[None]:
    """This process may open `at_least` descriptors within the block (a thousand sockets pass
    the usual soft limit of 1024); the soft limit is put back afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < at_least:
        raise OSError(f"RLIMIT_NOFILE hard limit {hard} is below {at_least}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, at_least), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class _Client:
    sock: socket.socket
    opened_at: float
    next_line_at: float
    lines: int = 0


@dataclass(frozen=True)
class SwarmStats:
    opened: int  # connections made: the first ones and every reconnection
    open_now: int
    peak_open: int  # the most that were open at one moment
    held_seconds: tuple[float, ...]  # how long each connection the server closed was held
    error: str | None  # why the thread stopped early, if it did


class SlowHeaderClients:
    """`count` connections to `port`, each sending a request line and then one header line
    every `interval` seconds, never the blank line that ends a header.

    A context manager: entering returns once all are connected (or raises); leaving stops
    the thread and closes every socket. The thread also stops by itself after
    `max_seconds`, and reconnects at most `count * 4` times in all.
    """

    def __init__(self, port: int, count: int, interval: float = 2.0,
                 max_seconds: float = 30.0, opening: bytes = b"GET / HTTP/1.1\r\n",
                 drip: bytes | None = None) -> None:
        """`opening` is sent on connecting; then every `interval` one header line, or `drip`
        (for a slow body after a whole header in `opening`)."""
        self.port, self.count, self.interval, self.max_seconds = port, count, interval, max_seconds
        self.opening, self.drip = opening, drip
        self._clients: dict[int, _Client] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._opened = self._peak = 0
        self._held: list[float] = []
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        self._connected.wait(timeout=min(self.max_seconds, 20.0))
        if self._error is not None or not self._connected.is_set():
            self.stop()
            raise RuntimeError(f"could not open {self.count} slow clients: {self.stats()}")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sending and close every socket (the thread does, on its way out)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def stats(self) -> SwarmStats:
        with self._lock:
            return SwarmStats(self._opened, len(self._clients), self._peak, tuple(self._held),
                              None if self._error is None else repr(self._error))

    # --- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        try:
            for _ in range(self.count):
                self._open()
            self._connected.set()
            while not self._stop.is_set() and time.monotonic() < deadline:
                for key, _events in self._selector.select(_SELECT_SECONDS):
                    self._server_closed(key.fileobj)  # type: ignore[arg-type]
                self._send_due_lines(time.monotonic())
        except OSError as exc:  # refused, timed out, out of descriptors: kept for stats()
            self._error = exc
        finally:
            self._close_all()

    def _open(self) -> None:
        sock = socket.create_connection((HOST, self.port), timeout=2.0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        sock.setblocking(False)
        now = time.monotonic()
        sock.send(self.opening)
        self._selector.register(sock, selectors.EVENT_READ)
        with self._lock:
            self._clients[sock.fileno()] = _Client(sock, now, now + self.interval)
            self._opened += 1
            self._peak = max(self._peak, len(self._clients))

    def _send_due_lines(self, now: float) -> None:
        for client in [c for c in self._clients.values() if c.next_line_at <= now]:
            client.lines += 1
            client.next_line_at += self.interval
            with suppress(OSError):  # reset by the server: the selector reports it next
                client.sock.send(self.drip or b"X-Slow-%d: %d\r\n" % (client.lines, client.lines))

    def _server_closed(self, sock: socket.socket) -> None:
        """The server answered, closed or reset: record how long it held this one, reconnect."""
        with suppress(OSError):
            sock.recv(4096)
        client = self._forget(sock)
        with self._lock:
            self._held.append(time.monotonic() - client.opened_at)
            may_reopen = self._opened < self.count * 4
        if may_reopen and not self._stop.is_set():
            self._open()

    def _forget(self, sock: socket.socket) -> _Client:
        self._selector.unregister(sock)
        with self._lock:
            client = self._clients.pop(sock.fileno())
        sock.close()
        return client

    def _close_all(self) -> None:
        for client in list(self._clients.values()):
            self._forget(client.sock)
        self._selector.close()
