"""Byte-exact answers from real gunicorn (WSGI, sendfile) and uvicorn (ASGI) processes."""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import statistics
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.streaming.conftest import BIG, HUGE_MIB, SMALL
from tests.streaming.sites import Server, Site, gunicorn, uvicorn

pytestmark = pytest.mark.integration
Assets = dict[str, dict[str, str]]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest, site: tuple[Site, Assets]) -> Iterator[Server]:
    start = gunicorn if request.param == "gunicorn" else uvicorn
    with start(site[0]) as running:
        yield running


@pytest.fixture(scope="module")
def urls(site: tuple[Site, Assets]) -> dict[str, str]:
    return {name: asset["url"] for name, asset in site[1].items()}


def fetch(server: Server, path: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def test_full_get_is_byte_exact(server: Server, urls: dict[str, str]) -> None:
    response, body = fetch(server, urls["big"])
    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Length"] == str(len(BIG))
    assert body == BIG
    assert response.headers["Content-Disposition"] == "inline; filename*=utf-8''Gr%C3%BC%C3%9Fe%20film.mp4"


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-", 0, len(BIG) - 1), ("bytes=0-0", 0, 0), ("bytes=0-1", 0, 1),
    ("bytes=4000000-4131071", 4_000_000, 4_131_071), ("bytes=-100", len(BIG) - 100, len(BIG) - 1),
    ("bytes=6000000-99999999", 6_000_000, len(BIG) - 1),
])
def test_single_range_is_byte_exact(server: Server, urls: dict[str, str], header: str,
                                    start: int, end: int) -> None:
    response, body = fetch(server, urls["big"], headers={"Range": header})
    assert response.status == HTTPStatus.PARTIAL_CONTENT
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(BIG)}"
    assert body == BIG[start : end + 1]


def test_multipart_ranges_are_byte_exact(server: Server, urls: dict[str, str]) -> None:
    response, body = fetch(server, urls["small"], headers={"Range": "bytes=10-19,50000-50009"})
    assert response.status == HTTPStatus.PARTIAL_CONTENT
    assert int(response.headers["Content-Length"]) == len(body)
    boundary = re.fullmatch(r"multipart/byteranges; boundary=(\w+)", response.headers["Content-Type"])[1]
    expected = (f"--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 10-19/100000\r\n\r\n"
                .encode() + SMALL[10:20] +
                f"\r\n--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 50000-50009/100000"
                f"\r\n\r\n".encode() + SMALL[50000:50010] + f"\r\n--{boundary}--\r\n".encode())
    assert body == expected


def test_unsatisfiable_range_is_416_without_body(server: Server, urls: dict[str, str]) -> None:
    response, body = fetch(server, urls["small"], headers={"Range": "bytes=100000-"})
    assert response.status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
    assert response.headers["Content-Range"] == "bytes */100000"
    assert body == b""


def test_not_modified_has_no_body_and_keeps_the_connection(server: Server, urls: dict[str, str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", urls["small"])
        first = connection.getresponse()
        assert first.read() == SMALL
        for _ in range(2):  # the same connection answers again after each 304
            connection.request("GET", urls["small"], headers={"If-None-Match": first.headers["ETag"]})
            response = connection.getresponse()
            assert response.status == HTTPStatus.NOT_MODIFIED
            assert response.read() == b""
            assert response.headers["ETag"] == first.headers["ETag"]
            assert response.headers.get("Content-Length") in (None, str(len(SMALL)))
    finally:
        connection.close()


def test_head_has_length_and_no_body(server: Server, urls: dict[str, str]) -> None:
    response, body = fetch(server, urls["big"], method="HEAD")
    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Length"] == str(len(BIG))
    assert body == b""


def test_abandoned_streams_leave_the_server_serving(server: Server, urls: dict[str, str]) -> None:
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"GET {urls['huge']} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert sock.recv(65536)
    _response, body = fetch(server, urls["small"], headers={"Range": "bytes=0-9"})
    assert body == SMALL[:10]


def test_streaming_a_large_file_does_not_buffer_it(server: Server, urls: dict[str, str],
                                                   site: tuple[Site, Assets]) -> None:
    before = server.peak_rss_kib()
    _response, body = fetch(server, urls["huge"])
    assert len(body) == HUGE_MIB * 1024 * 1024
    expected = hashlib.sha256((site[0].workdir / "huge.bin").read_bytes()).hexdigest()
    assert hashlib.sha256(body).hexdigest() == expected
    assert server.peak_rss_kib() - before < 32 * 1024


def _io_counters(server: Server) -> dict[str, int]:
    """/proc/<pid>/io summed over gunicorn's processes: sendfile() counts its bytes as both
    read and written characters in one system call; a read()/send() loop counts a read call
    per block and no written characters (socket sends are not counted)."""
    totals: dict[str, int] = {}
    for pid in server.process_ids():
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            name, value = line.split(":")
            totals[name] = totals.get(name, 0) + int(value)
    return totals


def test_gunicorn_sends_whole_files_and_single_ranges_with_sendfile(
        site: tuple[Site, Assets], urls: dict[str, str]) -> None:
    with gunicorn(site[0]) as running:
        fetch(running, urls["small"])  # warm up: imports, the database connection
        before = _io_counters(running)
        _, whole = fetch(running, urls["huge"])
        _, part = fetch(running, urls["huge"], headers={"Range": "bytes=1000-50000000"})
        after = _io_counters(running)
    sent = len(whole) + len(part)
    assert sent == HUGE_MIB * 1024 * 1024 + 49_999_001
    # Through sendfile the kernel moved every byte; a Python read loop would have made one
    # read() per 256 KiB block (about 700 here) and written nothing that /proc counts.
    assert after["wchar"] - before["wchar"] >= sent
    assert after["syscr"] - before["syscr"] < 100


def test_large_bodies_on_one_connection_end_without_a_stall(site: tuple[Site, Assets],
                                                            urls: dict[str, str]) -> None:
    """A body's last partial segment leaves at once: were it held back (Nagle's algorithm
    against a delayed ACK, or a cork left on), each response would end 40-200 ms late."""
    with gunicorn(site[0]) as running:
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        try:
            durations = []
            for _ in range(5):  # one keep-alive connection, as a player's
                started = time.perf_counter()
                connection.request("GET", urls["big"], headers={"Range": "bytes=1-"})
                response = connection.getresponse()
                assert response.read() == BIG[1:]
                durations.append(time.perf_counter() - started)
        finally:
            connection.close()
    assert statistics.median(durations) < 0.1, durations
