"""The JSON API through Django's test client: auth, validation, ownership, deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media_pipeline.models import ApiToken, MediaAsset

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_media")]


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def bearer(alice: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)}"}


def staged_files(local_media: Path) -> list[Path]:
    root = local_media / "staging"
    return list(root.iterdir()) if root.exists() else []


def test_token_upload_is_accepted_with_the_asset_json(client: Client, bearer: dict, local_media: Path) -> None:
    response = client.post("/api/media/", {"file": SimpleUploadedFile("a.mp3", b"ID3" + b"x" * 5000)}, **bearer)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["filename"] == "a.mp3"
    assert body["stream_url"] is None and body["size"] is None
    asset = MediaAsset.objects.get(pk=body["id"])
    assert (local_media / "staging" / asset.staging_key).read_bytes() == b"ID3" + b"x" * 5000


def test_filename_is_kept_for_display_but_never_used_as_a_path(client: Client, bearer: dict, local_media: Path) -> None:
    response = client.post("/api/media/", {"file": SimpleUploadedFile("../../etc/passwd", b"data")}, **bearer)

    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert asset.filename == "passwd"
    assert [p.name for p in staged_files(local_media)] == [f"{asset.id}.upload"]


def test_upload_without_a_file_is_400(client: Client, bearer: dict) -> None:
    response = client.post("/api/media/", {"other": "x"}, **bearer)
    assert response.status_code == 400 and "field 'file'" in response.json()["error"]


def test_empty_upload_is_400_and_leaves_nothing(client: Client, bearer: dict, local_media: Path) -> None:
    response = client.post("/api/media/", {"file": SimpleUploadedFile("e.mp4", b"")}, **bearer)
    assert response.status_code == 400
    assert staged_files(local_media) == [] and MediaAsset.objects.count() == 0


def test_declared_length_over_the_limit_is_413(client: Client, bearer: dict, settings) -> None:
    settings.MEDIA_MAX_UPLOAD_SIZE = 10
    response = client.post("/api/media/", {"file": SimpleUploadedFile("big.mp4", b"x" * 200_000)}, **bearer)
    assert response.status_code == 413


def test_streamed_size_over_the_limit_is_413_and_leaves_nothing(
        client: Client, bearer: dict, settings, local_media: Path) -> None:
    settings.MEDIA_MAX_UPLOAD_SIZE = 1000
    response = client.post("/api/media/", {"file": SimpleUploadedFile("big.mp4", b"x" * 1001)}, **bearer)
    assert response.status_code == 413
    assert staged_files(local_media) == [] and MediaAsset.objects.count() == 0


def test_anonymous_upload_is_401(client: Client) -> None:
    assert client.post("/api/media/", {"file": SimpleUploadedFile("a", b"x")}).status_code == 401


def test_invalid_token_is_401(client: Client) -> None:
    response = client.get("/api/media/", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401


def test_session_upload_without_csrf_token_is_403_and_leaves_nothing(alice: User, local_media: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/media/", {"file": SimpleUploadedFile("a.mp3", b"abc")})
    assert response.status_code == 403
    assert staged_files(local_media) == [] and MediaAsset.objects.count() == 0


def test_session_upload_with_csrf_header_is_accepted(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post("/api/media/", {"file": SimpleUploadedFile("a.mp3", b"abc")}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 202


def test_session_changes_without_csrf_token_are_403_and_change_nothing(alice: User) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a.mp4", storage="local")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    patched = client.patch(f"/api/media/{asset.id}/", json.dumps({"is_public": True}),
                           content_type="application/json")
    deleted = client.delete(f"/api/media/{asset.id}/")
    assert (patched.status_code, deleted.status_code) == (403, 403)
    asset.refresh_from_db()
    assert asset.is_public is False


def test_token_requests_need_no_csrf_token_even_where_it_is_enforced(
        alice: User, bearer: dict, local_media: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    uploaded = client.post("/api/media/", {"file": SimpleUploadedFile("a.mp3", b"ID3" + b"x" * 99)},
                           **bearer)
    assert uploaded.status_code == 202
    asset_id = uploaded.json()["id"]
    patched = client.patch(f"/api/media/{asset_id}/", json.dumps({"is_public": True}),
                           content_type="application/json", **bearer)
    assert patched.status_code == 200 and patched.json()["is_public"] is True
    assert client.delete(f"/api/media/{asset_id}/", **bearer).status_code == 204


def test_other_users_asset_is_404_and_absent_from_their_list(client: Client, alice: User) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a.mp4", storage="local")
    bob = User.objects.create_user("bob")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(bob)}"}

    assert client.get(f"/api/media/{asset.id}/", **headers).status_code == 404
    assert client.delete(f"/api/media/{asset.id}/", **headers).status_code == 404
    assert client.get("/api/media/", **headers).json() == {"count": 0, "results": []}


def test_delete_removes_the_row_and_every_stored_byte(client: Client, alice: User, bearer: dict,
                                                      local_media: Path) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a.mp4", storage="local")
    original = local_media / "media" / "media" / str(asset.id) / "original"
    original.parent.mkdir(parents=True)
    original.write_bytes(b"video")

    response = client.delete(f"/api/media/{asset.id}/", **bearer)

    assert response.status_code == 204
    assert not original.exists() and not MediaAsset.objects.filter(pk=asset.id).exists()


def test_owner_can_make_an_asset_public(client: Client, alice: User, bearer: dict) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a.mp4", storage="local")
    response = client.patch(f"/api/media/{asset.id}/", json.dumps({"is_public": True}),
                            content_type="application/json", **bearer)
    assert response.status_code == 200 and response.json()["is_public"] is True


@pytest.mark.parametrize("payload", ['{"owner": 2}', '{"is_public": "yes"}', "[1]", "nope"])
def test_only_visibility_can_be_patched(client: Client, alice: User, bearer: dict, payload: str) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a.mp4", storage="local")
    response = client.patch(f"/api/media/{asset.id}/", payload, content_type="application/json", **bearer)
    assert response.status_code == 400


@pytest.mark.parametrize(("query", "field"), [
    ("limit=-1", "limit"), ("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"),
    ("limit=1e3", "limit"), ("offset=-1", "offset"), ("offset=100000000000000000000", "offset"),
    ("offset=%00", "offset"), ("limit=%F0%9F%92%A9", "limit"),
])
def test_nonsense_paging_is_400_with_the_reason(client: Client, bearer: dict, query: str,
                                                field: str) -> None:
    response = client.get(f"/api/media/?{query}", **bearer)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}: ")


@pytest.mark.parametrize(("query", "shown"), [("", 3), ("limit=2", 2), ("offset=2", 1),
                                              ("limit=&offset=", 3), ("offset=2147483647", 0)])
def test_paging_in_range_lists_that_page(client: Client, bearer: dict, alice: User, query: str,
                                         shown: int) -> None:
    for name in ("a", "b", "c"):
        MediaAsset.objects.create(owner=alice, filename=name, storage="local")
    body = client.get(f"/api/media/?{query}", **bearer).json()
    assert body["count"] == 3 and len(body["results"]) == shown


def test_a_negative_content_length_is_400(client: Client, bearer: dict) -> None:
    response = client.generic("POST", "/api/media/", b"", content_type="multipart/form-data; boundary=x",
                              CONTENT_LENGTH="-5", **bearer)
    assert response.status_code == 400 and response.json()["error"] == "Invalid Content-Length."



def test_deeply_nested_json_is_400(client: Client, bearer: dict, alice: User) -> None:
    asset = MediaAsset.objects.create(owner=alice, filename="a", storage="local")
    response = client.patch(f"/api/media/{asset.id}/", "[" * 5000 + "]" * 5000,
                            content_type="application/json", **bearer)
    assert response.status_code == 400 and response.json()["error"] == "Send a JSON object."


@pytest.mark.parametrize("extra", [
    {f"field{n}": "x" for n in range(1001)},  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    {"note": "x" * (3 * 1024 * 1024)},  # over DATA_UPLOAD_MAX_MEMORY_SIZE
], ids=["many-fields", "large-field"])
def test_fields_beyond_djangos_limits_after_the_file_are_400_and_leave_nothing(
        client: Client, bearer: dict, local_media: Path, extra: dict) -> None:
    data = {"file": SimpleUploadedFile("a.mp3", b"ID3" + b"x" * 5000), **extra}
    response = client.post("/api/media/", data, **bearer)
    assert response.status_code == 400 and "nothing was kept" in response.json()["error"]
    assert staged_files(local_media) == [] and MediaAsset.objects.count() == 0
