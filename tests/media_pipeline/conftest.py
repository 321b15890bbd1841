"""Shared by the media_pipeline tests: local storage inside the test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def local_media(settings, tmp_path: Path) -> Path:
    """MEDIA_ROOT and staging under `tmp_path` (returned), on local disk."""
    settings.MEDIA_STORAGE = "local"
    settings.MEDIA_ROOT = (tmp_path / "media").resolve()
    settings.MEDIA_STAGING_ROOT = (tmp_path / "staging").resolve()
    return tmp_path
