"""WSGI entry point (gunicorn project.wsgi): Django, with request bodies counted as they are
read (media_pipeline/upload.py) so an upload's progress can be reported."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_application = get_wsgi_application()

from media_pipeline.storage import prepare_s3_client  # noqa: E402 - needs the apps loaded
from media_pipeline.upload import count_request_bodies  # noqa: E402

prepare_s3_client()
application = count_request_bodies(django_application)
