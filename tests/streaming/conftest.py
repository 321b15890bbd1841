"""Fixtures for the streaming tests: ready assets with bytes of their own on local disk."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from tests.streaming.sites import BIG, HUGE_MIB, SMALL, payload

__all__ = ["BIG", "HUGE_MIB", "SMALL", "payload"]

MakeAsset = Callable[..., MediaAsset]
READY_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def media_root(tmp_path: Path, settings) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root.resolve()
    return root.resolve()


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("owner")


@pytest.fixture
def stranger(db) -> User:
    return User.objects.create_user("stranger")


@pytest.fixture
def make_asset(media_root: Path, owner: User) -> MakeAsset:
    """Create a READY local asset holding `content`; extra fields override the defaults."""

    def make(content: bytes = payload(10_000), **fields: object) -> MediaAsset:
        asset_id = uuid.uuid4()
        key = storage.final_key(asset_id)
        path = storage.local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (READY_AT.timestamp(), READY_AT.timestamp()))
        values = {
            "id": asset_id, "owner": owner, "filename": "clip.mp4",
            "status": MediaAsset.Status.READY, "mime_type": "video/mp4", "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "storage": MediaAsset.Storage.LOCAL,
            "storage_key": key, "ready_at": READY_AT,
        }
        values.update(fields)
        return MediaAsset.objects.create(**values)

    return make
