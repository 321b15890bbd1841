"""media_pipeline's resolver for the streaming app (media_pipeline/streams.py): one query per
stream request, seen like any other, and a `Streamable` that follows the row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from media_pipeline.streams import AssetStreams
from streaming.objects import LocalFile, S3Object, Streamable
from tests.services import use_media_storage

READY_AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def asset(local_media: Path, db) -> MediaAsset:
    asset_id = uuid.uuid4()
    return MediaAsset.objects.create(
        id=asset_id, owner=User.objects.create_user("owner"), filename="Grüße.mp4",
        status=MediaAsset.Status.READY, mime_type="video/mp4", size=1234, sha256="ab" * 32,
        storage=MediaAsset.Storage.LOCAL, storage_key=storage.final_key(asset_id),
        ready_at=READY_AT, is_public=True)


def test_a_stream_lookup_is_one_query_seen_like_any_other(asset: MediaAsset) -> None:
    expected = Streamable(
        id=asset.id, filename="Grüße.mp4", content_type="video/mp4", size=1234,
        etag='"' + "ab" * 32 + '"', last_modified=READY_AT,
        location=LocalFile(path=storage.local_path(asset.storage_key), accel_name=asset.storage_key),
        is_public=True, owner_id=asset.owner_id)
    with CaptureQueriesContext(connection) as captured:  # DEBUG's log, assertNumQueries
        found = AssetStreams().stream(asset.id)
    seen: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *args: seen.append(sql) or execute(sql, *args)):
        again = AssetStreams().stream(asset.id)
    assert found == again == expected
    assert len(captured) == 1 and len(seen) == 1
    assert AssetStreams().stream(uuid.uuid4()) is None


def test_an_unchanged_row_is_one_object_and_a_changed_one_a_new_one(asset: MediaAsset) -> None:
    first = AssetStreams().stream(asset.id)
    assert AssetStreams().stream(asset.id) is first  # what streaming derives from it is kept
    MediaAsset.objects.filter(pk=asset.pk).update(filename="renamed.mp3", mime_type="audio/mpeg")
    second = AssetStreams().stream(asset.id)
    assert second is not None and (second.filename, second.content_type) == ("renamed.mp3", "audio/mpeg")


def test_only_ready_assets_stream(asset: MediaAsset) -> None:
    MediaAsset.objects.filter(pk=asset.pk).update(status=MediaAsset.Status.PROCESSING)
    assert AssetStreams().stream(asset.id) is None


def test_an_s3_asset_is_read_with_the_process_client(asset: MediaAsset, settings) -> None:
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    use_media_storage(settings, "s3")
    MediaAsset.objects.filter(pk=asset.pk).update(storage=MediaAsset.Storage.S3, etag='"e1"',
                                                  sha256="")
    thing = AssetStreams().stream(asset.id)
    assert thing is not None and thing.etag == '"e1"'
    assert thing.location == S3Object(client=storage.s3_client(), bucket="media",
                                      key=asset.storage_key, s3_etag='"e1"',
                                      presign_client=storage.s3_client())
    assert storage.s3_client() is storage.media_storage().bucket.meta.client  # the storage's own


def test_s3_redirects_are_signed_for_the_public_endpoint_where_one_is_set(asset: MediaAsset,
                                                                          settings) -> None:
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "https://media.example.com"
    use_media_storage(settings, "s3")
    MediaAsset.objects.filter(pk=asset.pk).update(storage=MediaAsset.Storage.S3)
    thing = AssetStreams().stream(asset.id)
    assert thing is not None and thing.location.client is storage.s3_client()
    assert thing.location.presign_client.meta.endpoint_url == "https://media.example.com"


def test_the_original_is_the_owners_and_pinned_only_when_it_is_what_plays(asset: MediaAsset) -> None:
    assert AssetStreams().original(asset.id) is None  # no original recorded
    MediaAsset.objects.filter(pk=asset.pk).update(
        original_key=asset.storage_key, original_size=99, original_mime_type="video/quicktime",
        original_sha256="cd" * 32)
    original = AssetStreams().original(asset.id)
    assert original is not None
    assert (original.size, original.content_type, original.is_public) == (99, "video/quicktime", False)
    assert original.etag == '"' + "cd" * 32 + '"' and original.owner_id == asset.owner_id
