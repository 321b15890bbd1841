"""`GET /media/<id>/poster.jpg`: the poster to those who may see the asset."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline.models import MediaAsset

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_asset(settings, tmp_path: Path) -> MediaAsset:
    settings.MEDIA_STORAGE = "local"
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
