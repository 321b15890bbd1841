"""Signed, expiring stream URLs: `/stream/<asset id>/?sig=<timestamp>:<signature>`.

The signature is Django's `TimestampSigner` (HMAC-SHA256 over the asset id with a salt of its
own) so it cannot be replayed for another asset or reused from another signing purpose, and
checking it costs one HMAC, no database query. The URL carries only the asset's UUID: the file
it names is found through `MediaAsset.storage_key`, never through anything in the URL.
"""

from __future__ import annotations

import enum
import time
import uuid
from functools import cache, lru_cache

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


class _StreamSigner(signing.TimestampSigner):
    """Django's TimestampSigner, with the MAC check of `check_signature` memoised.

    A player sends every seek of a video with the same URL, and the HMAC (for which Django
    derives its key anew on each call) is most of what checking one costs (`make
    bench-request-cpu` measures a seek). Only values whose MAC is right are remembered
    (`lru_cache` keeps no exceptions): a forged URL costs one HMAC every time, as before, and
    never takes a place in the memo. The age is checked on every request, by `check_signature`.
    """

    def __init__(self) -> None:
        super().__init__(salt=_SALT)
        self.signed_at = lru_cache(maxsize=4096)(self._signed_at)

    def _signed_at(self, signed_value: str) -> int:
        """When `signed_value` was signed (a Unix time); BadSignature if its MAC is wrong."""
        value = signing.Signer.unsign(self, signed_value)  # the MAC alone: no age check here
        return signing.b62_decode(value.rsplit(self.sep, 1)[1])


@cache
def _signer() -> _StreamSigner:
    """Built once (it reads SECRET_KEY and its fallbacks); dropped, with its memo, when a
    setting changes."""
    return _StreamSigner()


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
        signed_at = _signer().signed_at(f"{asset_id}:{signature}")
    except signing.BadSignature:
        return SignatureCheck.INVALID
    # As TimestampSigner.unsign(max_age=...) does it.
    if time.time() - signed_at > stream_settings().url_ttl:
        return SignatureCheck.INVALID  # expired
    return SignatureCheck.VALID
