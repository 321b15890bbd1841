"""Who may see an asset, and the owner's choices about it: one place for each rule.

The owner sees and changes their own assets; anyone sees one the owner made public. Every
other request gets 404, never 403, so an asset's existence is not revealed. (Streaming has its
own check, on the signed URL: streaming/access.py.)
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from media_pipeline.models import MediaAsset


def owned_assets(user: AbstractBaseUser | AnonymousUser) -> QuerySet[MediaAsset]:
    """The user's own assets, newest first; none for a visitor who is not signed in."""
    if not user.is_authenticated:
        return MediaAsset.objects.none()
    return MediaAsset.objects.filter(owner=user)


def owned_asset(user: AbstractBaseUser | AnonymousUser, asset_id: object) -> MediaAsset:
    """The user's own asset; 404 for anyone else's, public or not, and for a bad id."""
    try:
        return owned_assets(user).get(pk=asset_id)
    except (MediaAsset.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such media.") from None


def visible_asset(request: HttpRequest, asset_id: object) -> MediaAsset:
    """The asset if this request may see it: the owner's, or a public one; 404 otherwise."""
    try:
        asset = MediaAsset.objects.select_related("owner").get(pk=asset_id)
    except (MediaAsset.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such media.") from None
    if asset.is_public or (request.user.is_authenticated and asset.owner_id == request.user.pk):
        return asset
    raise Http404("No such media.")


def set_public(asset: MediaAsset, is_public: bool) -> None:
    """The owner shares or withdraws the asset. Withdrawing stops every shared stream URL at
    once (streaming/signing.py, the `s` grant)."""
    asset.is_public = is_public
    asset.save(update_fields=["is_public", "updated_at"])
