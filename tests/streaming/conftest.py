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
from tests.streaming.sites import Site, payload

__all__ = ["payload"]

MakeAsset = Callable[..., MediaAsset]
READY_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SMALL = payload(100_000, seed=1)
BIG = payload(6 * 1024 * 1024 + 3, seed=2)
HUGE_MIB = 128


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


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, dict[str, dict[str, str]]]:
    """A migrated SQLite site for subprocess servers, with a few ready local assets."""
    workdir = tmp_path_factory.mktemp("stream-site")
    site = Site.create(workdir)
    (workdir / "small.bin").write_bytes(SMALL)
    (workdir / "big.bin").write_bytes(BIG)
    with open(workdir / "huge.bin", "wb") as out:
        for _ in range(HUGE_MIB):
            out.write(os.urandom(1024 * 1024))
    assets = site.add_assets([
        {"name": "small", "path": str(workdir / "small.bin")},
        {"name": "big", "path": str(workdir / "big.bin"), "filename": "Grüße film.mp4"},
        {"name": "huge", "path": str(workdir / "huge.bin")},
    ])
    return site, assets
