"""WSGI entry point (gunicorn project.wsgi): Django, behind the fast path for signed stream
URLs (streaming/wsgi.py), which hands Django everything it does not answer itself."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_application = get_wsgi_application()

from media_pipeline.storage import prepare_s3_client  # noqa: E402 - needs the apps loaded
from media_pipeline.upload import count_request_bodies  # noqa: E402
from streaming.wsgi import SignedStreamFastPath  # noqa: E402

prepare_s3_client()
application = SignedStreamFastPath(count_request_bodies(django_application))
