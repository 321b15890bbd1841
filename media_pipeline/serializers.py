"""The asset JSON of the public interface (../shared/INTERFACE.md)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from media_pipeline.models import MediaAsset
from streaming.signing import original_url, stream_url


def asset_json(asset: MediaAsset) -> dict[str, Any]:
    """Every field always present; figures not known yet, or that do not apply, are null."""
    ready = asset.status == MediaAsset.Status.READY
    return {
        "id": str(asset.id),
        "status": asset.status,
        "filename": asset.filename,
        "mime_type": asset.original_mime_type or None,
        "size": asset.original_size,
        "sha256": asset.original_sha256 or None,
        "duration": asset.duration,
        "width": asset.width,
        "height": asset.height,
        "video_codec": asset.video_codec or None,
        "audio_codec": asset.audio_codec or None,
        "error": asset.error or None,
        "progress": asset.progress if asset.status == MediaAsset.Status.PROCESSING else None,
        "playback": playback_json(asset) if ready else None,
        "storage": asset.storage,
        "is_public": asset.is_public,
        "created_at": asset.created_at.isoformat() if asset.created_at else None,
        "ready_at": asset.ready_at.isoformat() if asset.ready_at else None,
        "stream_url": stream_url(asset) if ready else None,
        # The API answers owners only (another user's asset is 404).
        "original_url": original_url(asset) if ready and asset.original_key else None,
        "player_url": reverse("media_pipeline:player", args=[asset.id]),
        "poster_url": reverse("media_pipeline:poster", args=[asset.id]) if ready and asset.poster_key else None,
    }


def playback_json(asset: MediaAsset) -> dict[str, Any]:
    """What `stream_url` serves: the original itself, or the rendition made from it."""
    return {
        "method": asset.playback_method or None,
        "mime_type": asset.mime_type or None,
        "video_codec": asset.playback_video_codec or None,
        "audio_codec": asset.playback_audio_codec or None,
        "size": asset.size,
    }
