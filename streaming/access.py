"""Who may stream an object: a signature whose grant still holds (streaming/signing.py), the
owner's session, or a public object. Who may download its original: the owner only, by session
or by an original-download signature. What the objects are comes from the resolver
(streaming/objects.py, STREAM_RESOLVER).

The signature is checked before the resolver is asked, so a forged URL costs one HMAC.
Private objects answer 404 (not 403) to anyone without access, so their ids cannot be probed.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from streaming.objects import Streamable, resolver
from streaming.signing import SIGNATURE_PARAM, SignatureCheck, check_signature


def _is_owner(request: HttpRequest, thing: Streamable) -> bool:
    user = request.user
    return user.is_authenticated and thing.owner_id is not None and user.pk == thing.owner_id


def authorised_asset(request: HttpRequest, asset_id: uuid.UUID) -> Streamable:
    """What this request may stream; PermissionDenied (403) or Http404 otherwise."""
    check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
    if check is SignatureCheck.INVALID:
        raise PermissionDenied("stream signature is invalid or expired")
    thing = resolver().stream(asset_id)
    if thing is None:
        raise Http404("no such asset")
    if check.allows(thing.is_public) or thing.is_public or _is_owner(request, thing):
        return thing
    raise Http404("no such asset")


def authorised_original(request: HttpRequest, asset_id: uuid.UUID) -> Streamable:
    """The original upload, for its owner only; PermissionDenied (403) for a bad signature,
    Http404 for anyone else. Served through the same `answer`, always as an attachment."""
    check = check_signature(asset_id, request.GET.get(SIGNATURE_PARAM))
    if check is SignatureCheck.INVALID:
        raise PermissionDenied("download signature is invalid or expired")
    thing = resolver().original(asset_id)
    if thing is None or not (check is SignatureCheck.ORIGINAL or _is_owner(request, thing)):
        raise Http404("no such asset")
    return thing
