"""The boundary with the storage backends: where staged and stored bytes live, by asset id.

Keys and paths are built only from the asset's UUID, never from anything a user sent.
Backend errors are translated by `streaming.errors`, once for the whole project, into
`TransientStorageError` (retry later) and `FileNotFoundError` (the object is gone).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from streaming.errors import (  # noqa: F401 - the project's names for them
    S3_ERRORS,
    TransientStorageError,
    translate_s3_error,
)
from streaming.s3 import s3_client


def backend() -> str:
    """'local' or 's3', as the operator chose in MEDIA_STORAGE."""
    return settings.MEDIA_STORAGE


def final_key(asset_id: uuid.UUID) -> str:
    return f"media/{asset_id}/original"


def playable_key(asset_id: uuid.UUID) -> str:
    """The rendition browsers play, where the original does not play as it is."""
    return f"media/{asset_id}/playable"


def poster_key(asset_id: uuid.UUID) -> str:
    return f"media/{asset_id}/poster.jpg"


def staging_key(asset_id: uuid.UUID) -> str:
    """Local: a file name inside MEDIA_STAGING_ROOT. S3: a key under the incoming/ prefix."""
    return f"incoming/{asset_id}" if backend() == "s3" else f"{asset_id}.upload"


def staging_path(key: str) -> Path:
    """The local staging file for `key`; refuses anything that is not a plain file name."""
    name = Path(key).name
    if name != key or not name.endswith(".upload"):
        raise ValueError(f"not a staging key: {key!r}")
    return settings.MEDIA_STAGING_ROOT / name


def local_path(key: str) -> Path:
    """The file under MEDIA_ROOT for a stored key; refuses keys that would leave it."""
    # A lexical check (normpath, no filesystem calls): this runs on every stream request, and
    # keys are ours ("media/<uuid>/original"), so ".." and absolute paths are all to refuse.
    root = os.fspath(settings.MEDIA_ROOT)
    path = os.path.normpath(os.path.join(root, key))
    if not path.startswith(root.rstrip(os.sep) + os.sep):
        raise ValueError(f"key escapes MEDIA_ROOT: {key!r}")
    return Path(path)


def ensure_local_dirs() -> None:
    for directory in (settings.MEDIA_ROOT, settings.MEDIA_STAGING_ROOT):
        Path(directory).mkdir(parents=True, exist_ok=True)


# --- S3 -------------------------------------------------------------------------------------


def prepare_s3_client() -> None:
    """Build the process's S3 client now, where a bucket is configured: a web process calls
    this at start-up so that its first S3 stream does not wait for it (loading botocore's
    service model takes about a tenth of a second; `make bench-stream`'s S3 rounds that met a
    fresh worker ran at half speed)."""
    if settings.AWS_STORAGE_BUCKET_NAME:
        s3_client()


def s3_bucket() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def call_s3(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a boto3 client method; its errors leave as the project's exception types."""
    try:
        return call(**kwargs)
    except S3_ERRORS as exc:
        translated = translate_s3_error(exc)
        if translated is exc:
            raise
        raise translated from exc


def check_storage() -> None:
    """Raise if the configured backend cannot be reached (used by /healthz)."""
    if backend() == "s3":
        call_s3(s3_client().head_bucket, Bucket=s3_bucket())
        return
    ensure_local_dirs()
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        raise FileNotFoundError(f"MEDIA_ROOT {root} is not a directory")
