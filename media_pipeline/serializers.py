"""The asset JSON of the public interface (../shared/INTERFACE.md)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from media_pipeline.models import MediaAsset
from streaming.signing import stream_url


def asset_json(asset: MediaAsset) -> dict[str, Any]:
    """Every field always present; figures not known yet, or that do not apply, are null."""
    ready = asset.status == MediaAsset.Status.READY
    return {
        "id": str(asset.id),
        "status": asset.status,
        "filename": asset.filename,
        "mime_type": asset.mime_type or None,
        "size": asset.size,
        "sha256": asset.sha256 or None,
        "duration": asset.duration,
        "width": asset.width,
        "height": asset.height,
        "video_codec": asset.video_codec or None,
        "audio_codec": asset.audio_codec or None,
        "error": asset.error or None,
        "storage": asset.storage,
        "is_public": asset.is_public,
        "created_at": asset.created_at.isoformat() if asset.created_at else None,
        "ready_at": asset.ready_at.isoformat() if asset.ready_at else None,
        "stream_url": stream_url(asset) if ready else None,
        "player_url": reverse("media_pipeline:player", args=[asset.id]),
        "poster_url": reverse("media_pipeline:poster", args=[asset.id]) if ready and asset.poster_key else None,
    }
