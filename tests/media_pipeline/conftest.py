"""Shared by the media_pipeline tests: local storage inside the test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import use_media_storage


@pytest.fixture
def local_media(settings, tmp_path: Path) -> Path:
    """MEDIA_ROOT and staging under `tmp_path` (returned), on local disk."""
    use_media_storage(settings, "local")
    settings.MEDIA_ROOT = (tmp_path / "media").resolve()
    settings.MEDIA_STAGING_ROOT = (tmp_path / "staging").resolve()
    return tmp_path
