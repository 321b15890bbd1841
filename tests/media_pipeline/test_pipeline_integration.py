"""Upload → process → ready through the real stack: gunicorn, Redis, Celery worker processes,
and local disk or the S3 server over HTTP. Nothing here is mocked."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from media_pipeline.analysis import moov_after_mdat
from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    app = AppStack(tmp_path_factory.mktemp(f"pipeline-{request.param}"), redis_server.url, extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=2)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def token(stack: AppStack) -> str:
    return stack.token("alice")


def stored_bytes(stack: AppStack, s3: S3Server, asset_id: str) -> bytes:
    key = f"media/{asset_id}/original"
    if stack.env.get("MEDIA_STORAGE") == "s3":
        return s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    return (stack.media_root / key).read_bytes()


def leftovers(stack: AppStack, s3: S3Server, asset_id: str) -> list[str]:
    """Staged copies of this asset that processing should have removed."""
    if stack.env.get("MEDIA_STORAGE") == "s3":
        return s3.keys(f"incoming/{asset_id}")
    return [p.name for p in stack.staging_root.glob(f"{asset_id}*")]


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize(("kind", "mime", "method"), [
    ("mp4", "video/mp4", "remux"),  # its index is at the end
    ("webm", "video/webm", "transcode"),  # VP8: not every browser plays it
    ("mp3", "audio/mpeg", "original"),
    ("png", "image/png", "original"),
])
def test_uploaded_media_ends_ready_with_facts_read_from_the_file(
        stack: AppStack, token: str, s3_server: S3Server, sample_media: dict[str, Path],
        kind: str, mime: str, method: str) -> None:
    source = sample_media[kind]
    status, body = stack.upload(token, f"upload.{kind}", source)
    assert status == 202, body
    assert body["status"] == "pending"

    asset = stack.wait_until_done(token, body["id"])

    assert asset["status"] == "ready", asset["error"]
    assert asset["mime_type"] == mime
    stored = stored_bytes(stack, s3_server, asset["id"])
    assert stored == source.read_bytes()  # the original is kept as it was sent
    assert asset["size"] == len(stored)
    assert asset["sha256"] == hashlib.sha256(stored).hexdigest()
    assert asset["playback"]["method"] == method
    status, headers, served = stack.request("GET", asset["stream_url"])
    assert status == 200 and headers["Content-Type"] == asset["playback"]["mime_type"]
    assert len(served) == asset["playback"]["size"]
    if method == "original":
        assert served == stored
    probe = ffprobe(source)
    video = next((s for s in probe["streams"] if s["codec_type"] == "video"), None)
    if kind == "png":
        assert asset["duration"] is None
    else:
        assert asset["duration"] == pytest.approx(float(probe["format"]["duration"]), abs=0.1)
    assert asset["width"] == (video["width"] if video else None)
    assert asset["height"] == (video["height"] if video else None)
    assert leftovers(stack, s3_server, asset["id"]) == []


def test_mp4_with_index_at_the_end_is_served_with_index_first_and_kept_as_sent(
        stack: AppStack, token: str, s3_server: S3Server, sample_media: dict[str, Path]) -> None:
    original = sample_media["mp4"].read_bytes()
    assert moov_after_mdat(lambda o, n: original[o:o + n], len(original))

    _, body = stack.upload(token, "late-moov.mp4", original)
    asset = stack.wait_until_done(token, body["id"])

    assert asset["status"] == "ready"
    assert stored_bytes(stack, s3_server, asset["id"]) == original
    _, _, served = stack.request("GET", asset["stream_url"])
    assert not moov_after_mdat(lambda o, n: served[o:o + n], len(served))
    assert asset["playback"] == {"method": "remux", "mime_type": "video/mp4",
                                 "video_codec": "h264", "audio_codec": "aac",
                                 "size": len(served)}
    assert asset["video_codec"] == "h264" and asset["audio_codec"] == "aac"
    assert asset["poster_url"]
    status, headers, poster = stack.request("GET", asset["poster_url"], token=token)
    assert status == 200 and poster[:3] == b"\xff\xd8\xff"
    assert headers["Content-Length"] == str(len(poster)) and headers["ETag"]


@pytest.mark.parametrize(("filename", "content", "reason"), [
    ("page.mp4", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n" * 40, "text/html"),
    ("tool.mp4", b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + b"\x00" * 4000, "application/x-"),
    ("drawing.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
])
def test_spoofed_file_fails_with_its_real_type_and_is_never_served(
        stack: AppStack, token: str, filename: str, content: bytes, reason: str) -> None:
    _, body = stack.upload(token, filename, content, content_type="video/mp4")

    asset = stack.wait_until_done(token, body["id"])

    assert asset["status"] == "failed"
    assert reason in asset["error"] and "not accepted" in asset["error"]
    assert asset["stream_url"] is None


def test_truncated_mp4_fails_with_a_readable_reason(
        stack: AppStack, token: str, sample_media: dict[str, Path]) -> None:
    data = sample_media["mp4"].read_bytes()
    _, body = stack.upload(token, "cut.mp4", data[: len(data) // 2])

    asset = stack.wait_until_done(token, body["id"])

    assert asset["status"] == "failed"
    assert "could not be read as video/mp4" in asset["error"]


def staged_everywhere(stack: AppStack, s3: S3Server) -> set[str]:
    if stack.env.get("MEDIA_STORAGE") == "s3":
        unfinished = s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
        return set(s3.keys("incoming/")) | {f"multipart:{u['Key']}" for u in unfinished}
    return {p.name for p in stack.staging_root.glob("*")}


def asset_count(stack: AppStack, token: str) -> int:
    return json.loads(stack.request("GET", "/api/media/", token=token)[2])["count"]


def test_empty_file_is_refused_and_nothing_is_kept(stack: AppStack, token: str, s3_server: S3Server) -> None:
    before = (asset_count(stack, token), staged_everywhere(stack, s3_server))

    status, body = stack.upload(token, "empty.mp4", b"")

    assert status == 400 and "empty" in body["error"]
    assert (asset_count(stack, token), staged_everywhere(stack, s3_server)) == before


def test_upload_without_credentials_is_401(stack: AppStack) -> None:
    status, _headers, body = stack.request("POST", "/api/media/", data=b"x",
                                           headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 401
    assert "Sign in" in json.loads(body)["error"]


def test_another_users_asset_is_404(stack: AppStack, token: str, sample_media: dict[str, Path]) -> None:
    _, body = stack.upload(token, "mine.png", sample_media["png"])
    other = stack.token("mallory")

    status, _headers, _body = stack.request("GET", f"/api/media/{body['id']}/", token=other)
    listing = json.loads(stack.request("GET", "/api/media/", token=other)[2])

    assert status == 404
    assert body["id"] not in [a["id"] for a in listing["results"]]
