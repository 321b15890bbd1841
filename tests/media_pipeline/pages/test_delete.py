from __future__ import annotations

import pytest
from django.test import Client

from media_pipeline.models import MediaAsset
from tests.media_pipeline.pages.conftest import MakeRow

pytestmark = pytest.mark.django_db


def test_delete_page_asks_for_confirmation(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get(f"/media/{asset.id}/delete/")
    assert response.status_code == 200
    assert b"Delete this file?" in response.content
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_confirming_deletes_the_asset_and_returns_to_the_library(owner_client: Client,
                                                                  make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.post(f"/media/{asset.id}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/media/"
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert "Deleted “holiday.mp4”." in owner_client.get("/media/").content.decode()


def test_delete_without_csrf_token_is_refused(owner, make_row: MakeRow) -> None:
    asset = make_row()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/media/{asset.id}/delete/").status_code == 403
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_asset_cannot_be_deleted(stranger_client: Client, make_row: MakeRow,
                                               method: str) -> None:
    asset = make_row(is_public=True)  # even public: only the owner deletes
    assert getattr(stranger_client, method)(f"/media/{asset.id}/delete/").status_code == 404
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_delete_page_requires_sign_in(make_row: MakeRow) -> None:
    asset = make_row()
    response = Client().post(f"/media/{asset.id}/delete/")
    assert response.status_code == 302
    assert MediaAsset.objects.filter(pk=asset.pk).exists()
