"""streaming serves whatever the resolver named by STREAM_RESOLVER describes: here a resolver
of this test's own, with no MediaAsset anywhere, through the middleware and the view."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client

from streaming.objects import LocalFile, Streamable
from streaming.signing import Grant, original_url, stream_url

DATA = b"0123456789" * 1000
KNOWN = uuid.UUID("00000000-0000-4000-8000-000000000001")
FOLDER: list[Path] = []


class FileStreams:
    """One file, known by one id; no original."""

    def stream(self, object_id: uuid.UUID) -> Streamable | None:
        if object_id != KNOWN:
            return None
        path = FOLDER[0] / "clip.webm"
        return Streamable(
            id=KNOWN, filename="clip.webm", content_type="video/webm", size=len(DATA),
            etag=f'"{hashlib.sha256(DATA).hexdigest()}"',
            last_modified=datetime(2024, 1, 1, tzinfo=UTC),
            location=LocalFile(path=path, accel_name="clips/clip.webm"))

    def original(self, object_id: uuid.UUID) -> Streamable | None:
        return None


@pytest.fixture(autouse=True)
def _own_resolver(settings, tmp_path: Path) -> None:
    (tmp_path / "clip.webm").write_bytes(DATA)
    FOLDER[:] = [tmp_path]
    settings.STREAM_RESOLVER = f"{__name__}.FileStreams"


def test_a_signed_range_is_served_from_the_resolvers_object(db) -> None:
    response = Client().get(stream_url(SimpleNamespace(id=KNOWN)), headers={"Range": "bytes=10-19"})
    assert response.status_code == HTTPStatus.PARTIAL_CONTENT
    assert b"".join(response.streaming_content) == DATA[10:20]
    assert response["Content-Type"] == "video/webm"
    assert response["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'


def test_x_accel_names_the_resolvers_file(db, settings) -> None:
    settings.STREAM_DELIVERY = "x-accel"
    response = Client().get(stream_url(SimpleNamespace(id=KNOWN)))
    assert response["X-Accel-Redirect"] == "/_protected/clips/clip.webm"


def test_what_the_resolver_does_not_know_is_404(db) -> None:
    other = SimpleNamespace(id=uuid.uuid4())
    assert Client().get(stream_url(other)).status_code == HTTPStatus.NOT_FOUND
    assert Client().get(original_url(SimpleNamespace(id=KNOWN))).status_code == HTTPStatus.NOT_FOUND
    # Private (not public, no owner): a share signature does not open it.
    shared = stream_url(SimpleNamespace(id=KNOWN), Grant.SHARE)
    assert Client().get(shared).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("name", ["", "/etc/passwd", "clips/../../etc/passwd", "..", "a//b",
                                  "./a", "a\\b", "a\x00b"])
def test_a_local_file_refuses_an_x_accel_name_that_could_leave_its_location(name: str) -> None:
    with pytest.raises(ValueError, match="not a safe X-Accel name"):
        LocalFile(path=Path("/tmp/x"), accel_name=name)
