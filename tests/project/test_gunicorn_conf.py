"""project/gunicorn_conf.py under a real gunicorn: a worker whose threads are all streaming
leaves new connections to one that has a thread free, every connection carries one request,
and another gunicorn release is refused at start-up."""

from __future__ import annotations

import http.client
import socket
import time
from http import HTTPStatus

import pytest

from project import gunicorn_conf
from tests.streaming.sites import SMALL, Site, gunicorn

pytestmark = pytest.mark.integration
Assets = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def urls(site: tuple[Site, Assets]) -> dict[str, str]:
    """The stream URLs of the session's site (tests/conftest.py), by name."""
    return {name: asset["url"] for name, asset in site[1].items()}


def _get_range(connection: http.client.HTTPConnection, url: str, start: int) -> http.client.HTTPResponse:
    connection.request("GET", url, headers={"Range": f"bytes={start}-{start + 99}"})
    response = connection.getresponse()
    assert response.read() == SMALL[start : start + 100]
    assert response.status == HTTPStatus.PARTIAL_CONTENT
    return response


def test_a_worker_with_every_thread_streaming_leaves_new_connections_to_another(
        site: tuple[Site, Assets], urls: dict[str, str]) -> None:
    with gunicorn(site[0], workers=2, threads=1) as server:
        # A viewer that stops reading: its worker's only thread blocks in sendfile.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(f"GET {urls['huge']} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        time.sleep(0.5)
        try:
            # With gthread's default worker_connections, about half of these would wait
            # behind the stalled stream for as long as it lasts (the 5 s timeout here).
            for index in range(20):
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                started = time.perf_counter()
                _get_range(connection, urls["small"], index * 100)
                assert time.perf_counter() - started < 2.0, index
                connection.close()
        finally:
            stalled.close()


def test_each_connection_carries_one_request(site: tuple[Site, Assets], urls: dict[str, str]) -> None:
    """No idle connection is kept: one would count against the worker's threads."""
    with gunicorn(site[0], workers=1, threads=2) as server:
        for index in range(3):  # and the next connection is served as the first was
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            response = _get_range(connection, urls["small"], index * 100)
            assert response.headers["Connection"] == "close"
            connection.close()


def test_the_settings_start_gunicorn_without_a_warning(site: tuple[Site, Assets],
                                                        urls: dict[str, str]) -> None:
    with gunicorn(site[0], workers=1, threads=2, LOG_LEVEL="INFO") as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        _get_range(connection, urls["small"], 0)
        connection.close()
    text = (site[0].workdir / f"gunicorn-{server.port}.log").read_text()
    assert "Booting worker" in text  # the log is gunicorn's
    assert "[WARNING]" not in text, text


@pytest.mark.parametrize("version", [(26, 1, 0), (28, 0, 0), (22, 0)])
def test_another_gunicorn_is_refused(version: tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError, match="tested with gunicorn 27"):
        gunicorn_conf.check_gunicorn_version(version)


def test_the_gunicorn_it_was_tested_with_is_accepted() -> None:
    gunicorn_conf.check_gunicorn_version((27, 0, 1))
    gunicorn_conf.check_gunicorn_version((27, 9))
