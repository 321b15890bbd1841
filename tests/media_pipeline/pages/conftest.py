"""Fixtures for the tests of media_pipeline/pages.py: two users with signed-in clients, and
asset rows in any state (`make_row`: a row only, no stored bytes behind it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline.models import MediaAsset

MakeRow = Callable[..., MediaAsset]
PASSWORD = "pw-pages-123"


@pytest.fixture(autouse=True)
def media_root(local_media: Path, settings: Any) -> Path:
    # Deleting touches storage: keep it inside the test's own directory.
    return settings.MEDIA_ROOT


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user("owner", password=PASSWORD)


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("stranger", password=PASSWORD)


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def stranger_client(stranger: User) -> Client:
    client = Client()
    client.force_login(stranger)
    return client


@pytest.fixture
def make_row(owner: User) -> MakeRow:
    """A ready H.264 video's row by default; override any field. Nothing is stored behind it
    (tests/streaming's `make_asset` stores bytes too)."""

    def make(**fields: Any) -> MediaAsset:
        values: dict[str, Any] = {
            "owner": owner, "filename": "holiday.mp4", "status": MediaAsset.Status.READY,
            "mime_type": "video/mp4", "size": 5_242_880, "duration": 125.0, "width": 320,
            "height": 240, "video_codec": "h264", "audio_codec": "aac", "storage": "local",
            "storage_key": "media/x.mp4", "poster_key": "posters/x.jpg", "sha256": "ab" * 32,
            "original_mime_type": "video/mp4", "original_size": 5_242_880,
            "original_sha256": "ab" * 32, "playback_method": "original",
        }
        values.update(fields)
        return MediaAsset.objects.create(**values)

    return make
