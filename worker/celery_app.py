"""The Celery app. Workers start with `celery -A worker.celery_app worker`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("media_pipeline")
# Every CELERY_* setting lives in project/settings.py, read from the environment there.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["media_pipeline"])
