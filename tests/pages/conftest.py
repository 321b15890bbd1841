"""Fixtures for the page tests: two users, assets in every state, and a tiny HTML reader."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from media_pipeline.models import MediaAsset

MakeAsset = Callable[..., MediaAsset]
PASSWORD = "pw-pages-123"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def elements(html: bytes | str, tag: str) -> list[dict[str, str]]:
    """The attributes of every `tag` element, so tests assert on structure, not on text."""
    parser = _Collector()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    return [attrs for name, attrs in parser.found if name == tag]


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    # Deleting touches storage: keep it inside the test's own directory.
    settings.MEDIA_ROOT = (tmp_path / "media").resolve()
    settings.MEDIA_STAGING_ROOT = (tmp_path / "staging").resolve()
    settings.MEDIA_STORAGE = "local"
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
def make_asset(owner: User) -> MakeAsset:
    """A ready H.264 video by default; override any field."""

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
