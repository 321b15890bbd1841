"""Telling an upload cut short from one that arrived whole (media_pipeline/upload.py)."""

from __future__ import annotations

import io

import pytest
from django.core.handlers.wsgi import WSGIRequest

from media_pipeline.upload import body_fully_read, count_request_bodies


def environ(body: bytes, declared: int) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/media/", "SERVER_NAME": "testserver",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/octet-stream", "CONTENT_LENGTH": str(declared)}


def read_then_check(env: dict, start_response: object) -> list[bytes]:
    """An application that reads the body, as Django's multipart parser does, then asks."""
    request = WSGIRequest(env)
    request.read()
    return [b"whole" if body_fully_read(request) else b"cut short"]


@pytest.mark.parametrize(("sent", "declared", "verdict"), [
    (b"x" * 100, 100, b"whole"),
    (b"x" * 60, 100, b"cut short"),  # the client hung up after 60 bytes
    (b"", 100, b"cut short"),
])
def test_a_body_shorter_than_its_content_length_is_cut_short(
        sent: bytes, declared: int, verdict: bytes) -> None:
    app = count_request_bodies(read_then_check)
    assert app(environ(sent, declared), lambda *a: None) == [verdict]


def test_without_the_counter_the_body_is_taken_as_whole() -> None:
    """Under ASGI, Django has received the whole body before the view runs."""
    assert read_then_check(environ(b"x" * 10, 100), lambda *a: None) == [b"whole"]


def test_lines_and_iteration_are_counted_too() -> None:
    seen: list[int] = []

    def by_lines(env: dict, start_response: object) -> list[bytes]:
        stream = env["wsgi.input"]
        stream.readline()
        stream.readlines()
        seen.append(stream.count)
        return []

    count_request_bodies(by_lines)(environ(b"a\nbb\nccc\n", 9), lambda *a: None)
    assert seen == [9]
