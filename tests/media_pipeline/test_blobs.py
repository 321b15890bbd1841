"""Staged and stored objects through the media storage: local disk, and moto's S3 over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from media_pipeline import blobs, storage
from tests.services import S3Server

DATA = b"\x00\x01" * 40_000


def _staged_locally(asset_id: uuid.UUID) -> blobs.Blob:
    key = storage.staging_key(asset_id)
    storage.ensure_local_dirs()
    storage.staging_path(key).write_bytes(DATA)
    return blobs.staging_blob(key)


def test_local_move_renames_the_staged_file_into_the_storage(local_media: Path) -> None:
    asset_id = uuid.uuid4()
    staged = _staged_locally(asset_id)
    inode = staged.path.stat().st_ino
    stored = blobs.move(staged, storage.final_key(asset_id))
    assert not staged.exists()
    assert stored.path == local_media / "media" / "media" / str(asset_id) / "original"
    assert stored.path.stat().st_ino == inode  # a rename, not a copy
    assert storage.media_storage().open(stored.key).read() == DATA


def test_local_put_overwrites_the_same_key_on_a_rerun(local_media: Path) -> None:
    key = storage.poster_key(uuid.uuid4())
    for body in (b"first", b"second"):
        made = local_media / "made.jpg"
        made.write_bytes(body)
        stored = blobs.put_file(made, key, "image/jpeg")
        assert not made.exists()
    assert stored.key == key and b"".join(stored.iter_chunks()) == b"second"
    stored.delete()
    assert not stored.exists() and not storage.media_storage().exists(key)


@pytest.fixture
def s3_media(s3_server: S3Server, settings, tmp_path: Path) -> S3Server:
    s3_server.use_in(settings)
    settings.MEDIA_STAGING_ROOT = tmp_path / "staging"
    return s3_server


@pytest.mark.integration
def test_s3_move_copies_server_side_and_removes_the_staged_object(s3_media: S3Server) -> None:
    asset_id = uuid.uuid4()
    staged_key = storage.staging_key(asset_id)
    s3_media.client.put_object(Bucket=s3_media.bucket, Key=staged_key, Body=DATA)
    stored = blobs.move(blobs.staging_blob(staged_key), storage.final_key(asset_id))
    assert staged_key not in s3_media.keys("incoming/")
    assert stored.size() == len(DATA) and b"".join(stored.iter_chunks()) == DATA


@pytest.mark.integration
def test_s3_put_stores_the_type_and_delete_removes(s3_media: S3Server, tmp_path: Path) -> None:
    key = storage.playable_key(uuid.uuid4())
    for _ in range(2):  # a re-run writes the same key again: one object
        made = tmp_path / "made.mp4"
        made.write_bytes(DATA)
        stored = blobs.put_file(made, key, "video/mp4")
        assert not made.exists()
    assert s3_media.keys(key) == [key]
    head = s3_media.client.head_object(Bucket=s3_media.bucket, Key=key)
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == len(DATA)
    stored.delete()
    assert s3_media.keys(key) == [] and not stored.exists()
    with pytest.raises(FileNotFoundError):
        stored.size()
