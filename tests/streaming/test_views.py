"""The stream view through Django's test client, on local files of its own."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from streaming.signing import stream_url
from tests.streaming.conftest import MakeAsset, payload

DATA = payload(10_000)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def parse_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body strictly on CRLF framing (RFC 9110 §14.6)."""
    boundary = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", content_type)[1].encode()
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts = []
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary)[1:-1]:
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers, data))
    return parts


def test_full_get_sends_the_file_with_representation_headers(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(DATA)
    response = client.get(stream_url(asset))
    assert response.status_code == HTTPStatus.OK
    assert body_of(response) == DATA
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{asset.sha256}"'
    assert response["Last-Modified"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"] == 'inline; filename="clip.mp4"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-0", 0, 0), ("bytes=0-1", 0, 1), ("bytes=100-199", 100, 199), ("bytes=9990-", 9990, 9999),
     ("bytes=-10", 9990, 9999), ("bytes=5000-999999", 5000, 9999), ("bytes = 7-8", 7, 8)],
)
def test_single_range_is_a_206_with_exact_bytes(client: Client, make_asset: MakeAsset,
                                                header: str, start: int, end: int) -> None:
    response = client.get(stream_url(make_asset(DATA)), headers={"Range": header})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["Content-Type"] == "video/mp4"
    assert body_of(response) == DATA[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=-0", "bytes=10000-", "bytes=20000-30000"])
def test_unsatisfiable_range_is_416_with_star_content_range_and_kept_headers(
        client: Client, make_asset: MakeAsset, header: str) -> None:
    asset = make_asset(DATA)
    response = client.get(stream_url(asset), headers={"Range": header})
    assert response.status_code == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
    assert response["Content-Range"] == "bytes */10000"
    assert response.content == b""
    assert response["Content-Length"] == "0"
    assert response["ETag"] == f'"{asset.sha256}"'
    assert response["Cache-Control"] == "private"
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=5-4", "bytes=x", "bytes=0-,0-"])
def test_ignored_range_headers_get_the_whole_file(client: Client, make_asset: MakeAsset, header: str) -> None:
    response = client.get(stream_url(make_asset(DATA)), headers={"Range": header})
    assert response.status_code == HTTPStatus.OK
    assert body_of(response) == DATA


def test_several_ranges_are_multipart_with_crlf_and_exact_length(client: Client, make_asset: MakeAsset) -> None:
    response = client.get(stream_url(make_asset(DATA)), headers={"Range": "bytes=500-599, 0-9, 5-12"})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    body = body_of(response)
    assert response["Content-Length"] == str(len(body))
    parts = parse_multipart(body, response["Content-Type"])
    assert [headers["Content-Range"] for headers, _ in parts] == ["bytes 500-599/10000", "bytes 0-12/10000"]
    assert all(headers["Content-Type"] == "video/mp4" for headers, _ in parts)
    assert [data for _, data in parts] == [DATA[500:600], DATA[0:13]]


def test_head_sends_headers_and_length_without_opening_the_file(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(DATA)
    from media_pipeline.storage import local_path

    local_path(asset.storage_key).unlink()  # proof that HEAD never opens it
    response = client.head(stream_url(asset), headers={"Range": "bytes=0-9"})
    assert response.status_code == HTTPStatus.OK  # Range is defined for GET only
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""


def test_if_none_match_gives_304_without_body(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(DATA)
    response = client.get(stream_url(asset), headers={"If-None-Match": f'W/"{asset.sha256}"'})
    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert body_of(response) == b""
    assert response["ETag"] == f'"{asset.sha256}"'
    # RFC 9110 §8.6: a 304's Content-Length could only be the 200's; "0" (what Django's
    # CommonMiddleware adds to an empty response) would be wrong.
    assert "Content-Length" not in response


def test_failed_if_match_gives_412(client: Client, make_asset: MakeAsset) -> None:
    response = client.get(stream_url(make_asset(DATA)), headers={"If-Match": '"stale"'})
    assert response.status_code == HTTPStatus.PRECONDITION_FAILED


@pytest.mark.parametrize(("if_range", "status"), [("strong", 206), ("weak", 200), ("date", 206),
                                                   ("old-date", 200)])
def test_if_range_honours_only_strong_validators(client: Client, make_asset: MakeAsset,
                                                 if_range: str, status: int) -> None:
    asset = make_asset(DATA)
    value = {"strong": f'"{asset.sha256}"', "weak": f'W/"{asset.sha256}"',
             "date": "Wed, 01 May 2024 12:00:00 GMT", "old-date": "Wed, 01 May 2024 11:59:59 GMT"}[if_range]
    response = client.get(stream_url(asset), headers={"Range": "bytes=0-9", "If-Range": value})
    assert response.status_code == status
    assert body_of(response) == (DATA[:10] if status == 206 else DATA)


@pytest.mark.parametrize(
    ("mime_type", "filename", "query", "expected"),
    [
        ("video/mp4", "clip.mp4", "", 'inline; filename="clip.mp4"'),
        ("video/mp4", "clip.mp4", "&download=1", 'attachment; filename="clip.mp4"'),
        ("image/svg+xml", "x.svg", "", 'attachment; filename="x.svg"'),
        ("text/html", "x.html", "", 'attachment; filename="x.html"'),
        ("audio/mpeg", 'a "b".mp3', "", 'inline; filename="a \\"b\\".mp3"'),
        ("video/webm", "été.webm", "", "inline; filename*=utf-8''%C3%A9t%C3%A9.webm"),
        ("video/webm", "a\r\nSet-Cookie: x.webm", "", "inline; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x.webm"),
    ],
)
def test_content_disposition_follows_type_and_download_flag(client: Client, make_asset: MakeAsset,
                                                            mime_type: str, filename: str, query: str,
                                                            expected: str) -> None:
    asset = make_asset(DATA, mime_type=mime_type, filename=filename)
    response = client.get(stream_url(asset) + query)
    assert response["Content-Disposition"] == expected
    assert response["Content-Type"] == mime_type


def test_methods_other_than_get_and_head_are_405(client: Client, make_asset: MakeAsset) -> None:
    response = client.post(stream_url(make_asset(DATA)), headers={"Range": "bytes=0-1"})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_empty_file_is_an_empty_200(client: Client, make_asset: MakeAsset) -> None:
    response = client.get(stream_url(make_asset(b"")), headers={"Range": "bytes=-5"})
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Length"] == "0"


def test_missing_stored_file_is_404_not_500(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(DATA)
    from media_pipeline.storage import local_path

    local_path(asset.storage_key).unlink()
    assert client.get(stream_url(asset)).status_code == HTTPStatus.NOT_FOUND


def test_asgi_request_gets_an_async_body_with_exact_range(make_asset: MakeAsset) -> None:
    asset = make_asset(DATA)

    async def fetch() -> tuple[object, bytes]:
        response = await AsyncClient().get(stream_url(asset), headers={"Range": "bytes=100-2099"})
        return response, b"".join([chunk async for chunk in response.streaming_content])

    # async_to_sync runs the view's ORM query back on this thread, inside the test transaction.
    response, body = async_to_sync(fetch)()
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert response.is_async
    assert body == DATA[100:2100]
