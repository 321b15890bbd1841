"""Deleting an asset removes every byte it has anywhere: staged, stored, poster; and the reaper
of resumable uploads nobody finished."""

from __future__ import annotations

import logging

from django.db.models import F, Q
from django.utils import timezone

from media_pipeline import blobs, resumable, storage
from media_pipeline.models import MediaAsset, Upload

logger = logging.getLogger(__name__)


def delete_asset(asset: MediaAsset) -> None:
    """Delete the objects first, then the row: a failure leaves the row to retry from. An
    upload still arriving is taken from its PATCH's hands first: `resumable.Busy` while one
    runs (the caller answers 423 or 409; the reaper tries again later)."""
    upload = Upload.objects.filter(pk=asset.pk, completed_at__isnull=True).first()
    if upload is not None:
        with resumable.lease(upload):
            Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now())  # later PATCHes: 410
            resumable.discard(upload)
    blobs.delete_stored(asset.id)
    if asset.staging_key:
        blobs.staging_blob(asset.staging_key).delete()
    asset.delete()
    logger.info("deleted asset %s", asset.id)


def reap_expired_uploads() -> int:
    """Delete unfinished uploads past their expiry with everything they staged, and forget
    finished ones past theirs (their assets stay); finish any whose last byte arrived but whose
    asset was never enqueued. Returns how many unfinished uploads went."""
    now = timezone.now()
    # `resumable.is_stalled`, in SQL: the reaper need not read every upload in progress.
    for upload in Upload.objects.filter(completed_at__isnull=True, offset=F("length")):
        resumable.complete(upload)
    Upload.objects.filter(completed_at__isnull=False, expires_at__lte=now).delete()
    reaped = 0
    expired = Upload.objects.select_related("asset").filter(
        completed_at__isnull=True, expires_at__lte=now).filter(
        Q(lease_token="") | Q(lease_until__lt=now))
    for upload in expired:
        try:
            delete_asset(upload.asset)
        except (storage.TransientStorageError, resumable.Busy) as exc:
            logger.warning("could not reap upload %s yet: %s", upload.pk, exc)
            continue
        logger.info("reaped expired upload %s (%d of %d bytes)", upload.pk, upload.offset,
                    upload.length)
        reaped += 1
    return reaped
