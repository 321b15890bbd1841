"""Resumable uploads: their state and their bytes in staging (`tus.py` speaks the protocol).

State is an `Upload` row, never the cache. Bytes go where a POST upload's go: on local disk a
staging file appended in place; on S3 a multipart upload under incoming/ with a part size fixed
at creation, and a received tail shorter than a part in an object of its own
(`tail_key`) until a later PATCH completes the part. So the offset the server reports is always
durable: what a killed web process had not yet committed is sent again, at most one part.

A PATCH holds its upload's lease (`lease`), taken and renewed by conditional UPDATEs: it works
the same on SQLite and PostgreSQL, across processes and machines, and a long PATCH holds no
database transaction open (on SQLite that would block every other write).

Written here rather than taken from PyPI: the Python tus servers keep offsets in the cache,
read `request.body` whole and have no locking (FIELD_NOTES, "Resumable uploads").
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from media_pipeline import storage
from media_pipeline.ingest import enqueue_completed_upload
from media_pipeline.models import MediaAsset, Upload
from media_pipeline.upload import S3_PART_SIZE

logger = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
S3_MAX_PARTS = 10_000
# Local staging commits its offset this often within a PATCH, as S3 does at each part.
LOCAL_COMMIT_BYTES = S3_PART_SIZE
MIB = 1024 * 1024


class UploadError(Exception):
    """A PATCH that cannot be applied; the message is for the client."""


class OffsetMismatch(UploadError):
    pass


class Busy(UploadError):
    """Another PATCH holds the upload's lease."""


class TooLarge(UploadError):
    pass


class ChecksumMismatch(UploadError):
    pass


class Gone(UploadError):
    """The upload expired, was deleted meanwhile, or its staged bytes are lost."""


def part_size_for(length: int) -> int:
    """The S3 part size: 8 MiB, or larger (whole MiB) where 10,000 parts would not hold
    MEDIA_MAX_UPLOAD_SIZE (S3 allows at most 10,000 parts)."""
    limit = max(length, settings.MEDIA_MAX_UPLOAD_SIZE)
    return max(S3_PART_SIZE, math.ceil(limit / S3_MAX_PARTS / MIB) * MIB)


def tail_prefix(asset_id: uuid.UUID) -> str:
    """Tails live under a prefix of their own, so an S3 lifecycle rule can expire strays
    (README) without touching staged uploads waiting for a worker."""
    return f"incoming/tails/{asset_id}/"


def tail_key(asset_id: uuid.UUID, offset: int) -> str:
    """The object holding the received bytes after the last whole part, up to `offset`. The
    key names the offset, so a new tail never overwrites the one the database still names."""
    return f"{tail_prefix(asset_id)}{offset}"


def expiry_from_now() -> Any:
    return timezone.now() + timedelta(seconds=settings.MEDIA_UPLOAD_EXPIRY_SECONDS)


def is_expired(upload: Upload) -> bool:
    return upload.completed_at is None and upload.expires_at <= timezone.now()


# --- Creation and removal ----------------------------------------------------------------------


def create(owner: AbstractBaseUser, length: int, metadata: dict[str, str]) -> Upload:
    """The asset (status uploading) and its Upload, with its staging begun: an empty file, or
    an S3 multipart upload. If the rows cannot be made, the staging goes too."""
    asset_id = uuid.uuid4()
    key = storage.staging_key(asset_id)
    backend = storage.backend()
    upload_id = ""
    if backend == "s3":
        upload_id = storage.call_s3(storage.s3_client().create_multipart_upload,
                                    Bucket=storage.s3_bucket(), Key=key)["UploadId"]
    else:
        storage.ensure_local_dirs()
        storage.staging_path(key).open("xb").close()
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                id=asset_id, owner=owner, filename=(metadata.get("filename") or "upload")[:255],
                status=MediaAsset.Status.UPLOADING, storage=backend, staging_key=key)
            return Upload.objects.create(
                asset=asset, length=length, metadata=metadata, expires_at=expiry_from_now(),
                part_size=part_size_for(length) if backend == "s3" else 0,
                s3_upload_id=upload_id)
    except BaseException:
        _discard_staging(backend, key, upload_id, asset_id)
        raise


def discard(upload: Upload) -> None:
    """Remove what an unfinished upload staged: the file, or the multipart upload and tails."""
    asset = upload.asset
    _discard_staging(asset.storage, asset.staging_key, upload.s3_upload_id, asset.id)


def _discard_staging(backend: str, key: str, upload_id: str, asset_id: uuid.UUID) -> None:
    if backend != "s3":
        storage.staging_path(key).unlink(missing_ok=True)
        return
    client, bucket = storage.s3_client(), storage.s3_bucket()
    if upload_id:
        with suppress(FileNotFoundError):  # NoSuchUpload: already completed or aborted
            storage.call_s3(client.abort_multipart_upload, Bucket=bucket, Key=key,
                            UploadId=upload_id)
    _delete_tails(asset_id)


def _delete_tails(asset_id: uuid.UUID) -> None:
    """Normally one tail at most; more only where a process died between writing a new one
    and dropping the old."""
    client, bucket = storage.s3_client(), storage.s3_bucket()
    listing = storage.call_s3(client.list_objects_v2, Bucket=bucket, Prefix=tail_prefix(asset_id))
    for item in listing.get("Contents", []):
        storage.call_s3(client.delete_object, Bucket=bucket, Key=item["Key"])


# --- The lease ------------------------------------------------------------------------------


def _lease_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.MEDIA_UPLOAD_LEASE_SECONDS)


@contextmanager
def lease(upload: Upload) -> Iterator[Lease]:
    """Hold the upload's lease for one PATCH, or raise Busy; `upload` is re-read under it."""
    token = secrets.token_hex(16)
    now = timezone.now()
    taken = Upload.objects.filter(pk=upload.pk).filter(
        Q(lease_token="") | Q(lease_until__lt=now)).update(lease_token=token,
                                                         lease_until=_lease_until())
    if not taken:
        raise Busy("Another request is adding to this upload; try again shortly.")
    held = Lease(upload.pk, token)
    try:
        upload.refresh_from_db()
        yield held
    finally:
        Upload.objects.filter(pk=upload.pk, lease_token=token).update(lease_token="",
                                                                      lease_until=None)


class Lease:
    def __init__(self, pk: uuid.UUID, token: str) -> None:
        self.pk = pk
        self.token = token
        self.renewed = time.monotonic()

    def commit(self, **changes: Any) -> None:
        """Record durable progress and renew the lease; Busy if it was lost meanwhile (this
        PATCH stalled past the lease, and another took the upload over)."""
        changes.update(lease_until=_lease_until(), expires_at=expiry_from_now())
        if not Upload.objects.filter(pk=self.pk, lease_token=self.token).update(**changes):
            raise Busy("This upload was taken over by another request.")
        self.renewed = time.monotonic()

    def keep(self) -> None:
        """Renew the lease if a third of it has gone by since the last commit."""
        if time.monotonic() - self.renewed > settings.MEDIA_UPLOAD_LEASE_SECONDS / 3:
            self.commit()


# --- Appending ------------------------------------------------------------------------------


Read = Callable[[int], bytes]


def append(upload: Upload, offset: int, read: Read, declared: int,
           checksum: tuple[str, bytes] | None = None) -> int:
    """Apply one PATCH: `declared` bytes at `offset`, read with `read(n)` in pieces. Returns
    the new offset. A body cut short keeps what arrived, unless it carries a checksum (it
    cannot be verified, so nothing of it is kept, as the tus checksum extension says)."""
    with lease(upload) as held:
        if is_expired(upload):
            raise Gone("This upload expired; start it again.")
        if upload.offset == upload.length:  # every byte is in (its staging may be gone since)
            if offset != upload.length or declared:
                raise OffsetMismatch(f"The upload is complete at byte {upload.length}.")
            new_offset = upload.length
        else:
            if offset != upload.offset:
                raise OffsetMismatch(f"The upload is at byte {upload.offset}, not {offset}.")
            if offset + declared > upload.length:
                raise TooLarge(f"The upload is {upload.length} bytes; this would pass its end.")
            try:
                new_offset = (_recover(upload, held) if _completed_in_s3(upload)
                              else _apply(upload, held, read, declared, checksum))
            except FileNotFoundError:
                new_offset = _recover(upload, held)
    if new_offset == upload.length and upload.completed_at is None:
        complete(upload)
    return new_offset


def _apply(upload: Upload, held: Lease, read: Read, declared: int,
           checksum: tuple[str, bytes] | None) -> int:
    hasher = hashlib.new(checksum[0]) if checksum else None
    sink = (_S3Appender if upload.asset.storage == "s3" else _LocalAppender)(upload, held,
                                                                          bool(hasher))
    try:
        received = _feed(sink, hasher, held, read, declared, upload.pk)
        if hasher and (received < declared or hasher.digest() != checksum[1]):
            sink.rollback()
            if received < declared:
                raise UploadError("The body was cut off, so its checksum cannot be checked; "
                                  "nothing of it was kept.")
            raise ChecksumMismatch("The checksum does not match the bytes sent; nothing of "
                                   "them was kept.")
        return sink.finish()
    finally:
        sink.close()


def _completed_in_s3(upload: Upload) -> bool:
    """Whether the multipart upload was completed by a PATCH whose process died before it
    could commit that: the staged object then exists whole. One HEAD per S3 PATCH; S3 would
    otherwise refuse the next part (NoSuchUpload, or a 500 from some S3-compatible stores)."""
    if upload.asset.storage != "s3":
        return False
    try:
        head = storage.call_s3(storage.s3_client().head_object, Bucket=storage.s3_bucket(),
                               Key=upload.asset.staging_key)
    except FileNotFoundError:
        return False
    return head["ContentLength"] == upload.length


def _recover(upload: Upload, held: Lease) -> int:
    """Staging is not where the row says: finished (`_completed_in_s3`), or lost."""
    if _completed_in_s3(upload):
        held.commit(offset=upload.length)
        logger.info("upload %s: found completed in S3; finished", upload.pk)
        return upload.length
    logger.warning("upload %s: its staged bytes are gone", upload.pk)
    raise Gone("The bytes staged for this upload are gone; start it again.")


def _feed(sink: _LocalAppender | _S3Appender, hasher: Any, held: Lease, read: Read,
          declared: int, upload_id: uuid.UUID) -> int:
    """Read the body into the sink; returns how many bytes arrived (fewer than declared where
    the client went away)."""
    received = 0
    while received < declared:
        try:
            chunk = read(min(READ_CHUNK, declared - received))
        except OSError as exc:  # the client went away mid-body (gunicorn: NoMoreData)
            logger.info("upload %s: PATCH cut off after %d bytes (%s)", upload_id, received, exc)
            break
        if not chunk:
            break
        received += len(chunk)
        if hasher:
            hasher.update(chunk)
        # After a stall, make sure the lease is still ours before touching staging.
        held.keep()
        sink.write(chunk)
    if received < declared:
        logger.info("upload %s: PATCH ended after %d of %d bytes", upload_id, received, declared)
    return received


def complete(upload: Upload) -> None:
    """The last byte is in: the asset goes pending and is enqueued as a POST upload is. Run
    again (by HEAD, PATCH or the reaper) where a process died between the last commit and this."""
    with transaction.atomic():
        Upload.objects.filter(pk=upload.pk).update(completed_at=timezone.now())
        enqueue_completed_upload(upload.pk)
    upload.refresh_from_db()
    if upload.asset.storage == "s3":
        try:
            _delete_tails(upload.asset_id)  # strays of a crash; the lifecycle rule is the backstop
        except storage.TransientStorageError as exc:
            logger.warning("upload %s: tails not deleted yet: %s", upload.pk, exc)


def is_stalled(upload: Upload) -> bool:
    """Every byte is in but the asset was never enqueued (see `complete`). The offset reaches
    the length only once staging holds every byte (on S3: the multipart upload completed)."""
    return upload.completed_at is None and upload.offset == upload.length


class _LocalAppender:
    """The staging file, written in place from the committed offset."""

    def __init__(self, upload: Upload, held: Lease, verified: bool) -> None:
        self.upload = upload
        self.held = held
        self.verified = verified  # a checksummed PATCH commits only once it is checked
        self.start = self.offset = upload.offset
        self.uncommitted = 0
        self.file = storage.staging_path(upload.asset.staging_key).open("r+b")
        if os.fstat(self.file.fileno()).st_size < self.offset:  # the host lost written bytes
            self.file.close()
            raise FileNotFoundError(self.file.name)
        # Bytes past the committed offset were never acknowledged (a web process died before
        # committing them, or a checksum failed): the upload goes on from the offset.
        self.file.truncate(self.offset)
        self.file.seek(self.offset)

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.offset += len(chunk)
        self.uncommitted += len(chunk)
        if not self.verified and self.uncommitted >= LOCAL_COMMIT_BYTES:
            self._commit()

    def _commit(self) -> None:
        self.file.flush()
        self.held.commit(offset=self.offset)
        self.uncommitted = 0

    def finish(self) -> int:
        self._commit()
        return self.offset

    def rollback(self) -> None:
        # Only while the lease is ours (Busy otherwise): past `start` may be another PATCH's.
        self.held.commit()
        self.file.truncate(self.start)

    def close(self) -> None:
        self.file.close()


class _S3Appender:
    """Whole parts of the fixed size go to the multipart upload as they fill; what is left at
    the end goes to a tail object. Memory: one part."""

    def __init__(self, upload: Upload, held: Lease, verified: bool) -> None:
        self.upload = upload
        self.held = held
        self.verified = verified
        self.client, self.bucket = storage.s3_client(), storage.s3_bucket()
        self.key = upload.asset.staging_key
        self.parts: list[dict[str, Any]] = list(upload.parts)
        self.part_size = upload.part_size
        self.old_tail = ""
        self.buffer = bytearray()
        if upload.offset > self._whole_parts():
            self.old_tail = tail_key(upload.asset_id, upload.offset)
            body = storage.call_s3(self.client.get_object, Bucket=self.bucket,
                                   Key=self.old_tail)["Body"]
            with body:
                self.buffer += body.read()

    def _whole_parts(self) -> int:
        return len(self.parts) * self.part_size

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        while len(self.buffer) >= self.part_size:
            self._send_part(bytes(self.buffer[:self.part_size]))
            del self.buffer[:self.part_size]
            # The offset reaches the length only in `finish`, once the upload is completed.
            if not self.verified and self._whole_parts() < self.upload.length:
                self.held.commit(offset=self._whole_parts(), parts=self.parts)
                self._drop_old_tail()

    def _send_part(self, body: bytes) -> None:
        number = len(self.parts) + 1
        answer = storage.call_s3(self.client.upload_part, Bucket=self.bucket, Key=self.key,
                                 UploadId=self.upload.s3_upload_id, PartNumber=number,
                                 Body=body)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def _drop_old_tail(self) -> None:
        if self.old_tail:
            storage.call_s3(self.client.delete_object, Bucket=self.bucket, Key=self.old_tail)
            self.old_tail = ""

    def finish(self) -> int:
        offset = self._whole_parts() + len(self.buffer)
        if offset != self.upload.offset:
            self.held.commit()  # the lease is still ours, before what cannot be undone
        if offset == self.upload.length:
            if self.buffer or not self.parts:
                self._send_part(bytes(self.buffer))  # the last part may be short
            storage.call_s3(self.client.complete_multipart_upload, Bucket=self.bucket,
                            Key=self.key, UploadId=self.upload.s3_upload_id,
                            MultipartUpload={"Parts": self.parts})
        elif self.buffer:
            storage.call_s3(self.client.put_object, Bucket=self.bucket,
                            Key=tail_key(self.upload.asset_id, offset), Body=bytes(self.buffer))
        if offset != self.upload.offset or self.parts != self.upload.parts:
            self.held.commit(offset=offset, parts=self.parts)
            if self.old_tail != tail_key(self.upload.asset_id, offset):
                self._drop_old_tail()
        return offset

    def rollback(self) -> None:
        """Nothing was committed: parts sent under numbers past the committed ones are sent
        again (and so replaced) by the next PATCH, and the old tail is still named."""
        self.buffer.clear()

    def close(self) -> None:
        self.buffer.clear()
