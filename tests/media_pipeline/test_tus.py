"""The tus 1.0 endpoints through Django's test client, on local staging: every status the
protocol names, and what each leaves behind. tests/media_pipeline/test_tus_integration.py runs
the tus project's own client against a real server, on local disk and S3."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from media_pipeline import resumable
from media_pipeline.models import ApiToken, MediaAsset, Upload
from media_pipeline.removal import reap_expired_uploads

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_media")]

OFFSET_TYPE = "application/offset+octet-stream"
DATA = bytes(range(256)) * 400  # 100 KiB


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def tus(alice: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(alice)}", "HTTP_TUS_RESUMABLE": "1.0.0"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(client: Client, tus: dict[str, str], length: int = len(DATA), **headers: str):
    meta = {"HTTP_UPLOAD_LENGTH": str(length),
            "HTTP_UPLOAD_METADATA": f"filename {b64('clip.mp4')},filetype {b64('video/mp4')}"}
    return client.generic("POST", "/api/uploads/", **{**meta, **tus, **headers})


def patch(client: Client, url: str, tus: dict[str, str], body: bytes, offset: int, **headers: str):
    return client.generic("PATCH", url, body, content_type=OFFSET_TYPE,
                          **{"HTTP_UPLOAD_OFFSET": str(offset), **tus, **headers})


def staged(upload_url: str) -> Path:
    asset = MediaAsset.objects.get(pk=upload_url.rstrip("/").rsplit("/", 1)[1])
    from media_pipeline import storage

    return storage.staging_path(asset.staging_key)


def test_discovery_names_the_version_extensions_limit_and_checksums(client: Client, settings) -> None:
    response = client.options("/api/uploads/")
    assert response.status_code == 204
    assert response["Tus-Resumable"] == response["Tus-Version"] == "1.0.0"
    extensions = response["Tus-Extension"].split(",")
    assert {"creation", "creation-with-upload", "termination", "expiration", "checksum"} <= set(extensions)
    assert response["Tus-Max-Size"] == str(settings.MEDIA_MAX_UPLOAD_SIZE)
    assert "sha1" in response["Tus-Checksum-Algorithm"].split(",")


def test_creation_answers_201_with_location_and_expiry_and_lists_it_uploading(
        client: Client, tus: dict[str, str]) -> None:
    response = create(client, tus)
    assert response.status_code == 201
    url = response["Location"]
    assert url.startswith("/api/uploads/") and url.endswith("/")
    assert response["Upload-Expires"].endswith("GMT")
    asset_id = url.rstrip("/").rsplit("/", 1)[1]
    listed = client.get(f"/api/media/{asset_id}/", HTTP_AUTHORIZATION=tus["HTTP_AUTHORIZATION"]).json()
    assert listed["status"] == "uploading" and listed["filename"] == "clip.mp4"
    assert staged(url).read_bytes() == b""


@pytest.mark.parametrize(("headers", "status", "words"), [
    ({"HTTP_TUS_RESUMABLE": "0.2.2"}, 412, "Tus-Resumable"),
    ({"HTTP_UPLOAD_LENGTH": "21474836481"}, 413, "limit"),
    ({"HTTP_UPLOAD_LENGTH": "0"}, 400, "empty"),
    ({"HTTP_UPLOAD_LENGTH": "-5"}, 400, "Upload-Length"),
    ({"HTTP_UPLOAD_LENGTH": "1e6"}, 400, "Upload-Length"),
    ({"HTTP_UPLOAD_METADATA": "filename not*base64"}, 400, "Upload-Metadata"),
    ({"HTTP_UPLOAD_METADATA": f"filename {b64('a')},filename {b64('b')}"}, 400, "Upload-Metadata"),
    ({"HTTP_UPLOAD_DEFER_LENGTH": "1"}, 400, "deferred"),
])
def test_bad_creations_are_refused_and_leave_nothing(client: Client, tus: dict[str, str], headers,
                                                     status: int, words: str, settings) -> None:
    settings.MEDIA_MAX_UPLOAD_SIZE = 20 * 1024**3
    response = create(client, {**tus, **headers})
    assert response.status_code == status
    assert response["Tus-Resumable"] == "1.0.0"
    if status != 412:
        assert words in response.json()["error"]
    assert MediaAsset.objects.count() == 0 and Upload.objects.count() == 0


def test_not_signed_in_is_401(client: Client) -> None:
    response = client.generic("POST", "/api/uploads/", HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="1.0.0")
    assert response.status_code == 401


def test_session_uploads_need_the_csrf_header(alice: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    refused = browser.generic("POST", "/api/uploads/", HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="1.0.0")
    assert refused.status_code == 403 and MediaAsset.objects.count() == 0
    token = str(browser.get("/").context["csrf_token"])
    accepted = browser.generic("POST", "/api/uploads/", HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="1.0.0",
                            HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_patches_append_and_head_reports_the_offset(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    first = patch(client, url, tus, DATA[:40_000], 0)
    assert first.status_code == 204 and first["Upload-Offset"] == "40000"
    head = client.head(url, **tus)
    assert head.status_code == 200
    assert (head["Upload-Offset"], head["Upload-Length"]) == ("40000", str(len(DATA)))
    assert head["Cache-Control"] == "no-store"
    assert "filename " + b64("clip.mp4") in head["Upload-Metadata"].split(",")
    assert patch(client, url, tus, DATA[40_000:], 40_000)["Upload-Offset"] == str(len(DATA))
    asset = MediaAsset.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])
    assert asset.status == MediaAsset.Status.PENDING
    assert staged(url).read_bytes() == DATA


def test_creation_with_upload_takes_the_first_bytes(client: Client, tus: dict[str, str]) -> None:
    response = client.post("/api/uploads/", DATA[:1000], content_type=OFFSET_TYPE,
                           HTTP_UPLOAD_LENGTH=str(len(DATA)), **tus)
    assert response.status_code == 201 and response["Upload-Offset"] == "1000"
    assert staged(response["Location"]).read_bytes() == DATA[:1000]


def test_a_wrong_offset_is_409_and_changes_nothing(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    patch(client, url, tus, DATA[:100], 0)
    for offset in (0, 50, 200):
        response = patch(client, url, tus, DATA[offset:offset + 10], offset)
        assert response.status_code == 409 and "at byte 100" in response.json()["error"]
    assert staged(url).read_bytes() == DATA[:100]


def test_a_wrong_content_type_is_415(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    response = client.generic("PATCH", url, DATA[:10], content_type="application/octet-stream",
                              HTTP_UPLOAD_OFFSET="0", **tus)
    assert response.status_code == 415


def test_a_missing_or_bad_offset_is_400(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    for value in ("", "-1", "ten"):
        assert patch(client, url, tus, DATA[:10], 0, HTTP_UPLOAD_OFFSET=value).status_code == 400


def test_bytes_past_the_length_are_413(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus, length=10)["Location"]
    assert patch(client, url, tus, DATA[:11], 0).status_code == 413
    assert staged(url).read_bytes() == b""


def sha1_header(body: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(body).digest()).decode()


def test_a_checksum_mismatch_is_460_and_the_chunk_is_discarded(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    assert patch(client, url, tus, DATA[:10], 0, HTTP_UPLOAD_CHECKSUM=sha1_header(DATA[:10])).status_code == 204
    response = patch(client, url, tus, DATA[10:500], 10, HTTP_UPLOAD_CHECKSUM=sha1_header(b"other"))
    assert response.status_code == 460
    assert staged(url).read_bytes() == DATA[:10]
    assert client.head(url, **tus)["Upload-Offset"] == "10"


@pytest.mark.parametrize("header", ["crc32 AAAA", "sha1 !!!", "sha1 " + base64.b64encode(b"short").decode()])
def test_an_unusable_checksum_header_is_400(client: Client, tus: dict[str, str], header: str) -> None:
    url = create(client, tus)["Location"]
    assert patch(client, url, tus, DATA[:10], 0, HTTP_UPLOAD_CHECKSUM=header).status_code == 400


def test_another_users_upload_is_404(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    mallory = User.objects.create_user("mallory", password="pw-mallory-1")
    theirs = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(mallory)}", "HTTP_TUS_RESUMABLE": "1.0.0"}
    assert client.head(url, **theirs).status_code == 404
    assert patch(client, url, theirs, DATA[:10], 0).status_code == 404
    assert client.delete(url, **theirs).status_code == 404
    assert staged(url).exists() and Upload.objects.count() == 1


def test_termination_deletes_the_upload_and_its_bytes(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    patch(client, url, tus, DATA[:100], 0)
    path = staged(url)
    assert client.delete(url, **tus).status_code == 204
    assert not path.exists() and MediaAsset.objects.count() == 0
    assert client.head(url, **tus).status_code == 404


def test_an_expired_upload_is_410_and_the_reaper_removes_it(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    patch(client, url, tus, DATA[:100], 0)
    path = staged(url)
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.head(url, **tus).status_code == 410
    assert patch(client, url, tus, DATA[100:200], 100).status_code == 410
    done = create(client, tus, length=10)["Location"]
    patch(client, done, tus, DATA[:10], 0)
    Upload.objects.filter(completed_at__isnull=False).update(expires_at=timezone.now())
    assert reap_expired_uploads() == 1
    assert not path.exists() and Upload.objects.count() == 0
    assert list(MediaAsset.objects.values_list("status", flat=True)) == ["pending"]  # the finished one stays


def test_a_patch_while_another_holds_the_lease_is_423(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    upload = Upload.objects.get()
    with resumable.lease(upload):
        response = patch(client, url, tus, DATA[:10], 0)
    assert response.status_code == 423
    assert patch(client, url, tus, DATA[:10], 0).status_code == 204  # free again afterwards


def test_a_lease_its_holder_died_with_is_free_after_it_lapses(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    Upload.objects.update(lease_token="dead", lease_until=timezone.now() - timedelta(seconds=1))
    assert patch(client, url, tus, DATA[:10], 0).status_code == 204


def cut_reader(body: bytes, after: int):
    """A request body whose client goes away after `after` bytes (gunicorn raises an OSError)."""
    sent = 0

    def read(size: int) -> bytes:
        nonlocal sent
        if sent >= after:
            raise OSError("client disconnected")
        chunk = body[sent:min(sent + size, after)]
        sent += len(chunk)
        return chunk

    return read


def test_a_cut_off_patch_keeps_what_arrived(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    upload = Upload.objects.get()
    assert resumable.append(upload, 0, cut_reader(DATA, 30_000), len(DATA)) == 30_000
    assert client.head(url, **tus)["Upload-Offset"] == "30000"
    assert patch(client, url, tus, DATA[30_000:], 30_000).status_code == 204
    assert staged(url).read_bytes() == DATA


def test_a_cut_off_checksummed_patch_keeps_nothing(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    upload = Upload.objects.get()
    with pytest.raises(resumable.UploadError, match="cut off"):
        resumable.append(upload, 0, cut_reader(DATA, 30_000), len(DATA),
                         ("sha1", hashlib.sha1(DATA).digest()))
    assert client.head(url, **tus)["Upload-Offset"] == "0" and staged(url).read_bytes() == b""


def test_bytes_written_but_never_committed_are_written_again(client: Client, tus: dict[str, str]) -> None:
    """A web process killed between writing and committing leaves bytes past the offset: the
    next PATCH starts at the offset the server reported, over them."""
    url = create(client, tus)["Location"]
    patch(client, url, tus, DATA[:100], 0)
    with staged(url).open("ab") as f:
        f.write(b"garbage that was never acknowledged")
    assert client.head(url, **tus)["Upload-Offset"] == "100"
    patch(client, url, tus, DATA[100:], 100)
    assert staged(url).read_bytes() == DATA


def test_an_upload_whose_last_byte_arrived_but_was_never_enqueued_is_finished_by_head(
        client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus, length=10)["Location"]
    patch(client, url, tus, DATA[:10], 0)
    MediaAsset.objects.update(status=MediaAsset.Status.UPLOADING)
    Upload.objects.update(completed_at=None)
    assert client.head(url, **tus)["Upload-Offset"] == "10"
    assert MediaAsset.objects.get().status == MediaAsset.Status.PENDING


def test_the_s3_part_size_holds_the_largest_upload_in_10000_parts(settings) -> None:
    settings.MEDIA_MAX_UPLOAD_SIZE = 20 * 1024**3
    assert resumable.part_size_for(10) == 8 * 1024 * 1024
    settings.MEDIA_MAX_UPLOAD_SIZE = 200 * 1024**3
    size = resumable.part_size_for(10)
    assert size * 10_000 >= 200 * 1024**3 and size % (1024 * 1024) == 0


def test_a_complete_upload_takes_no_more_bytes(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus, length=10)["Location"]
    patch(client, url, tus, DATA[:10], 0)
    staged(url).unlink()  # processed: the worker has moved the staged file away
    assert patch(client, url, tus, b"", 10, CONTENT_TYPE=OFFSET_TYPE).status_code == 204
    assert patch(client, url, tus, DATA[:10], 0).status_code == 409


def test_cors_lets_configured_origins_use_tus_and_read_its_headers(client: Client, tus: dict[str, str],
                                                                   settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = client.options("/api/uploads/", HTTP_ORIGIN="https://app.example.com",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="upload-offset,tus-resumable")
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "upload-offset" in preflight["Access-Control-Allow-Headers"]
    assert "PATCH" in preflight["Access-Control-Allow-Methods"]
    created = create(client, tus, HTTP_ORIGIN="https://app.example.com")
    exposed = {h.strip() for h in created["Access-Control-Expose-Headers"].split(",")}
    assert {"location", "upload-offset", "upload-length", "tus-resumable"} <= exposed
    other = create(client, tus, HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in other
    # Only the tus endpoints answer CORS.
    assert "Access-Control-Allow-Origin" not in client.get(
        "/api/media/", HTTP_ORIGIN="https://app.example.com", HTTP_AUTHORIZATION=tus["HTTP_AUTHORIZATION"])


def test_an_operator_requeue_leaves_an_upload_still_arriving_alone(client: Client, tus: dict[str, str]) -> None:
    from media_pipeline.tasks import requeue

    create(client, tus)
    requeue(MediaAsset.objects.get().pk)
    assert MediaAsset.objects.get().status == MediaAsset.Status.UPLOADING


def test_termination_while_a_patch_runs_is_423_and_the_api_delete_409(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    with resumable.lease(Upload.objects.get()):
        assert client.delete(url, **tus).status_code == 423
        api = client.delete(url.replace("/api/uploads/", "/api/media/"),
                            HTTP_AUTHORIZATION=tus["HTTP_AUTHORIZATION"])
        assert api.status_code == 409
    assert staged(url).exists() and Upload.objects.count() == 1
    assert client.delete(url, **tus).status_code == 204


def test_a_patch_that_lost_its_lease_never_undoes_anothers_bytes(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    patch(client, url, tus, DATA[:100], 0)
    body = DATA[100:300]
    sent = 0

    def read_then_lose_the_lease(size: int) -> bytes:
        nonlocal sent
        chunk = body[sent:sent + size]
        sent += len(chunk)
        if sent == len(body):  # meanwhile another PATCH took the upload over and wrote on
            Upload.objects.update(lease_token="another", lease_until=timezone.now() + timedelta(seconds=30))
        return chunk

    with pytest.raises(resumable.Busy):
        resumable.append(Upload.objects.get(), 100, read_then_lose_the_lease, len(body),
                         ("sha1", hashlib.sha1(b"not these bytes").digest()))
    assert len(staged(url).read_bytes()) == 300  # not truncated under the new holder's feet


@pytest.mark.parametrize(("headers", "status"), [
    ({"HTTP_UPLOAD_LENGTH": "9" * 5000}, 400),
    ({"HTTP_UPLOAD_LENGTH": "10", "CONTENT_TYPE": OFFSET_TYPE}, 201),
])
def test_creation_headers_at_their_limits(client: Client, tus: dict[str, str], headers, status: int) -> None:
    assert create(client, tus, **headers).status_code == status


def test_creation_with_more_bytes_than_its_length_is_413_and_creates_nothing(client: Client, tus: dict[str, str]) -> None:
    response = client.generic("POST", "/api/uploads/", DATA[:20], content_type=OFFSET_TYPE,
                              HTTP_UPLOAD_LENGTH="10", **tus)
    assert response.status_code == 413 and Upload.objects.count() == 0


def test_creation_whose_first_bytes_fail_their_checksum_still_says_where_the_upload_is(
        client: Client, tus: dict[str, str]) -> None:
    response = client.generic("POST", "/api/uploads/", DATA[:1000], content_type=OFFSET_TYPE,
                              HTTP_UPLOAD_LENGTH=str(len(DATA)), HTTP_UPLOAD_CHECKSUM=sha1_header(b"x"), **tus)
    assert response.status_code == 201 and response["Upload-Offset"] == "0"
    assert client.head(response["Location"], **tus)["Upload-Offset"] == "0"


def test_a_chunked_patch_without_a_length_is_411(client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus)["Location"]
    response = client.generic("PATCH", url, b"", CONTENT_TYPE=OFFSET_TYPE, HTTP_UPLOAD_OFFSET="0",
                              HTTP_TRANSFER_ENCODING="chunked", **tus)
    assert response.status_code == 411


def test_every_answer_names_the_protocol_version_even_404(client: Client, tus: dict[str, str]) -> None:
    response = client.head("/api/uploads/00000000-0000-0000-0000-000000000001/", **tus)
    assert response.status_code == 404 and response["Tus-Resumable"] == "1.0.0"


def test_the_filename_is_kept_for_display_only(client: Client, tus: dict[str, str]) -> None:
    response = create(client, tus, HTTP_UPLOAD_METADATA=f"filename {b64('../../etc/pa' + chr(0) + 'sswd')}")
    asset = MediaAsset.objects.get()
    assert response.status_code == 201 and asset.filename == "passwd"
    assert staged(response["Location"]).name == f"{asset.id}.upload"


def test_the_reaper_finishes_an_upload_whose_last_byte_arrived_but_was_never_enqueued(
        client: Client, tus: dict[str, str]) -> None:
    url = create(client, tus, length=10)["Location"]
    create(client, tus)  # another, still arriving: left alone
    patch(client, url, tus, DATA[:10], 0)
    MediaAsset.objects.filter(upload__length=10).update(status=MediaAsset.Status.UPLOADING)
    Upload.objects.filter(length=10).update(completed_at=None)
    assert reap_expired_uploads() == 0
    statuses = dict(MediaAsset.objects.values_list("upload__length", "status"))
    assert statuses == {10: "pending", len(DATA): "uploading"}
