"""ASGI entry point (uvicorn project.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_asgi_application()

from media_pipeline.storage import prepare_s3_client  # noqa: E402 - needs the apps loaded

prepare_s3_client()
