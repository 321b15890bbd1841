"""`GET /healthz` names each part, and says which one is down."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client

from tests.services import RedisServer, S3Server, free_port, use_media_storage

pytestmark = pytest.mark.django_db


def test_health_is_200_when_database_broker_and_storage_answer(
        client: Client, settings, tmp_path, redis_server: RedisServer) -> None:
    settings.CELERY_BROKER_URL = redis_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_STAGING_ROOT = tmp_path / "staging"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


def test_health_is_503_naming_the_broker_when_redis_is_down(client: Client, settings, tmp_path) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_STAGING_ROOT = tmp_path / "staging"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["broker"].startswith("down") and body["database"] == "ok" and body["storage"] == "ok"


@pytest.mark.integration
def test_health_checks_the_s3_bucket(client: Client, settings, redis_server: RedisServer,
                                     s3_server: S3Server) -> None:
    settings.CELERY_BROKER_URL = redis_server.url
    s3_server.use_in(settings)
    assert client.get("/healthz").status_code == 200
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket"
    use_media_storage(settings, "s3")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["storage"].startswith("down")


@pytest.mark.parametrize(("env", "message"), [
    ({"DJANGO_DEBUG": "false", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),
    ({"DJANGO_DEBUG": "false", "SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
    ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE"),
    ({"MEDIA_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
])
def test_misconfiguration_refuses_to_start(env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "MEDIA_STORAGE")}
    result = subprocess.run([sys.executable, "manage.py", "check"], env={**clean, **env},
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert message in result.stderr
