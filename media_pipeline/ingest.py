"""How an asset comes to be: its bytes complete in staging, then the row and its task together
(`create_staged_asset`, for uploads and for `manage.py ingest`'s local files; for a resumable
upload, whose row exists while its bytes arrive, `enqueue_completed_upload`)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from media_pipeline.tasks import enqueue_on_commit
from media_pipeline.upload import StagingUploadHandler

CHUNK = 1024 * 1024


def create_staged_asset(owner: AbstractBaseUser, handler: StagingUploadHandler,
                        filename: str) -> MediaAsset:
    """The asset for an upload now complete in staging, and its processing task, sent once the
    row is committed (a worker never looks for a row that is not there). If the row cannot be
    made, the staged bytes go: nothing is left that no asset points to. Once the row is
    committed they stay, whatever happens next: the reconciler sends a task that could not be."""
    committed: list[bool] = []
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                id=handler.asset_id, owner=owner, filename=(filename or "upload")[:255],
                storage=storage.backend(), staging_key=handler.staging_key,
            )
            transaction.on_commit(lambda: committed.append(True))  # runs first, then the task's
            enqueue_on_commit(asset.id)
    except BaseException:
        if not committed:
            handler.discard()
        raise
    return asset


def enqueue_completed_upload(asset_id: object) -> None:
    """A resumable upload's last byte is in staging: the asset goes from uploading to pending,
    and its task is sent once that is committed, as for `create_staged_asset`. Idempotent."""
    with transaction.atomic():
        if MediaAsset.objects.filter(pk=asset_id, status=MediaAsset.Status.UPLOADING).update(
                status=MediaAsset.Status.PENDING, updated_at=timezone.now()):
            enqueue_on_commit(asset_id)


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
    except BaseException:
        handler.discard()
        raise
    return create_staged_asset(owner, handler, path.name)
