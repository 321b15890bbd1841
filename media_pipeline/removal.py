"""Deleting an asset removes every byte it has anywhere: staged, stored, poster."""

from __future__ import annotations

import logging

from media_pipeline import blobs, storage
from media_pipeline.models import MediaAsset

logger = logging.getLogger(__name__)


def delete_asset(asset: MediaAsset) -> None:
    """Delete the objects first, then the row: a failure leaves the row to retry from."""
    keys = [storage.final_key(asset.id), storage.playable_key(asset.id),
            storage.poster_key(asset.id)]
    for key in keys:
        blobs.stored_blob(key).delete()
    if asset.staging_key:
        blobs.staging_blob(asset.staging_key).delete()
    asset.delete()
    logger.info("deleted asset %s", asset.id)
