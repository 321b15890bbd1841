"""Staged and stored objects on local disk or S3, read in bounded chunks.

`storage.open()` on S3 downloads the whole object into memory (FIELD_NOTES, "S3"), so the
pipeline reads S3 through streaming's ranged reader (`streaming.sources.open_s3_range`, the one
the streams use) on the shared client, one GET per window.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from boto3.s3.transfer import TransferConfig

from media_pipeline import storage
from streaming.ranges import ByteRange
from streaming.sources import open_s3_range

READ_CHUNK = 1024 * 1024
# One ranged GET per window: a reset connection costs one window, not the whole object.
S3_READ_WINDOW = 64 * 1024 * 1024
S3_TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024,
                             max_concurrency=4)


class Blob(Protocol):
    key: str

    def exists(self) -> bool: ...
    def size(self) -> int: ...
    def iter_chunks(self) -> Iterator[bytes]: ...
    def delete(self) -> None: ...


class LocalBlob:
    def __init__(self, key: str, path: Path) -> None:
        self.key = key
        self.path = path

    def exists(self) -> bool:
        return self.path.is_file()

    def size(self) -> int:
        return self.path.stat().st_size

    def iter_chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


class S3Blob:
    def __init__(self, key: str) -> None:
        self.key = key
        self.client = storage.s3_client()
        self.bucket = storage.s3_bucket()

    def head(self) -> dict[str, Any] | None:
        try:
            return storage.call_s3(self.client.head_object, Bucket=self.bucket, Key=self.key)
        except FileNotFoundError:
            return None

    def exists(self) -> bool:
        return self.head() is not None

    def size(self) -> int:
        head = self.head()
        if head is None:
            raise FileNotFoundError(self.key)
        return head["ContentLength"]

    def etag(self) -> str:
        head = self.head()
        if head is None:
            raise FileNotFoundError(self.key)
        return head["ETag"]

    def iter_chunks(self) -> Iterator[bytes]:
        size = self.size()
        for first in range(0, size, S3_READ_WINDOW):
            last = min(first + S3_READ_WINDOW, size) - 1
            yield from open_s3_range(self.client, self.bucket, self.key, ByteRange(first, last))

    def delete(self) -> None:
        storage.call_s3(self.client.delete_object, Bucket=self.bucket, Key=self.key)


def staging_blob(key: str) -> Blob:
    if storage.backend() == "s3":
        return S3Blob(key)
    return LocalBlob(key, storage.staging_path(key))


def stored_blob(key: str) -> Blob:
    if storage.backend() == "s3":
        return S3Blob(key)
    return LocalBlob(key, storage.local_path(key))


def move(source: Blob, key: str) -> Blob:
    """Make `source`'s bytes the object at `key` and remove `source`.

    Local: a rename on the same filesystem. S3: a server-side (managed, multipart when large)
    copy, then a delete. Re-running after a crash overwrites the same key: one object, always.
    """
    target = stored_blob(key)
    if isinstance(source, LocalBlob) and isinstance(target, LocalBlob):
        target.path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source.path, target.path)
        return target
    assert isinstance(source, S3Blob) and isinstance(target, S3Blob)
    storage.call_s3(target.client.copy, CopySource={"Bucket": source.bucket, "Key": source.key},
        Bucket=target.bucket, Key=key, Config=S3_TRANSFER)
    source.delete()
    return target


def put_file(path: Path, key: str, content_type: str) -> Blob:
    """Store a local file the worker made (a remux, a poster) at `key`, moving it."""
    target = stored_blob(key)
    if isinstance(target, LocalBlob):
        target.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target.path)
        return target
    assert isinstance(target, S3Blob)
    storage.call_s3(target.client.upload_file, Filename=str(path), Bucket=target.bucket, Key=key,
        ExtraArgs={"ContentType": content_type}, Config=S3_TRANSFER)
    path.unlink(missing_ok=True)
    return target
