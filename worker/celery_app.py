"""The Celery app. Workers start with `celery -A worker.celery_app worker`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("media_pipeline")
# Every CELERY_* setting lives in project/settings.py, read from the environment there.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["media_pipeline"])


@worker_init.connect
@worker_process_init.connect
def _forbid_inspection(**_: object) -> None:
    """The worker runs ffmpeg on hostile files: none of its children may read its environment
    (media_pipeline/ffmpeg.py, `forbid_inspection`)."""
    from media_pipeline.ffmpeg import forbid_inspection

    forbid_inspection()
