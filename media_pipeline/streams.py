"""media_pipeline's assets as streaming serves them: the resolver named by STREAM_RESOLVER.

`AssetStreams.stream` runs on every stream request, seeks included, so it is one precompiled
query and a memoised conversion of the row; `original` and posters are rarer and use the ORM.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from functools import cache, lru_cache

from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from streaming.objects import LocalFile, S3Object, Streamable

logger = logging.getLogger(__name__)

# What streaming reads from a row; the rest (error text, codecs) stays in the database.
_STREAM_FIELDS = ("owner", "filename", "is_public", "mime_type", "size", "sha256", "storage",
                  "storage_key", "etag", "ready_at")


def location(backend: str, key: str, s3_etag: str = "") -> LocalFile | S3Object:
    """Where a stored key's bytes are; the key, never the URL, names the object."""
    if backend == MediaAsset.Storage.S3:
        return S3Object(client=storage.s3_client(), bucket=storage.s3_bucket(), key=key,
                        s3_etag=s3_etag, presign_client=storage.presigning_client())
    return LocalFile(path=storage.local_path(key), accel_name=key)


def strong_etag(asset_id: uuid.UUID, sha256: str, etag: str, size: int | None,
                ready_at: datetime | None) -> str:
    """A strong ETag from the content hash: equal bytes, equal tag, across backends and modes.

    A rendition has no content hash (the pipeline does not read back the file it has just
    written; see `processing.make_rendition`): its S3 ETag then, or on local disk the asset id,
    size and the moment it became ready, which all change whenever it is made anew (it is
    written once per processing and never served before it is ready)."""
    if sha256:
        opaque = sha256
    elif etag:
        opaque = etag.strip('"')
    else:
        ready = int(ready_at.timestamp()) if ready_at else 0
        opaque = f"{asset_id.hex}-{size}-{ready}"
    return f'"{opaque}"'


@cache
def _lookup_sql() -> str:
    """The one query a stream request makes, written once. Compiling the equivalent queryset
    costs three times as long as running it, and seeks are the hottest path (benchmark:
    128 KiB ranges from 16 clients)."""
    meta = MediaAsset._meta
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column)
                        for name in _STREAM_FIELDS)
    table, pk = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
    status = connection.ops.quote_name(meta.get_field("status").column)
    return f"SELECT {columns} FROM {table} WHERE {pk} = %s AND {status} = %s"


def _aware(value: datetime | str | None) -> datetime | None:
    """SQLite hands back text or naive UTC datetimes; PostgreSQL aware ones."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def _fetch_row(asset_id: uuid.UUID) -> tuple[object, ...] | None:
    """Run the lookup through Django's own cursor. Driving the driver's cursor directly (as an
    earlier version did, replaying the wrapper's checks by hand) saved 13 µs a lookup (18 against
    31, in process), about 5% of a seek's CPU: not worth code that tracks Django's internals."""
    params = [MediaAsset._meta.pk.get_db_prep_value(asset_id, connection), MediaAsset.Status.READY]
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), params)
        return cursor.fetchone()


def _streamable(asset_id: uuid.UUID, row: tuple) -> Streamable:  # type: ignore[type-arg]
    """Every column here is a plain string, integer or boolean on both backends, except
    `ready_at` (see `_aware`)."""
    owner_id, filename, is_public, mime_type, size, sha256, backend, key, etag, ready_at = row
    ready = _aware(ready_at)
    return Streamable(
        id=asset_id, filename=filename, content_type=mime_type or "application/octet-stream",
        size=int(size or 0), etag=strong_etag(asset_id, sha256, etag, size, ready),
        last_modified=ready, location=location(backend, key, etag),
        is_public=bool(is_public), owner_id=owner_id,
    )


# Memoised by the whole row, which is read on every request: a changed asset is a new row and
# so a new `Streamable`, and an unchanged one is the same object each time, which lets
# streaming keep what it derives from it (headers, validators) without asking again. Only
# local rows: an S3 one holds the process's S3 client, which is looked up each time.
_local_streamable = lru_cache(maxsize=1024)(_streamable)


@receiver(setting_changed)
def _forget_streamables(**_: object) -> None:
    _local_streamable.cache_clear()  # MEDIA_ROOT names the files


class AssetStreams:
    """streaming's resolver (streaming.objects.Resolver) for MediaAsset."""

    def stream(self, object_id: uuid.UUID) -> Streamable | None:
        """The READY asset's playable bytes: one query, and the row memoised (see above); a
        model instance (its __init__ and signals) costs more than the query itself."""
        row = _fetch_row(object_id)
        if row is None:
            return None
        row = tuple(row)
        try:
            if row[6] == MediaAsset.Storage.LOCAL:
                return _local_streamable(object_id, row)
            return _streamable(object_id, row)
        except ValueError:  # a storage key that would leave MEDIA_ROOT: a corrupt row
            logger.error("asset %s: its storage key names no stored object", object_id,
                         exc_info=True)
            return None

    def original(self, object_id: uuid.UUID) -> Streamable | None:
        """The upload as it was sent, of a READY asset; never public (the owner's alone)."""
        asset = MediaAsset.objects.filter(pk=object_id, status=MediaAsset.Status.READY).first()
        if asset is None or not asset.original_key:
            return None
        # The S3 ETag pins ranged GETs to the object the row describes; it is stored for the
        # served object only, which is the original itself when no rendition was made. An
        # original is written once and never replaced, so without one the GETs go unpinned.
        s3_etag = asset.etag if asset.original_key == asset.storage_key else ""
        try:
            where = location(asset.storage, asset.original_key, s3_etag)
        except ValueError:  # a storage key that would leave MEDIA_ROOT: a corrupt row
            logger.error("asset %s: its original's key names no stored object", object_id)
            return None
        return Streamable(
            id=asset.id, filename=asset.filename,
            content_type=asset.original_mime_type or "application/octet-stream",
            size=int(asset.original_size or 0),
            etag=strong_etag(asset.id, asset.original_sha256, s3_etag, asset.original_size,
                             asset.ready_at),
            last_modified=asset.ready_at,
            location=where, owner_id=asset.owner_id,
        )
