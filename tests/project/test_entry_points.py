"""The web entry points prepare what a web process's first request would otherwise wait for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from media_pipeline import storage

ROOT = Path(__file__).resolve().parents[2]
_CLIENTS_BUILT = """
import importlib, sys
importlib.import_module(sys.argv[1])
from media_pipeline import storage
print(storage.s3_client.cache_info().currsize)
"""


@pytest.mark.parametrize("module", ["project.wsgi", "project.asgi"])
@pytest.mark.parametrize(("bucket", "built"), [("media", "1"), ("", "0")])
def test_the_s3_client_is_built_at_start_up_where_a_bucket_is_configured(
        module: str, bucket: str, built: str, tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "VAR_DIR": str(tmp_path),
           "AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", _CLIENTS_BUILT, module], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == built


def test_prepare_s3_client_builds_it_only_where_a_bucket_is_configured(settings) -> None:
    storage.s3_client.cache_clear()
    try:
        settings.AWS_STORAGE_BUCKET_NAME = ""
        storage.prepare_s3_client()
        assert storage.s3_client.cache_info().currsize == 0
        settings.AWS_STORAGE_BUCKET_NAME = "media"
        storage.prepare_s3_client()
        assert storage.s3_client.cache_info().currsize == 1
    finally:
        storage.s3_client.cache_clear()
