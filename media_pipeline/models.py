"""The media asset and its life: (uploading →) pending → processing → ready | failed."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models


class MediaAsset(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"  # a resumable upload still arriving (Upload)
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Storage(models.TextChoices):
        LOCAL = "local", "Local disk"
        S3 = "s3", "S3"

    # A random id: asset URLs cannot be enumerated, and keys derived from it never carry user input.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_assets"
    )
    # Shown to people and used in Content-Disposition; never part of a path or storage key.
    filename = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    is_public = models.BooleanField(default=False)

    # What stream_url serves: the playable rendition, or the original itself where it plays as
    # it is (playback_method "original"); streaming reads these, the storage key and etag.
    # `sha256` is empty for a rendition (its ETag comes from `etag` or the row).
    mime_type = models.CharField(max_length=127, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    playback_method = models.CharField(max_length=16, blank=True)
    playback_video_codec = models.CharField(max_length=64, blank=True)
    playback_audio_codec = models.CharField(max_length=64, blank=True)
    # The upload as it was sent, always kept.
    original_key = models.CharField(max_length=255, blank=True)
    original_mime_type = models.CharField(max_length=127, blank=True)
    original_size = models.BigIntegerField(null=True, blank=True)
    original_sha256 = models.CharField(max_length=64, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="seconds")
    # As displayed (a phone's portrait video is stored landscape with a rotation).
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # Of the original.
    video_codec = models.CharField(max_length=64, blank=True)
    audio_codec = models.CharField(max_length=64, blank=True)

    storage = models.CharField(max_length=8, choices=Storage.choices)
    # Where the upload waits for the worker (a staging file name or an S3 key under incoming/).
    staging_key = models.CharField(max_length=255, blank=True)
    storage_key = models.CharField(max_length=255, blank=True)
    poster_key = models.CharField(max_length=255, blank=True)
    # Its bytes: the poster is served through streaming's checklist, which takes sizes from rows.
    poster_size = models.PositiveIntegerField(null=True, blank=True)
    # The stored object's S3 ETag (or a local validator): a seek pins its ranged GET to it.
    etag = models.CharField(max_length=128, blank=True)

    error = models.TextField(blank=True)
    # 0-99 while a long ffmpeg run (a transcode) is under way; null otherwise.
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the processing task last reached the broker; null while it has not (Redis down).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def media_kind(self) -> str:
        """'video', 'audio', 'image' or 'other', from the detected MIME type."""
        major = self.mime_type.partition("/")[0]
        return major if major in ("video", "audio", "image") else "other"


class Upload(models.Model):
    """A resumable (tus) upload's state, in the database and never in a cache: it must outlive
    processes, restarts and the cache's expiry (FIELD_NOTES, "Resumable uploads").

    `offset` counts bytes that are durable in staging: on local disk, the start of the staging
    file; on S3, the `parts` of the multipart upload `s3_upload_id`, followed by a tail shorter
    than a part in its own object (`resumable.tail_key`). A PATCH holds a lease
    (`lease_token` until `lease_until`), so two cannot interleave."""

    asset = models.OneToOneField(MediaAsset, on_delete=models.CASCADE, primary_key=True,
                                 related_name="upload")
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    # Upload-Metadata as sent (decoded), for clients that read it back.
    metadata = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # S3: fixed at creation (every part but the last has this size).
    part_size = models.BigIntegerField(default=0)
    s3_upload_id = models.CharField(max_length=1024, blank=True)
    parts = models.JSONField(default=list, blank=True)  # [{"PartNumber": n, "ETag": "..."}]
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"upload {self.asset_id}: {self.offset}/{self.length}"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user: models.Model) -> str:
        """Create a token for `user` and return its plaintext, which is shown once."""
        key = secrets.token_urlsafe(32)
        cls.objects.create(user=user, key_hash=cls.hash_key(key))
        return key
