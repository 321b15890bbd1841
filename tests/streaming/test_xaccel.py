"""STREAM_DELIVERY=x-accel: Django authorises, Debian's nginx sends the file, with the
shipped deploy/nginx/media.conf."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from tests.streaming.conftest import BIG, SMALL
from tests.streaming.sites import Server, Site, gunicorn, nginx
from tests.streaming.test_servers import Assets, fetch

pytestmark = pytest.mark.integration
BIG_ETAG = f'"{hashlib.sha256(BIG).hexdigest()}"'


@pytest.fixture(scope="module")
def front(site: tuple[Site, Assets]) -> Iterator[Server]:
    with gunicorn(site[0], STREAM_DELIVERY="x-accel") as app, nginx(site[0], app.port) as server:
        yield server


@pytest.fixture(scope="module")
def urls(site: tuple[Site, Assets]) -> dict[str, str]:
    return {name: asset["url"] for name, asset in site[1].items()}


def test_nginx_sends_the_file_with_djangos_headers(front: Server, urls: dict[str, str]) -> None:
    response, body = fetch(front, urls["big"])
    assert response.status == HTTPStatus.OK
    assert body == BIG
    assert response.headers["Server"].startswith("nginx")
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Content-Disposition"].startswith("inline; filename*=utf-8''")
    assert response.headers["ETag"] == BIG_ETAG
    assert response.headers["Last-Modified"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private"
    assert response.headers.get_all("Accept-Ranges") == ["bytes"]
    assert "X-Accel-Redirect" not in response.headers


@pytest.mark.parametrize(("headers", "status", "start", "end"), [
    ({"Range": "bytes=0-0"}, 206, 0, 0),
    ({"Range": "bytes=1000000-1131071"}, 206, 1_000_000, 1_131_071),
    ({"Range": "bytes=0-9", "If-Range": BIG_ETAG}, 206, 0, 9),
    ({"Range": "bytes=0-9", "If-Range": "Wed, 01 May 2024 12:00:00 GMT"}, 206, 0, 9),
    ({"Range": "bytes=0-9", "If-Range": f"W/{BIG_ETAG}"}, 200, 0, len(BIG) - 1),
    ({"Range": "bytes=0-9", "If-Range": '"other"'}, 200, 0, len(BIG) - 1),
    ({"Range": "bytes=0-9", "If-Match": BIG_ETAG}, 206, 0, 9),
])
def test_nginx_ranges_follow_djangos_validators(front: Server, urls: dict[str, str],
                                                headers: dict[str, str], status: int,
                                                start: int, end: int) -> None:
    response, body = fetch(front, urls["big"], headers=headers)
    assert response.status == status
    assert body == BIG[start : end + 1]


@pytest.mark.parametrize(("headers", "status"), [
    ({"If-None-Match": BIG_ETAG}, 304), ({"If-Match": '"stale"'}, 412),
    ({"If-Modified-Since": "Wed, 01 May 2024 12:00:00 GMT"}, 304),
])
def test_preconditions_are_answered_by_django(front: Server, urls: dict[str, str],
                                              headers: dict[str, str], status: int) -> None:
    response, body = fetch(front, urls["big"], headers=headers)
    assert response.status == status
    assert body == b""


def test_unsigned_request_is_refused_before_nginx_reads_anything(front: Server, urls: dict[str, str]) -> None:
    response, _ = fetch(front, urls["small"].partition("?")[0])
    assert response.status == HTTPStatus.NOT_FOUND


def test_internal_location_is_not_reachable_from_outside(front: Server, site: tuple[Site, Assets]) -> None:
    response, body = fetch(front, "/_protected/" + site[1]["small"]["key"])
    assert response.status == HTTPStatus.NOT_FOUND
    assert SMALL[:100] not in body
