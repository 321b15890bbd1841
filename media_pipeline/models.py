"""The media asset and its life: pending → processing → ready | failed."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models


class MediaAsset(models.Model):
    class Status(models.TextChoices):
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
