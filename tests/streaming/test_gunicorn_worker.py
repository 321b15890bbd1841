"""project/gunicorn_worker.py under a real gunicorn: a busy keep-alive connection is served on
its thread, an idle one goes back to gunicorn's poller, neither loses a request, and a worker
with no free thread leaves new connections to one that has."""

from __future__ import annotations

import email.utils
import http.client
import socket
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace

import pytest

from project import gunicorn_worker
from tests.streaming.conftest import SMALL
from tests.streaming.sites import Server, Site, gunicorn

pytestmark = pytest.mark.integration
Assets = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def url(site: tuple[Site, Assets]) -> str:
    return site[1]["small"]["url"]


@pytest.fixture
def one_thread(site: tuple[Site, Assets]) -> Iterator[Server]:
    with gunicorn(site[0], workers=1, threads=1) as server:
        yield server


def _get_range(connection: http.client.HTTPConnection, url: str, start: int) -> bytes:
    connection.request("GET", url, headers={"Range": f"bytes={start}-{start + 99}"})
    response = connection.getresponse()
    body = response.read()
    assert response.status == HTTPStatus.PARTIAL_CONTENT
    assert body == SMALL[start : start + 100]
    return body


def _main_thread_wakeups(server: Server) -> int:
    """Context switches of the worker's main thread, the one that runs gthread's poller."""
    worker = server.process_ids()[1]
    status = Path(f"/proc/{worker}/task/{worker}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)


def test_a_busy_connection_is_served_on_its_thread(site: tuple[Site, Assets], url: str) -> None:
    with gunicorn(site[0], workers=1, threads=4) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        _get_range(connection, url, 0)  # connected, the worker warmed up
        before = _main_thread_wakeups(server)
        for index in range(200):
            _get_range(connection, url, index * 100)
        woken = _main_thread_wakeups(server) - before
        connection.close()
    # gthread alone hands the connection to its main thread and back after every response:
    # at least one wake-up per request. Here the main thread only keeps its 1 s heartbeat.
    assert woken < 50, woken


def test_an_idle_connection_frees_its_thread(one_thread: Server, url: str) -> None:
    idle = http.client.HTTPConnection("127.0.0.1", one_thread.port, timeout=10)
    _get_range(idle, url, 0)
    # The only thread waits a moment for `idle`'s next request, then hands it to the poller
    # and answers another client long before `idle`'s keep-alive (5 s) runs out.
    other = http.client.HTTPConnection("127.0.0.1", one_thread.port, timeout=10)
    started = time.perf_counter()
    _get_range(other, url, 500)
    assert time.perf_counter() - started < 1.0
    # The idle connection is still open, and answered when it speaks again.
    _get_range(idle, url, 1000)
    idle.close()
    # A client that hangs up while its thread waits for it frees the thread.
    other.close()
    third = http.client.HTTPConnection("127.0.0.1", one_thread.port, timeout=10)
    _get_range(third, url, 2000)
    third.close()


def test_pipelined_requests_are_answered_in_order_without_waiting(one_thread: Server, url: str) -> None:
    starts = range(0, 200, 10)
    requests = b"".join(
        f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes={start}-{start + 9}\r\n\r\n".encode()
        for start in starts)
    with socket.create_connection(("127.0.0.1", one_thread.port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(requests)  # twenty requests at once: all but the first sit in a buffer
        reader = sock.makefile("rb")
        for start in starts:
            status = reader.readline()
            headers = dict(line.decode().rstrip("\r\n").split(": ", 1)
                           for line in iter(reader.readline, b"\r\n"))
            assert status.split()[1] == b"206", status
            assert headers["Content-Range"] == f"bytes {start}-{start + 9}/{len(SMALL)}"
            assert reader.read(int(headers["Content-Length"])) == SMALL[start : start + 10]
        # Buffered requests are served at once, not after waiting for the socket to be
        # readable (which it never becomes for them): that would be 19 x 50 ms.
        assert time.perf_counter() - started < 0.6


def test_a_worker_with_every_thread_streaming_leaves_new_connections_to_another(
        site: tuple[Site, Assets], url: str) -> None:
    huge = site[1]["huge"]["url"]
    with gunicorn(site[0], workers=2, threads=1) as server:
        # A viewer that stops reading: its worker's only thread blocks in sendfile.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(f"GET {huge} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        time.sleep(0.5)
        try:
            # gthread would queue about half of these behind the stalled stream, for good.
            for index in range(10):
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                started = time.perf_counter()
                _get_range(connection, url, index * 100)
                assert time.perf_counter() - started < 2.0, index
                connection.close()
        finally:
            stalled.close()


def test_the_date_header_is_the_time_of_the_response(one_thread: Server, url: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", one_thread.port, timeout=10)
    dates = []
    for pause in (0, 1.1):  # into the next second: the remembered text is replaced
        time.sleep(pause)
        connection.request("GET", url, headers={"Range": "bytes=0-9"})
        response = connection.getresponse()
        response.read()
        sent = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
        assert abs(sent - time.time()) < 1.5
        dates.append(response.headers["Date"])
    connection.close()
    assert dates[0] != dates[1]
    assert dates[1].endswith(" GMT")


def test_the_date_is_formatted_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.25]
    monkeypatch.setattr(gunicorn_worker, "time", SimpleNamespace(time=lambda: now[0]))
    calls: list[float] = []

    def format_date(timestamp: float) -> str:
        calls.append(timestamp)
        return email.utils.formatdate(timestamp, usegmt=True)

    http_date = gunicorn_worker._DateOncePerSecond(format_date)
    assert http_date() == http_date() == "Tue, 14 Nov 2023 22:13:20 GMT"
    now[0] += 0.7  # the same second
    assert http_date() == "Tue, 14 Nov 2023 22:13:20 GMT" and len(calls) == 1
    now[0] += 0.1  # the next one
    assert http_date() == "Tue, 14 Nov 2023 22:13:21 GMT" and len(calls) == 2
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"  # an explicit time is passed through


def test_the_worker_process_installs_the_date_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gunicorn_worker.util, "http_date", gunicorn_worker.util.http_date)
    monkeypatch.setattr(gunicorn_worker.ThreadWorker, "init_process", lambda self: None)
    worker = object.__new__(gunicorn_worker.KeepAliveThreadWorker)  # only init_process runs
    worker.init_process()
    installed = gunicorn_worker.util.http_date
    assert isinstance(installed, gunicorn_worker._DateOncePerSecond)
    worker.init_process()  # not wrapped twice
    assert gunicorn_worker.util.http_date is installed


@pytest.mark.parametrize("version", [(26, 1, 0), (28, 0, 0), (22, 0)])
def test_the_worker_refuses_a_gunicorn_it_was_not_tested_with(version: tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError, match="tested with gunicorn 27"):
        gunicorn_worker.check_gunicorn_version(version)


def test_the_worker_starts_on_the_gunicorn_it_was_tested_with() -> None:
    gunicorn_worker.check_gunicorn_version((27, 0, 1))
    gunicorn_worker.check_gunicorn_version((27, 9))
