from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline.models import MediaAsset
from tests.html import elements
from tests.media_pipeline.pages.conftest import MakeRow

pytestmark = pytest.mark.django_db


def test_library_requires_sign_in() -> None:
    response = Client().get("/media/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_library_lists_only_the_users_own_assets(owner_client: Client, make_row: MakeRow,
                                                 stranger: User) -> None:
    make_row(filename="mine.mp4")
    make_row(filename="theirs.mp4", owner=stranger, is_public=True)
    response = owner_client.get("/media/")
    assert b"mine.mp4" in response.content
    assert b"theirs.mp4" not in response.content


def test_library_shows_poster_type_size_duration_and_status(owner_client: Client,
                                                            make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get("/media/")
    images = [img["src"] for img in elements(response.content, "img")]
    assert f"/media/{asset.id}/poster.jpg" in images
    for text in (b"video/mp4", b"5.0\xc2\xa0MB", b"2:05", b"Ready"):
        assert text in response.content


def test_library_uses_an_image_as_its_own_signed_thumbnail(owner_client: Client,
                                                           make_row: MakeRow) -> None:
    asset = make_row(filename="cat.png", mime_type="image/png", poster_key="", duration=None)
    response = owner_client.get("/media/")
    [src] = [img["src"] for img in elements(response.content, "img")]
    assert src.startswith(f"/stream/{asset.id}/?sig=")


def test_library_shows_the_failure_reason(owner_client: Client, make_row: MakeRow) -> None:
    make_row(status=MediaAsset.Status.FAILED, error="Files of type text/html are not accepted.",
               mime_type="text/html", poster_key="")
    response = owner_client.get("/media/")
    assert b"Failed" in response.content
    assert b"Files of type text/html are not accepted." in response.content


def test_library_escapes_filenames(owner_client: Client, make_row: MakeRow) -> None:
    make_row(filename='<img src=x onerror="alert(1)">.mp4')
    response = owner_client.get("/media/")
    assert b"<img src=x" not in response.content
    assert b"&lt;img src=x" in response.content


def test_library_delete_links_to_a_confirmation_page(owner_client: Client,
                                                     make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get("/media/")
    [link] = [a for a in elements(response.content, "a") if "data-delete" in a]
    assert link["href"] == f"/media/{asset.id}/delete/"
    [dialog_form] = [f for f in elements(response.content, "form") if "data-delete-form" in f]
    assert dialog_form["method"] == "post"
