"""Staged and stored objects on local disk or S3, read in bounded chunks.

Saving, moving in and deleting go through the media storage (`storage.media_storage()`).
Reading does not: `S3Storage.open()` downloads the whole object into memory (FIELD_NOTES,
"S3"), so the pipeline reads S3 through streaming's ranged reader
(`streaming.sources.open_s3_range`, the one the streams use) on the storage's client, one GET
per window.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.files import File

from media_pipeline import storage
from streaming.ranges import ByteRange
from streaming.sources import open_s3_range

READ_CHUNK = 1024 * 1024
# One ranged GET per window: a reset connection costs one window, not the whole object.
S3_READ_WINDOW = 64 * 1024 * 1024


class Blob(Protocol):
    key: str

    def exists(self) -> bool: ...
    def size(self) -> int: ...
    def iter_chunks(self) -> Iterator[bytes]: ...
    def delete(self) -> None: ...


class LocalBlob:
    """A staged file (MEDIA_STAGING_ROOT, outside the storage) or, `stored`, the media storage's
    file for `key`."""

    def __init__(self, key: str, path: Path, *, stored: bool = False) -> None:
        self.key = key
        self.path = path
        self.stored = stored

    def exists(self) -> bool:
        return self.path.is_file()

    def size(self) -> int:
        return self.path.stat().st_size

    def iter_chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk

    def delete(self) -> None:
        if self.stored:
            storage.media_storage().delete(self.key)
        else:
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
        storage.call_s3(storage.s3_storage().delete, name=self.key)


def delete_stored(asset_id: object) -> None:
    """Delete every object the pipeline may have stored for the asset: original, rendition,
    poster (the keys come from the id alone)."""
    for key in (storage.final_key(asset_id), storage.playable_key(asset_id),
                storage.poster_key(asset_id)):
        stored_blob(key).delete()


def staging_blob(key: str) -> Blob:
    if storage.backend() == "s3":
        return S3Blob(key)
    return LocalBlob(key, storage.staging_path(key))


def stored_blob(key: str) -> Blob:
    if storage.backend() == "s3":
        return S3Blob(key)
    return LocalBlob(key, storage.local_path(key), stored=True)


class _LocalFile(File):
    """A file the worker made, handed to `Storage.save`: FileSystemStorage moves a file that
    has a `temporary_file_path` (a rename on the same filesystem) instead of copying it, and
    S3Storage takes the object's Content-Type from `content_type`."""

    def __init__(self, path: Path, content_type: str) -> None:
        super().__init__(open(path, "rb"), name=path.name)  # noqa: SIM115 - closed by _save
        self.path = path
        self.content_type = content_type

    def temporary_file_path(self) -> str:
        return str(self.path)


def _save(path: Path, key: str, content_type: str) -> None:
    """Store the local file at `path` as `key`, overwriting (a re-run writes the same key)."""
    with _LocalFile(path, content_type) as content:
        saved = storage.call_s3(storage.media_storage().save, name=key, content=content)
    if saved != key:  # an overwriting storage keeps the name; anything else would lose the object
        raise RuntimeError(f"the media storage saved {key!r} as {saved!r}")


def move(source: Blob, key: str) -> Blob:
    """Make `source`'s bytes the object at `key` and remove `source`.

    Local: the storage's save, which renames on the same filesystem. S3: a server-side
    (managed, multipart when large) copy on the storage's client, then a delete; S3Storage has
    no copy of its own. Re-running after a crash overwrites the same key: one object, always.
    """
    target = stored_blob(key)
    if isinstance(source, LocalBlob) and isinstance(target, LocalBlob):
        _save(source.path, key, "application/octet-stream")
        return target
    assert isinstance(source, S3Blob) and isinstance(target, S3Blob)
    storage.call_s3(target.client.copy, CopySource={"Bucket": source.bucket, "Key": source.key},
        Bucket=target.bucket, Key=key, Config=settings.AWS_S3_TRANSFER_CONFIG)
    source.delete()
    return target


def put_file(path: Path, key: str, content_type: str) -> Blob:
    """Store a local file the worker made (a remux, a poster) at `key`, moving it."""
    _save(path, key, content_type)
    path.unlink(missing_ok=True)
    return stored_blob(key)
