"""The S3 source against moto's S3 server over real HTTP."""

from __future__ import annotations

import hashlib
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from media_pipeline.streams import AssetStreams
from streaming.ranges import ByteRange
from streaming.signing import stream_url
from streaming.sources import S3Source, source_for
from tests.services import use_media_storage
from tests.streaming.conftest import READY_AT, payload
from tests.streaming.test_views import body_of, parse_multipart

pytestmark = pytest.mark.integration
DATA = payload(3 * 1024 * 1024 + 17, seed=3)


@pytest.fixture
def s3_settings(s3_server, settings) -> object:
    """Store media on the moto server for one test (the storage, and so its client, anew)."""
    s3_server.use_in(settings)
    return s3_server


@pytest.fixture
def s3_asset(s3_settings, owner) -> MediaAsset:
    asset_id = uuid.uuid4()
    key = storage.final_key(asset_id)
    put = s3_settings.client.put_object(Bucket=s3_settings.bucket, Key=key, Body=DATA)
    return MediaAsset.objects.create(
        id=asset_id, owner=owner, filename="clip.mp4", status=MediaAsset.Status.READY,
        mime_type="video/mp4", size=len(DATA), sha256=hashlib.sha256(DATA).hexdigest(),
        storage=MediaAsset.Storage.S3, storage_key=key, etag=put["ETag"], ready_at=READY_AT,
    )


def count_requests(client) -> list[str]:
    """Record every HTTP request the client sends (a botocore event hook, not a mock)."""
    seen: list[str] = []
    client.meta.events.register("before-send.s3", lambda request, **_: seen.append(request.method))
    return seen


@pytest.mark.parametrize(("start", "end"), [(0, 0), (0, len(DATA) - 1), (1_000_000, 2_500_000),
                                            (len(DATA) - 10, len(DATA) - 1)])
def test_s3_range_is_one_get_with_exact_bytes(s3_asset: MediaAsset, start: int, end: int) -> None:
    source = source_for(AssetStreams().stream(s3_asset.id))
    assert isinstance(source, S3Source)
    requests = count_requests(source.client)
    assert b"".join(source.open_range(ByteRange(start, end))) == DATA[start : end + 1]
    assert requests == ["GET"]


def test_s3_view_serves_a_seek_with_one_request(client: Client, s3_asset: MediaAsset) -> None:
    requests = count_requests(storage.s3_client())
    response = client.get(stream_url(s3_asset), headers={"Range": "bytes=2000000-2131071"})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert body_of(response) == DATA[2_000_000:2_131_072]
    assert requests == ["GET"]


def test_s3_multirange_is_one_get_per_part(client: Client, s3_asset: MediaAsset) -> None:
    requests = count_requests(storage.s3_client())
    response = client.get(stream_url(s3_asset), headers={"Range": "bytes=0-99,3000000-3000099"})
    parts = parse_multipart(body_of(response), response["Content-Type"])
    assert [data for _, data in parts] == [DATA[:100], DATA[3_000_000:3_000_100]]
    assert requests == ["GET", "GET"]


def test_s3_head_sends_no_request(client: Client, s3_asset: MediaAsset) -> None:
    requests = count_requests(storage.s3_client())
    response = client.head(stream_url(s3_asset))
    assert response["Content-Length"] == str(len(DATA))
    assert requests == []


def test_replaced_s3_object_is_never_spliced_into_a_response(client: Client, s3_asset: MediaAsset,
                                                             s3_settings) -> None:
    s3_settings.client.put_object(Bucket=s3_settings.bucket, Key=s3_asset.storage_key, Body=b"new" * 10)
    response = client.get(stream_url(s3_asset), headers={"Range": "bytes=0-9"})
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_missing_s3_object_is_404(client: Client, s3_asset: MediaAsset, s3_settings) -> None:
    s3_settings.client.delete_object(Bucket=s3_settings.bucket, Key=s3_asset.storage_key)
    assert client.get(stream_url(s3_asset)).status_code == HTTPStatus.NOT_FOUND


def test_unreachable_s3_is_503(client: Client, s3_asset: MediaAsset, settings) -> None:
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: connection refused
    import botocore.config

    settings.AWS_S3_CLIENT_CONFIG = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1)
    use_media_storage(settings, "s3")
    response = client.get(stream_url(s3_asset), headers={"Range": "bytes=0-9"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_abandoned_s3_stream_closes_its_body(s3_asset: MediaAsset) -> None:
    closed: list[bool] = []

    def watch_body(parsed: dict[str, Any], **_: object) -> None:
        # botocore's documented event, after each GetObject: the body as the reader gets it.
        body = parsed["Body"]
        close = body.close

        def counted_close() -> None:
            closed.append(True)
            close()

        body.close = counted_close

    events = storage.s3_client().meta.events
    events.register("after-call.s3.GetObject", watch_body)
    try:
        reader = source_for(AssetStreams().stream(s3_asset.id)).open_range(ByteRange(0, len(DATA) - 1))
        chunks = iter(reader)
        assert len(next(chunks)) > 0
        assert closed == []
        chunks.close()  # what a WSGI server does when the client goes away
    finally:
        events.unregister("after-call.s3.GetObject", watch_body)
    assert closed == [True]


def test_many_abandoned_streams_do_not_exhaust_the_pool(s3_asset: MediaAsset) -> None:
    source = source_for(AssetStreams().stream(s3_asset.id))
    for _ in range(60):  # far more than the pool; a leaked body would block or warn
        chunks = iter(source.open_range(ByteRange(0, len(DATA) - 1)))
        next(chunks)
        chunks.close()
    assert b"".join(source.open_range(ByteRange(5, 9))) == DATA[5:10]


def test_redirect_mode_presigns_for_the_public_host(client: Client, s3_asset: MediaAsset, settings) -> None:
    settings.STREAM_DELIVERY = "redirect"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "http://media.example.test:9000"
    response = client.get(stream_url(s3_asset))
    assert response.status_code == HTTPStatus.FOUND
    location = response["Location"]
    assert location.startswith(f"http://media.example.test:9000/{s3_settings_bucket(settings)}/")
    assert "X-Amz-Expires=300" in location and "response-content-disposition" in location


def test_redirect_url_fetches_the_object_from_s3(client: Client, s3_asset: MediaAsset, settings) -> None:
    import urllib.request

    settings.STREAM_DELIVERY = "redirect"
    response = client.get(stream_url(s3_asset))
    request = urllib.request.Request(response["Location"], headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == HTTPStatus.PARTIAL_CONTENT
        assert answer.read() == DATA[10:20]
        assert answer.headers["Content-Type"] == "video/mp4"


def test_redirect_mode_still_checks_access(client: Client, s3_asset: MediaAsset, settings) -> None:
    settings.STREAM_DELIVERY = "redirect"
    assert client.get(stream_url(s3_asset).partition("?")[0]).status_code == HTTPStatus.NOT_FOUND


def s3_settings_bucket(settings) -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def test_an_asset_stored_on_s3_still_streams_after_media_storage_becomes_local(
        client: Client, s3_asset: MediaAsset, settings) -> None:
    use_media_storage(settings, "local")  # the bucket settings stay, as an operator would leave them
    response = client.get(stream_url(s3_asset), headers={"Range": "bytes=10-19"})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert body_of(response) == DATA[10:20]
