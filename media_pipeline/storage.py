"""The boundary with the storage backends: where staged and stored bytes live, by asset id.

One storage layer: Django's `default` storage (STORAGES, chosen by MEDIA_STORAGE) saves, moves,
deletes and presigns: django-storages' `S3Storage` or Django's `FileSystemStorage`. Our own S3
calls (ranged reads, the upload's multipart parts, copies) use that storage's client.
Keys and paths are built only from the asset's UUID, never from anything a user sent.
Backend errors are translated by `streaming.errors`, once for the whole project, into
`TransientStorageError` (retry later) and `FileNotFoundError` (the object is gone).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from storages.backends.s3 import S3Storage

from streaming.errors import (  # noqa: F401 - the project's names for them
    S3_ERRORS,
    TransientStorageError,
    translate_s3_error,
)

logger = logging.getLogger(__name__)


def media_storage() -> Storage:
    """Where stored objects live: STORAGES["default"]."""
    return storages["default"]


def backend() -> str:
    """'s3' where the media storage is django-storages' S3Storage, else 'local'."""
    return "s3" if isinstance(media_storage(), S3Storage) else "local"


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


def s3_storage() -> S3Storage:
    """The S3 storage: the media storage itself, or, where MEDIA_STORAGE has since become
    local but a bucket is still configured, one for the rows stored on S3 before (they keep
    streaming, and their objects can still be deleted)."""
    store = media_storage()
    if isinstance(store, S3Storage):
        return store
    if getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
        return _earlier_s3_storage()
    raise ImproperlyConfigured("An asset is stored on S3, but no AWS_STORAGE_BUCKET_NAME is set.")


@cache
def _earlier_s3_storage() -> S3Storage:
    return S3Storage()


def s3_client() -> Any:
    """The S3 storage's boto3 client, for every thread of the process.

    Not `storage.connection`: django-storages builds that per thread, and each new boto3
    Session loads botocore's service model again (186 ms and 12 MiB each here,
    `benchmarks/s3_session_cost.py`); a web process of 64 threads would hold 64 and make each
    thread's first seek wait for its own. The storage's `bucket` is built once and shared by
    the storage's own saves and deletes; its client (boto3 clients are thread-safe) is ours too.
    So `exists()` and `url()`, which take the per-thread connection, are not used."""
    return s3_storage().bucket.meta.client


def s3_bucket() -> str:
    return s3_storage().bucket_name


@cache
def _presigning_storage(endpoint_url: str) -> S3Storage:
    return S3Storage(endpoint_url=endpoint_url)


def presigning_client() -> Any:
    """The client that signs URLs for browsers: for AWS_S3_PUBLIC_ENDPOINT_URL when the
    browser reaches S3 by another host than we do (FIELD_NOTES, "S3"), else the storage's."""
    public = getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", None)
    if public:
        return _presigning_storage(public).bucket.meta.client
    return s3_client()


@receiver(setting_changed)
def _forget_s3_storages(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("AWS_") or setting == "STORAGES":
        _presigning_storage.cache_clear()
        _earlier_s3_storage.cache_clear()


def prepare_s3_client() -> None:
    """Build the process's S3 client now, where the storage is S3: a web process calls this at
    start-up so that its first S3 stream does not wait for it (loading botocore's service
    model takes about a tenth of a second; `make bench-stream`'s S3 rounds that met a fresh
    worker ran at half speed)."""
    if backend() == "s3":
        logger.info("S3 client ready for bucket %s at %s", s3_bucket(),
                    s3_client().meta.endpoint_url)


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
