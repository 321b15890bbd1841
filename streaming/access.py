"""Who may stream an asset: a signature whose grant still holds (streaming/signing.py), the
owner's session, or a public asset. Who may download its original: the owner only, by session
or by an original-download signature.

The signature is checked before the database is touched, so a forged URL costs one HMAC.
Private assets answer 404 (not 403) to anyone without access, so their ids cannot be probed.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache

from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from media_pipeline.models import MediaAsset
from streaming.signing import SIGNATURE_PARAM, SignatureCheck, check_signature

# What streaming reads from a row; the rest (error text, codecs) stays in the database.
_STREAM_FIELDS = ("owner", "filename", "is_public", "mime_type", "size", "sha256", "storage",
                  "storage_key", "etag", "ready_at")


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


@cache
def _sqlite_lookup_sql() -> str:
    return _lookup_sql().replace("%s", "?")  # sqlite3's placeholder


def _aware(value: datetime | str | None) -> datetime | None:
    """SQLite hands back text or naive UTC datetimes; PostgreSQL aware ones."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class StreamAsset:
    """The columns of a ready asset that streaming reads, from one row."""

    id: uuid.UUID
    owner_id: int | None
    filename: str
    is_public: bool
    mime_type: str
    size: int | None
    sha256: str
    storage: str
    storage_key: str
    etag: str
    ready_at: datetime | None


def _fetch_row(asset_id: uuid.UUID) -> tuple[object, ...] | None:
    """Run the lookup on the default database's connection.

    On the driver's own cursor (sqlite3's, or the backend's `create_cursor`, which adapts
    placeholders and types) rather than Django's `CursorWrapper`, whose layers cost as much as
    the query on this, the hottest path. The broken-transaction and health checks and the error
    translation still run, and the connection comes from `connections`, so it is this thread's
    own. When something watches queries (DEBUG's query log, `assertNumQueries`, an
    `execute_wrapper`), the ordinary cursor is used, so the query is seen like any other.
    """
    database = connections[DEFAULT_DB_ALIAS]
    params = [MediaAsset._meta.pk.get_db_prep_value(asset_id, database), MediaAsset.Status.READY]
    if database.queries_logged or database.execute_wrappers:
        with database.cursor() as cursor:
            cursor.execute(_lookup_sql(), params)
            return cursor.fetchone()
    database.validate_no_broken_transaction()
    database.close_if_health_check_failed()
    database.ensure_connection()
    with database.wrap_database_errors:
        if isinstance(database.connection, sqlite3.Connection):
            # sqlite3's own cursor: Django's cursor class for SQLite only rewrites each query's
            # %s placeholders to ? (a regular expression per call), which is done once here.
            cursor, sql = database.connection.cursor(), _sqlite_lookup_sql()
        else:
            cursor, sql = database.create_cursor(), _lookup_sql()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()


def ready_asset(asset_id: uuid.UUID) -> StreamAsset | None:
    """The READY asset with this id, or None.

    One query (see `_fetch_row`) and a small dataclass built from the row: a model instance
    (its __init__ and pre/post_init signals) or RawQuerySet's per-row machinery cost more than
    the query itself. Every column read here is a plain string, integer or boolean on both
    backends, except `ready_at` (see `_aware`).
    """
    row = _fetch_row(asset_id)
    if row is None:
        return None
    try:
        return _asset_from_row(asset_id, tuple(row))
    except TypeError:  # a column value that cannot be hashed: nothing to memoise it by
        return _asset_from_row.__wrapped__(asset_id, tuple(row))


@lru_cache(maxsize=1024)
def _asset_from_row(asset_id: uuid.UUID, row: tuple[object, ...]) -> StreamAsset:
    """Memoised by the whole row, which is read on every request: a changed asset is a new
    row and so a new `StreamAsset`, and an unchanged one is the same object each time, which
    lets `answers` keep what it derives from it (source, headers) without asking again."""
    owner_id, filename, is_public, mime_type, size, sha256, storage, storage_key, etag, ready_at = row
    return StreamAsset(
        id=asset_id, owner_id=owner_id, filename=filename, is_public=bool(is_public),
        mime_type=mime_type, size=size, sha256=sha256, storage=storage, storage_key=storage_key,
        etag=etag, ready_at=_aware(ready_at),
    )


def authorised_asset(request: HttpRequest, asset_id: uuid.UUID) -> StreamAsset:
    """The ready asset this request may read; PermissionDenied (403) or Http404 otherwise."""
    check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
    if check is SignatureCheck.INVALID:
        raise PermissionDenied("stream signature is invalid or expired")
    asset = ready_asset(asset_id)
    if asset is None:
        raise Http404("no such asset")
    if check.allows(asset.is_public) or asset.is_public:
        return asset
    user = request.user
    if user.is_authenticated and user.pk == asset.owner_id:
        return asset
    raise Http404("no such asset")


def authorised_original(request: HttpRequest, asset_id: uuid.UUID) -> StreamAsset:
    """The original upload of a ready asset, for its owner only; PermissionDenied (403) for a
    bad signature, Http404 for anyone else. Shaped like a stream row, so the same `answer`
    serves it, always as an attachment."""
    check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
    if check is SignatureCheck.INVALID:
        raise PermissionDenied("download signature is invalid or expired")
    asset = MediaAsset.objects.filter(pk=asset_id, status=MediaAsset.Status.READY).first()
    if asset is None or not asset.original_key:
        raise Http404("no such asset")
    user = request.user
    if check is not SignatureCheck.ORIGINAL and not (
            user.is_authenticated and user.pk == asset.owner_id):
        raise Http404("no such asset")
    # The S3 ETag pins ranged GETs to the object the row describes; it is stored for the served
    # object only, which is the original itself when no rendition was made. An original is
    # written once and never replaced, so without one the GETs go unpinned.
    same_object = asset.original_key == asset.storage_key
    return StreamAsset(
        id=asset.id, owner_id=asset.owner_id, filename=asset.filename, is_public=False,
        mime_type=asset.original_mime_type or "application/octet-stream",
        size=asset.original_size, sha256=asset.original_sha256, storage=asset.storage,
        storage_key=asset.original_key, etag=asset.etag if same_object else "",
        ready_at=asset.ready_at,
    )
