"""Who may stream an asset: a valid signature, the owner's session, or a public asset.

The signature is checked before the database is touched, so a forged URL costs one HMAC.
Private assets answer 404 (not 403) to anyone without access, so their ids cannot be probed.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from media_pipeline.models import MediaAsset
from streaming.signing import SIGNATURE_PARAM, SignatureCheck, check_signature

# What streaming reads from a row; the rest (error text, codecs) stays in the database.
_STREAM_FIELDS = ("id", "owner_id", "filename", "status", "is_public", "mime_type", "size",
                  "sha256", "storage", "storage_key", "etag", "ready_at")


def authorised_asset(request: HttpRequest, asset_id: uuid.UUID) -> MediaAsset:
    """The ready asset this request may read; PermissionDenied (403) or Http404 otherwise."""
    check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
    if check is SignatureCheck.INVALID:
        raise PermissionDenied("stream signature is invalid or expired")
    asset = (MediaAsset.objects.only(*_STREAM_FIELDS)
             .filter(pk=asset_id, status=MediaAsset.Status.READY).first())
    if asset is None:
        raise Http404("no such asset")
    if check is SignatureCheck.VALID or asset.is_public:
        return asset
    user = request.user
    if user.is_authenticated and user.pk == asset.owner_id:
        return asset
    raise Http404("no such asset")
