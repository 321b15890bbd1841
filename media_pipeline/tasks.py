"""Celery glue: the tasks take asset ids; the work is in processing.py.

Reliability (FIELD_NOTES, "Uploads and processing"): `acks_late` with
`reject_on_worker_lost`, because every step is idempotent; retries with backoff and jitter
only for errors known to be transient; soft and hard time limits from settings; a reconciler
(celery beat, and once at worker start) for assets whose task was never sent or was lost.
"""

from __future__ import annotations

import logging
import uuid

import botocore.exceptions
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from media_pipeline import processing
from media_pipeline.models import MediaAsset
from media_pipeline.playback import Method
from media_pipeline.storage import TransientStorageError

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (
    TransientStorageError,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    ConnectionError,
    OperationalError,  # the database restarting or locked for too long
)


@shared_task(name="media_pipeline.process_asset", bind=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=None)
def process_asset(self, asset_id: str) -> None:
    """Probe, plan and store; a full transcode is handed to the transcode queue."""
    try:
        _process(self, asset_id, transcode=False)
    except processing.HandOff:
        enqueue(asset_id)


@shared_task(name="media_pipeline.transcode_asset", bind=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=None)
def transcode_asset(self, asset_id: str) -> None:
    """The whole pipeline with its transcode, on the `transcode` queue (CELERY_TASK_ROUTES)."""
    _process(self, asset_id, transcode=True)


def _process(task, asset_id: str, transcode: bool) -> None:
    try:
        processing.process(asset_id, transcode=transcode)
    except TRANSIENT_ERRORS as exc:
        attempt = task.request.retries + 1
        reason = f"Storage or database briefly unavailable ({type(exc).__name__}); retrying."
        if attempt >= settings.MEDIA_MAX_ATTEMPTS:
            processing.mark_failed(asset_id, "Storage was unavailable on every attempt "
                                             f"({attempt}); an operator can requeue it.")
            return
        processing.release(asset_id, reason)
        countdown = get_exponential_backoff_interval(
            factor=settings.MEDIA_RETRY_BACKOFF_SECONDS, retries=task.request.retries,
            maximum=600, full_jitter=True)
        logger.warning("asset %s: %s (attempt %d); retry in %ss", asset_id, exc, attempt, countdown)
        raise task.retry(exc=exc, countdown=countdown) from exc
    except SoftTimeLimitExceeded:
        processing.mark_failed(asset_id, "Processing took longer than allowed "
                                         f"({settings.CELERY_TASK_SOFT_TIME_LIMIT} s).")
    except processing.HandOff:
        raise
    except Exception:
        # A bug, not the file: retrying would fail the same way. Logged for the operator.
        logger.exception("asset %s: unexpected error", asset_id)
        processing.mark_failed(asset_id, "Processing failed because of an internal error; "
                                         "an operator can requeue it.")


def enqueue(asset_id: uuid.UUID | str) -> bool:
    """Send the processing task (or, for an asset handed to the transcoders, the transcode
    task); with the broker down, leave the asset for the reconciler."""
    transcode = MediaAsset.objects.filter(pk=asset_id, status=MediaAsset.Status.PENDING,
                                          playback_method=Method.TRANSCODE).exists()
    task = transcode_asset if transcode else process_asset
    try:
        task.apply_async(args=[str(asset_id)], retry=True,
                                  retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning("could not enqueue asset %s (%s); the reconciler will retry", asset_id, exc)
        return False
    MediaAsset.objects.filter(pk=asset_id).update(enqueued_at=timezone.now())
    return True


def enqueue_on_commit(asset_id: uuid.UUID | str) -> None:
    """Send the task once the asset row is committed, so the worker always finds it. `robust`:
    a failure to send (the database gone between commit and send) is logged, not raised into
    the request that made the row; the reconciler sends what was not sent."""
    transaction.on_commit(lambda: enqueue(asset_id), robust=True)


def requeue(asset_id: uuid.UUID | str) -> None:
    """Give a failed (or stuck) asset a fresh start: operators use this from the admin. Not
    one that is ready, nor one whose resumable upload is still arriving."""
    if MediaAsset.objects.filter(pk=asset_id).exclude(
            status__in=[MediaAsset.Status.READY, MediaAsset.Status.UPLOADING]).update(
            status=MediaAsset.Status.PENDING, attempts=0, error="", enqueued_at=None,
            updated_at=timezone.now()):
        enqueue_on_commit(asset_id)


@shared_task(name="media_pipeline.requeue_stuck_assets", ignore_result=True)
def requeue_stuck_assets() -> int:
    processing.sweep_scratch()
    stuck = processing.stuck_assets()
    for asset_id in stuck:
        logger.info("re-enqueueing stuck asset %s", asset_id)
        enqueue(asset_id)
    return len(stuck)


@shared_task(name="media_pipeline.reap_expired_uploads", ignore_result=True)
def reap_expired_uploads() -> int:
    """Celery beat: resumable uploads nobody finished, deleted with what they staged."""
    # Imported here: removal needs resumable, which enqueues through this module.
    from media_pipeline.removal import reap_expired_uploads as reap

    return reap()


@worker_ready.connect
def _reconcile_at_start(sender: object = None, **kwargs: object) -> None:
    processing.sweep_scratch()  # this machine's, which the task below may run elsewhere
    requeue_stuck_assets.delay()
