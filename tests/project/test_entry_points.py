"""The web entry points prepare what a web process's first request would otherwise wait for."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from media_pipeline import storage
from tests.services import use_media_storage

ROOT = Path(__file__).resolve().parents[2]
READY = "S3 client ready for bucket media at http://127.0.0.1:9"


@pytest.mark.parametrize("module", ["project.wsgi", "project.asgi"])
@pytest.mark.parametrize("backend", ["s3", "local"])
def test_the_s3_client_is_built_at_start_up_where_media_is_on_s3(
        module: str, backend: str, tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "VAR_DIR": str(tmp_path),
           "MEDIA_STORAGE": backend, "AWS_STORAGE_BUCKET_NAME": "media",
           "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9", "LOG_LEVEL": "INFO"}
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (READY in done.stderr) == (backend == "s3"), done.stderr


def test_prepare_s3_client_builds_the_storages_client_only_for_s3(
        settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    caplog.set_level(logging.INFO, logger="media_pipeline.storage")
    use_media_storage(settings, "local")
    storage.prepare_s3_client()
    assert READY not in caplog.text
    use_media_storage(settings, "s3")
    storage.prepare_s3_client()
    assert READY in caplog.text
