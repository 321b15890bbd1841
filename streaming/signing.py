"""Signed, expiring stream URLs: `/stream/<asset id>/?sig=<timestamp>:<signature>`.

The signature is Django's `TimestampSigner` (HMAC-SHA256 over the asset id with a salt of its
own) so it cannot be replayed for another asset or reused from another signing purpose, and
checking it costs one HMAC, no database query. The URL carries only the asset's UUID: the file
it names is found through `MediaAsset.storage_key`, never through anything in the URL.
"""

from __future__ import annotations

import enum
import uuid
from functools import cache

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import reverse

from media_pipeline.models import MediaAsset
from streaming.conf import stream_settings

SIGNATURE_PARAM = "sig"
_SALT = "streaming.stream-url"


class SignatureCheck(enum.Enum):
    ABSENT = "absent"
    VALID = "valid"
    INVALID = "invalid"  # tampered, for another asset, or expired: 403


@cache
def _signer() -> signing.TimestampSigner:
    """Built once (it reads SECRET_KEY and its fallbacks); dropped when a setting changes."""
    return signing.TimestampSigner(salt=_SALT)


@receiver(setting_changed)
def _forget_signer(**_: object) -> None:
    _signer.cache_clear()


def sign_asset_id(asset_id: uuid.UUID) -> str:
    """The `sig` value for an asset: '<timestamp>:<signature>'."""
    value = str(asset_id)
    return _signer().sign(value)[len(value) + 1 :]


def stream_url(asset: MediaAsset) -> str:
    """The relative, signed stream URL of `asset`, valid for STREAM_URL_TTL seconds."""
    path = reverse("streaming:stream", kwargs={"asset_id": asset.id})
    return f"{path}?{SIGNATURE_PARAM}={sign_asset_id(asset.id)}"


def check_signature(asset_id: uuid.UUID, signature: str | None) -> SignatureCheck:
    """Verify a `sig` value for `asset_id` against the key and the TTL."""
    if signature is None:
        return SignatureCheck.ABSENT
    try:
        _signer().unsign(f"{asset_id}:{signature}", max_age=stream_settings().url_ttl)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return SignatureCheck.INVALID
    return SignatureCheck.VALID
