"""The process's boto3 S3 clients, built in one place from django-storages' AWS_* settings.

Why not the storage's own: django-storages' S3Storage makes a boto3 Session and resource per
thread, and a new Session loads botocore's service model again: 186-214 ms and 12-13 MiB each
(`benchmarks/s3_session_cost.py`). A web process of 64 threads would hold 64 of them and make a
thread's first S3 seek wait for its own. boto3 clients are thread-safe, so every thread of a
process shares one client per endpoint.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from django.conf import settings


@cache
def s3_client(endpoint_url: str | None = None) -> Any:
    """One client per endpoint: AWS_S3_ENDPOINT_URL by default, or another one (the host
    browsers use, for presigned URLs: FIELD_NOTES, "S3")."""
    def setting(name: str) -> Any:  # unset: boto3's own default (environment, instance role)
        return getattr(settings, name, None) or None

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or setting("AWS_S3_ENDPOINT_URL"),
        region_name=setting("AWS_S3_REGION_NAME"),
        aws_access_key_id=setting("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=setting("AWS_SECRET_ACCESS_KEY"),
        config=setting("AWS_S3_CLIENT_CONFIG"),
    )
