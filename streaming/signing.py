"""Signed, expiring stream URLs: `/stream/<asset id>/?sig=<grant>:<timestamp>:<signature>`.

The signature is Django's `TimestampSigner` (HMAC-SHA256 over the asset id and the grant, with
a salt of its own) so it cannot be replayed for another asset, turned into another grant, or
reused from another signing purpose, and checking it costs one HMAC, no database query. The
URL carries only the asset's UUID: the bytes it names are found by the resolver
(STREAM_RESOLVER), never through anything in the URL.

A URL means what it was issued for (the grant), checked against the row on every request:

- `o`, owner: given to the asset's owner (their pages, the API); good for STREAM_URL_TTL.
- `s`, share: given to anyone else viewing a public asset; good for STREAM_URL_TTL while the
  asset stays public. Withdrawing the share stops every such URL at once.
- `d`, download of the original: given to the owner only, for `original_url`; good for
  STREAM_URL_TTL. It opens the original and nothing else, and no other grant opens the original,
  so a stream URL passed on never hands out the uploaded file.

A deleted asset has no row, so every URL for it stops too. A timestamp from the future (more
than a minute of clock skew between web hosts) is refused: nobody holding the key signs one.
"""

from __future__ import annotations

import enum
import time
import uuid
from functools import cache, lru_cache
from typing import Protocol

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import reverse

from streaming.conf import stream_settings

SIGNATURE_PARAM = "sig"


class HasId(Protocol):
    """What a URL is signed for: anything with the UUID its resolver knows it by."""

    @property
    def id(self) -> uuid.UUID: ...


_SALT = "streaming.stream-url.v2"  # v2: the grant is signed too; older URLs no longer verify
# Web hosts' clocks may differ by this much; a URL signed further ahead was not signed by us.
CLOCK_SKEW_SECONDS = 60


class Grant(enum.Enum):
    OWNER = "o"
    SHARE = "s"
    ORIGINAL = "d"


class SignatureCheck(enum.Enum):
    ABSENT = "absent"
    OWNER = "owner"  # an owner's URL, within its lifetime
    SHARE = "share"  # a shared URL, within its lifetime: good while the asset is public
    ORIGINAL = "original"  # the owner's download of the original, within its lifetime
    INVALID = "invalid"  # tampered, for another asset, expired or from the future: 403

    def allows(self, is_public: bool) -> bool:
        """Whether a request with this signature may stream an asset that is (not) public."""
        return self is SignatureCheck.OWNER or (self is SignatureCheck.SHARE and is_public)


_CHECK_OF_GRANT = {Grant.OWNER.value: SignatureCheck.OWNER, Grant.SHARE.value: SignatureCheck.SHARE,
                   Grant.ORIGINAL.value: SignatureCheck.ORIGINAL}


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
        self.signed = lru_cache(maxsize=4096)(self._signed)

    def _signed(self, signed_value: str) -> tuple[str, int]:
        """The grant and when `signed_value` was signed (a Unix time); BadSignature if its MAC
        is wrong."""
        value = signing.Signer.unsign(self, signed_value)  # the MAC alone: no age check here
        rest, timestamp = value.rsplit(self.sep, 1)
        return rest.rsplit(self.sep, 1)[-1], signing.b62_decode(timestamp)


@cache
def _signer() -> _StreamSigner:
    """Built once (it reads SECRET_KEY and its fallbacks); dropped, with its memo, when a
    setting changes."""
    return _StreamSigner()


@receiver(setting_changed)
def _forget_signer(**_: object) -> None:
    _signer.cache_clear()


def sign_asset_id(asset_id: uuid.UUID, grant: Grant = Grant.OWNER) -> str:
    """The `sig` value for an asset: '<grant>:<timestamp>:<signature>'."""
    value = f"{asset_id}{_signer().sep}{grant.value}"
    return _signer().sign(value)[len(str(asset_id)) + 1 :]


def stream_url(asset: HasId, grant: Grant = Grant.OWNER) -> str:
    """The relative, signed stream URL of `asset`, valid for STREAM_URL_TTL seconds."""
    path = reverse("streaming:stream", kwargs={"asset_id": asset.id})
    return f"{path}?{SIGNATURE_PARAM}={sign_asset_id(asset.id, grant)}"


def original_url(asset: HasId) -> str:
    """The relative, signed URL of the owner's download of the original upload."""
    path = reverse("streaming:original", kwargs={"asset_id": asset.id})
    return f"{path}?{SIGNATURE_PARAM}={sign_asset_id(asset.id, Grant.ORIGINAL)}"


def check_signature(asset_id: uuid.UUID, signature: str | None) -> SignatureCheck:
    """Verify a `sig` value for `asset_id` against the key and the TTL."""
    if signature is None:
        return SignatureCheck.ABSENT
    try:
        grant, signed_at = _signer().signed(f"{asset_id}:{signature}")
    except (signing.BadSignature, ValueError):
        return SignatureCheck.INVALID
    age = time.time() - signed_at
    # As TimestampSigner.unsign(max_age=...) does it, and no dates from the future.
    if age > stream_settings().url_ttl or age < -CLOCK_SKEW_SECONDS:
        return SignatureCheck.INVALID
    return _CHECK_OF_GRANT.get(grant, SignatureCheck.INVALID)
