"""resumable.py's S3 bookkeeping against moto's S3 server over HTTP: parts of the fixed size,
tails between PATCHes, checksums, and the crash between completing the multipart upload and
committing it. (tests/media_pipeline/test_tus.py covers the protocol on local staging.)"""

from __future__ import annotations

import base64
import hashlib
import itertools
from pathlib import Path

import pytest
from django.test import Client

from media_pipeline import resumable
from media_pipeline.models import ApiToken, MediaAsset, Upload
from tests.services import S3Server

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

MIB = 1024 * 1024
OFFSET_TYPE = "application/offset+octet-stream"
DATA = hashlib.sha256(b"seed").digest() * (16 * MIB // 32)  # exactly two 8 MiB parts


@pytest.fixture
def s3(s3_server: S3Server, settings, tmp_path: Path) -> S3Server:
    s3_server.use_in(settings)
    settings.MEDIA_STAGING_ROOT = tmp_path / "staging"
    return s3_server


@pytest.fixture
def tus(django_user_model) -> dict[str, str]:
    user = django_user_model.objects.create_user("sam", password="pw-sam-12345")
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user)}", "HTTP_TUS_RESUMABLE": "1.0.0"}


def create(client: Client, tus: dict[str, str], length: int = len(DATA)) -> str:
    response = client.generic("POST", "/api/uploads/", **{"HTTP_UPLOAD_LENGTH": str(length), **tus})
    assert response.status_code == 201
    return response["Location"]


def patch(client: Client, url: str, tus: dict[str, str], offset: int, body: bytes, **headers: str):
    return client.generic("PATCH", url, body, content_type=OFFSET_TYPE,
                          **{"HTTP_UPLOAD_OFFSET": str(offset), **tus, **headers})


def leftovers(s3: S3Server, asset_id: object) -> list[str]:
    pending = s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    return [u["Key"] for u in pending if str(asset_id) in u["Key"]] + s3.keys(f"incoming/tails/{asset_id}/")


def staged_object(s3: S3Server) -> bytes:
    asset = MediaAsset.objects.get()
    return s3.client.get_object(Bucket=s3.bucket, Key=asset.staging_key)["Body"].read()


def test_patches_across_part_boundaries_keep_tails_and_assemble_the_file(client: Client, s3: S3Server,
                                                                         tus: dict[str, str]) -> None:
    url = create(client, tus)
    upload = Upload.objects.get()
    assert upload.part_size == 8 * MIB
    cuts = [0, 5 * MIB, 11 * MIB + 3, len(DATA)]  # a tail, a part and a tail, the rest
    for start, end in itertools.pairwise(cuts):
        response = patch(client, url, tus, start, DATA[start:end])
        assert response.status_code == 204 and response["Upload-Offset"] == str(end)
        upload.refresh_from_db()
        whole = len(upload.parts) * upload.part_size
        if end < len(DATA):  # what is past the whole parts waits in exactly one tail
            assert s3.keys(resumable.tail_prefix(upload.asset_id)) == (
                [resumable.tail_key(upload.asset_id, end)] if end > whole else [])
    assert staged_object(s3) == DATA
    assert MediaAsset.objects.get().status == MediaAsset.Status.PENDING
    assert leftovers(s3, upload.asset_id) == []


def test_a_checksum_mismatch_on_s3_keeps_the_committed_state(client: Client, s3: S3Server,
                                                             tus: dict[str, str]) -> None:
    url = create(client, tus)
    patch(client, url, tus, 0, DATA[:3 * MIB])
    wrong = "sha1 " + base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    assert patch(client, url, tus, 3 * MIB, DATA[3 * MIB:12 * MIB], HTTP_UPLOAD_CHECKSUM=wrong).status_code == 460
    upload = Upload.objects.get()
    assert (upload.offset, upload.parts) == (3 * MIB, [])
    assert s3.keys(resumable.tail_prefix(upload.asset_id)) == [resumable.tail_key(upload.asset_id, 3 * MIB)]
    right = "sha1 " + base64.b64encode(hashlib.sha1(DATA[3 * MIB:]).digest()).decode()
    assert patch(client, url, tus, 3 * MIB, DATA[3 * MIB:], HTTP_UPLOAD_CHECKSUM=right).status_code == 204
    assert staged_object(s3) == DATA


def test_creation_with_upload_on_s3(client: Client, s3: S3Server, tus: dict[str, str]) -> None:
    response = client.generic("POST", "/api/uploads/", DATA[:MIB], content_type=OFFSET_TYPE,
                              **{"HTTP_UPLOAD_LENGTH": str(len(DATA)), **tus})
    assert response.status_code == 201 and response["Upload-Offset"] == str(MIB)
    patch(client, response["Location"], tus, MIB, DATA[MIB:])
    assert staged_object(s3) == DATA


def test_a_multipart_upload_completed_by_a_process_that_died_before_committing_is_finished(
        client: Client, s3: S3Server, tus: dict[str, str]) -> None:
    url = create(client, tus)
    patch(client, url, tus, 0, DATA[:8 * MIB])
    upload = Upload.objects.get()
    assert upload.offset == 8 * MIB and len(upload.parts) == 1
    # What the dying PATCH did: the last part and the completion, but no commit.
    key, upload_id = upload.asset.staging_key, upload.s3_upload_id
    last = s3.client.upload_part(Bucket=s3.bucket, Key=key, UploadId=upload_id, PartNumber=2,
                                 Body=DATA[8 * MIB:])
    s3.client.complete_multipart_upload(Bucket=s3.bucket, Key=key, UploadId=upload_id, MultipartUpload={
        "Parts": [*upload.parts, {"PartNumber": 2, "ETag": last["ETag"]}]})
    # The client, told offset 8 MiB, sends the rest again.
    response = patch(client, url, tus, 8 * MIB, DATA[8 * MIB:])
    assert response.status_code == 204 and response["Upload-Offset"] == str(len(DATA))
    assert MediaAsset.objects.get().status == MediaAsset.Status.PENDING
    assert staged_object(s3) == DATA


def test_termination_on_s3_aborts_the_multipart_upload_and_deletes_tails(client: Client, s3: S3Server,
                                                                        tus: dict[str, str]) -> None:
    url = create(client, tus)
    patch(client, url, tus, 0, DATA[:9 * MIB])
    asset_id = Upload.objects.get().asset_id
    assert leftovers(s3, asset_id) != []
    assert client.delete(url, **tus).status_code == 204
    assert leftovers(s3, asset_id) == [] and s3.keys(f"incoming/{asset_id}") == []
