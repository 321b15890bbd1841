"""`GET /media/<id>/poster.jpg`: the poster to those who may see the asset."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline.models import MediaAsset
from tests.services import use_media_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_asset(settings, tmp_path: Path) -> MediaAsset:
    use_media_storage(settings, "local")
    settings.MEDIA_ROOT = tmp_path
    owner = User.objects.create_user("olga", password="pw-olga-123")
    asset = MediaAsset.objects.create(owner=owner, filename="a.mp4", storage="local",
                                      status="ready", is_public=True,
                                      poster_key="media/p/poster.jpg")
    (tmp_path / "media" / "p").mkdir(parents=True)
    (tmp_path / "media" / "p" / "poster.jpg").write_bytes(b"\xff\xd8jpeg")
    return asset


def test_a_public_assets_poster_is_served(client: Client, public_asset: MediaAsset) -> None:
    response = client.get(f"/media/{public_asset.id}/poster.jpg")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\xff\xd8jpeg"
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"  # from SecurityMiddleware, once


def test_a_poster_whose_file_is_already_gone_is_404(client: Client, public_asset: MediaAsset,
                                                    tmp_path: Path) -> None:
    (tmp_path / "media" / "p" / "poster.jpg").unlink()  # the asset is being deleted
    assert client.get(f"/media/{public_asset.id}/poster.jpg").status_code == 404


def test_a_poster_has_validators_and_ranges_like_the_media(client: Client,
                                                           public_asset: MediaAsset) -> None:
    url = f"/media/{public_asset.id}/poster.jpg"
    first = client.get(url)
    assert first["ETag"] and first["Accept-Ranges"] == "bytes"
    assert first["Content-Length"] == "6"
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304
    part = client.get(url, headers={"Range": "bytes=2-"})
    assert part.status_code == 206 and b"".join(part.streaming_content) == b"jpeg"
    assert client.head(url)["Content-Length"] == "6"


def test_a_posters_size_comes_from_its_row_when_the_row_has_it(
        client: Client, public_asset: MediaAsset, tmp_path: Path) -> None:
    MediaAsset.objects.filter(pk=public_asset.pk).update(poster_size=4)
    response = client.get(f"/media/{public_asset.id}/poster.jpg")
    assert response["Content-Length"] == "4"  # no stat, no HEAD: the row says what was stored
    (tmp_path / "media" / "p" / "poster.jpg").unlink()
    assert client.get(f"/media/{public_asset.id}/poster.jpg").status_code == 404


def test_a_private_assets_poster_is_404_to_others(client: Client,
                                                  public_asset: MediaAsset) -> None:
    MediaAsset.objects.filter(pk=public_asset.pk).update(is_public=False)
    assert client.get(f"/media/{public_asset.id}/poster.jpg").status_code == 404
    client.force_login(public_asset.owner)
    assert client.get(f"/media/{public_asset.id}/poster.jpg").status_code == 200


def test_an_older_rows_poster_size_is_read_once_and_kept(client: Client,
                                                        public_asset: MediaAsset) -> None:
    assert public_asset.poster_size is None  # processed before rows kept it
    assert client.get(f"/media/{public_asset.id}/poster.jpg").status_code == 200
    public_asset.refresh_from_db()
    assert public_asset.poster_size == 6
