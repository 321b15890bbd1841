"""What streaming serves, and how a project tells it: the protocol between this app and the
app that owns the media.

streaming knows nothing of the project's models. It asks the object named by the
STREAM_RESOLVER setting for a `Streamable` by id, and serves that: the checklist in
`answers.py` needs only the fields below. A resolver is any class with the two methods of
`Resolver`; media_pipeline's is `media_pipeline.streams.AssetStreams`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Bytes in a file on this machine."""

    path: Path
    # Its name under nginx's internal location, for STREAM_DELIVERY=x-accel (deploy/nginx/):
    # a relative path without "..", so that it cannot name a file outside that location.
    accel_name: str

    def __post_init__(self) -> None:
        name = self.accel_name
        if (not name or name.startswith("/") or "\\" in name or "\x00" in name
                or any(part in ("", ".", "..") for part in name.split("/"))):
            raise ValueError(f"not a safe X-Accel name: {name!r}")


@dataclass(frozen=True, slots=True)
class S3Object:
    """Bytes in an S3 object, read with the given boto3 client."""

    client: Any
    bucket: str
    key: str
    # The object's own S3 ETag, when known: every ranged GET is pinned to it (IfMatch), so an
    # object replaced behind the database's back is never spliced into a response.
    s3_etag: str = ""
    # Signs STREAM_DELIVERY=redirect's URLs where browsers reach S3 by another host than
    # `client` does; None: `client` signs them.
    presign_client: Any = None


@dataclass(frozen=True, slots=True)
class Streamable:
    """One representation, as streaming serves it. Size and validators come from the resolver
    (the project's database), never from the backend, so a seek costs one open or one ranged
    GET and nothing else."""

    id: uuid.UUID
    filename: str  # for Content-Disposition
    content_type: str
    size: int
    etag: str  # a strong entity tag, quoted: '"..."'; equal bytes, equal tag
    last_modified: datetime | None
    location: LocalFile | S3Object
    is_public: bool = False  # anyone may read it; otherwise a signature or the owner's session
    owner_id: int | None = None  # the user whose session may read it without a signature


class Resolver(Protocol):
    """Finds what to serve by id; None when there is nothing to serve (unknown, not ready)."""

    def stream(self, object_id: uuid.UUID) -> Streamable | None:
        """What `/stream/<id>/` serves. Called on every request, seeks included: keep it to
        one indexed read."""

    def original(self, object_id: uuid.UUID) -> Streamable | None:
        """What `/stream/<id>/original/` serves to the owner (the upload as it was sent)."""


@cache
def resolver() -> Resolver:
    """The STREAM_RESOLVER class's instance, made once (again after a setting changes)."""
    path = getattr(settings, "STREAM_RESOLVER", "")
    if not path:
        raise ImproperlyConfigured("STREAM_RESOLVER must name a streaming.objects.Resolver class")
    return import_string(path)()


@receiver(setting_changed)
def _forget_resolver(**_: object) -> None:
    resolver.cache_clear()
