"""The owner's download of the original upload (`original_url`), beside the playable copy that
`stream_url` serves."""

from __future__ import annotations

import hashlib
from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from streaming.signing import Grant, original_url, sign_asset_id, stream_url
from tests.streaming.conftest import MakeAsset, payload

ORIGINAL = payload(30_000, seed=7)
PLAYABLE = payload(12_000, seed=8)


@pytest.fixture
def transcoded(make_asset: MakeAsset) -> MediaAsset:
    """A ready asset whose stream is a rendition, with its original stored beside it."""
    asset = make_asset(PLAYABLE, filename="holiday.mov", playback_method="transcode")
    asset.storage_key = storage.playable_key(asset.id)
    storage.local_path(asset.storage_key).write_bytes(PLAYABLE)
    asset.original_key = storage.final_key(asset.id)
    storage.local_path(asset.original_key).write_bytes(ORIGINAL)
    asset.original_mime_type, asset.original_size = "video/quicktime", len(ORIGINAL)
    asset.original_sha256 = hashlib.sha256(ORIGINAL).hexdigest()
    asset.save()
    return asset


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_original_url_sends_the_upload_as_an_attachment(client: Client,
                                                        transcoded: MediaAsset) -> None:
    response = client.get(original_url(transcoded))
    assert response.status_code == HTTPStatus.OK
    assert body_of(response) == ORIGINAL
    assert response["Content-Type"] == "video/quicktime"
    assert response["Content-Disposition"] == 'attachment; filename="holiday.mov"'
    assert response["ETag"] == f'"{transcoded.original_sha256}"'
    assert response["Cache-Control"] == "private"
    # ...while the stream URL still serves the playable copy.
    assert body_of(client.get(stream_url(transcoded))) == PLAYABLE


def test_original_url_serves_ranges_and_conditional_requests(client: Client,
                                                             transcoded: MediaAsset) -> None:
    url = original_url(transcoded)
    response = client.get(url, headers={"Range": "bytes=100-199"})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert response["Content-Range"] == f"bytes 100-199/{len(ORIGINAL)}"
    assert body_of(response) == ORIGINAL[100:200]
    etag = response["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == HTTPStatus.NOT_MODIFIED
    assert client.head(url)["Content-Length"] == str(len(ORIGINAL))


def test_a_stream_or_share_signature_does_not_open_the_original(client: Client,
                                                                transcoded: MediaAsset) -> None:
    """A stream URL passed on, even the owner's, never hands out the uploaded file."""
    transcoded.is_public = True
    transcoded.save()
    path = original_url(transcoded).partition("?")[0]
    for grant in (Grant.OWNER, Grant.SHARE):
        response = client.get(f"{path}?sig={sign_asset_id(transcoded.id, grant)}")
        assert response.status_code == HTTPStatus.NOT_FOUND, grant


def test_the_original_signature_does_not_stream(client: Client, transcoded: MediaAsset) -> None:
    path = stream_url(transcoded).partition("?")[0]
    response = client.get(f"{path}?sig={sign_asset_id(transcoded.id, Grant.ORIGINAL)}")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_only_the_owner_downloads_without_a_signature(client: Client, transcoded: MediaAsset,
                                                      stranger: User, owner: User) -> None:
    transcoded.is_public = True  # public playback does not share the original
    transcoded.save()
    path = original_url(transcoded).partition("?")[0]
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND
    client.force_login(stranger)
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND
    client.force_login(owner)
    assert body_of(client.get(path)) == ORIGINAL


def test_tampered_or_expired_signature_is_403(client: Client, transcoded: MediaAsset,
                                              settings) -> None:
    url = original_url(transcoded)
    assert client.get(url[:-1] + ("A" if url[-1] != "A" else "B")).status_code == 403
    settings.STREAM_URL_TTL = -1
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


def test_a_deleted_or_unfinished_asset_has_no_original(client: Client,
                                                       transcoded: MediaAsset) -> None:
    url = original_url(transcoded)
    MediaAsset.objects.filter(pk=transcoded.pk).update(status=MediaAsset.Status.PROCESSING)
    assert client.get(url).status_code == HTTPStatus.NOT_FOUND
    transcoded.delete()
    assert client.get(url).status_code == HTTPStatus.NOT_FOUND


def test_an_original_that_plays_as_it_is_is_its_own_download(client: Client,
                                                             make_asset: MakeAsset) -> None:
    data = payload(5_000, seed=9)
    asset = make_asset(data, playback_method="original")
    asset.original_key, asset.original_size = asset.storage_key, len(data)
    asset.original_mime_type, asset.original_sha256 = asset.mime_type, asset.sha256
    asset.save()
    response = client.get(original_url(asset))
    assert body_of(response) == data
    assert response["Content-Disposition"] == 'attachment; filename="clip.mp4"'


def test_post_is_405(client: Client, transcoded: MediaAsset) -> None:
    assert client.post(original_url(transcoded)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
