"""Bulk import: a local file goes to staging and through the same task as an upload."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from media_pipeline.tasks import enqueue_on_commit
from media_pipeline.upload import StagingUploadHandler

CHUNK = 1024 * 1024


def ingest_file(path: Path, owner: AbstractBaseUser) -> MediaAsset:
    """Copy `path` to staging in bounded chunks (the upload handler's own sinks), then enqueue."""
    if not path.is_file():
        raise ValueError("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError("the file is empty")
    if size > settings.MEDIA_MAX_UPLOAD_SIZE:
        raise ValueError(f"larger than MEDIA_MAX_UPLOAD_SIZE ({settings.MEDIA_MAX_UPLOAD_SIZE} bytes)")
    handler = StagingUploadHandler()
    handler.new_file(StagingUploadHandler.FIELD, path.name, "application/octet-stream", size)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                handler.receive_data_chunk(chunk, 0)
        handler.file_complete(size)
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                id=handler.asset_id, owner=owner, filename=path.name[:255],
                storage=storage.backend(), staging_key=handler.staging_key,
            )
            enqueue_on_commit(asset.id)
    except BaseException:
        handler.discard()
        raise
    return asset
