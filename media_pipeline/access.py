"""Who may see an asset: its owner, or anyone once the owner made it public."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest

from media_pipeline.models import MediaAsset


def visible_asset(request: HttpRequest, asset_id: object) -> MediaAsset:
    """The asset if this request may see it; 404 otherwise, so existence is never revealed."""
    try:
        asset = MediaAsset.objects.select_related("owner").get(pk=asset_id)
    except (MediaAsset.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such media.") from None
    if asset.is_public or (request.user.is_authenticated and asset.owner_id == request.user.pk):
        return asset
    raise Http404("No such media.")
