"""What people really upload, made at test time with ffmpeg and processed by the real worker on
local disk and S3: every file ends ready, kept as sent, with a rendition (or the original) in
the one form every browser plays."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media_pipeline.corpus import CORPUS
from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    app = AppStack(tmp_path_factory.mktemp(f"playback-{request.param}"), redis_server.url, extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=2)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def token(stack: AppStack) -> str:
    return stack.token("pat")


def probe(data: bytes, directory: Path) -> dict:
    path = directory / "served"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_upload_is_served_in_a_form_every_browser_plays(
        stack: AppStack, token: str, corpus: dict[str, Path], tmp_path: Path, name: str) -> None:
    status, body = stack.upload(token, name, corpus[name])
    assert status == 202, body

    asset = stack.wait_until_done(token, body["id"], timeout=180)

    assert asset["status"] == "ready", asset["error"]
    assert asset["playback"]["method"] == CORPUS[name][1]
    status, headers, served = stack.request("GET", asset["stream_url"])
    assert status == 200 and len(served) == asset["playback"]["size"]
    found = probe(served, tmp_path)
    streams = {s["codec_type"]: s for s in found["streams"]}
    if asset["playback"]["method"] == "original":
        assert served == corpus[name].read_bytes()
    else:
        assert found["format"]["format_name"].startswith("mov,mp4")
        assert headers["Content-Type"] in ("video/mp4", "audio/mp4")
    if "video" in streams:
        assert asset["poster_url"], "every video gets a poster"
        assert streams["video"]["codec_name"] == "h264"
        assert streams["video"]["pix_fmt"] in ("yuv420p", "yuvj420p")
        assert asset["playback"]["video_codec"] == "h264"
    assert streams["audio"]["codec_name"] in ("aac", "mp3")
    assert streams["audio"]["channels"] <= 2
    assert asset["playback"]["audio_codec"] == streams["audio"]["codec_name"]
    # The upload itself is kept and its owner gets it back, byte for byte, as an attachment.
    status, headers, original = stack.request("GET", asset["original_url"])
    assert status == 200 and original == corpus[name].read_bytes()
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["Content-Type"] == asset["mime_type"]
    status, _, tail = stack.request("GET", asset["original_url"], headers={"Range": "bytes=-100"})
    assert status == 206 and tail == original[-100:]


@pytest.mark.parametrize(("name", "arguments", "mime"), [
    ("scan.tiff", ["-pix_fmt", "rgb24"], "image/tiff"),
    ("astro.pgm", ["-pix_fmt", "gray16be"], "image/x-portable-greymap"),
])
def test_a_picture_browsers_do_not_show_is_served_as_a_png(
        stack: AppStack, token: str, tmp_path: Path, name: str, arguments: list[str],
        mime: str) -> None:
    source = tmp_path / name
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=300x200", "-frames:v", "1", *arguments, str(source)],
                   check=True, timeout=60)
    _, body = stack.upload(token, name, source)
    asset = stack.wait_until_done(token, body["id"])
    assert asset["status"] == "ready", asset["error"]
    assert asset["mime_type"] == mime and (asset["width"], asset["height"]) == (300, 200)
    assert asset["playback"]["method"] == "transcode"
    assert asset["playback"]["mime_type"] == "image/png"
    status, headers, served = stack.request("GET", asset["stream_url"])
    assert status == 200 and served.startswith(b"\x89PNG\r\n\x1a\n")
    assert headers["Content-Type"] == "image/png"
    shown = probe(served, tmp_path)["streams"][0]
    assert (shown["codec_name"], shown["width"], shown["height"]) == ("png", 300, 200)
    assert stack.request("GET", asset["original_url"])[2] == source.read_bytes()


def test_a_portrait_phone_video_reports_its_displayed_size(
        stack: AppStack, token: str, corpus: dict[str, Path]) -> None:
    _, body = stack.upload(token, "portrait.mp4", corpus["portrait.mp4"])
    asset = stack.wait_until_done(token, body["id"])
    assert (asset["width"], asset["height"]) == (240, 320)


def test_a_long_transcode_reports_its_progress_while_it_runs(
        stack: AppStack, token: str, tmp_path: Path) -> None:
    source = tmp_path / "long-hevc.mov"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30:duration=20", "-c:v", "libx265", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1", str(source)],
                   check=True, timeout=300)
    _, body = stack.upload(token, source.name, source)
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while (asset := stack.asset(token, body["id"]))["status"] not in ("ready", "failed"):
        assert time.monotonic() < deadline
        if asset["progress"] is not None:
            seen.append(asset["progress"])
        time.sleep(0.1)
    assert asset["status"] == "ready" and asset["progress"] is None
    assert seen and all(0 <= p <= 99 for p in seen) and seen == sorted(seen)
    assert max(seen) > 0


def test_a_transcode_waits_for_a_transcoder_while_photos_go_ahead(
        tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
        corpus: dict[str, Path], sample_media: dict[str, Path]) -> None:
    # A worker of the default queue only: it probes the HEVC video and hands it on, and the
    # photo after it is ready while the video waits; a transcoder then takes the video.
    base = redis_server.url.rsplit("/", 1)[0]
    app = AppStack(tmp_path_factory.mktemp("queues"), f"{base}/7", {"MEDIA_STORAGE": "local"})
    try:
        app.migrate().start_web()
        app.start_worker("quick", queues="celery")
        token = app.token("quinn")
        _, film = app.upload(token, "phone-hevc.mov", corpus["phone-hevc.mov"])
        _, photo = app.upload(token, "frame.png", sample_media["png"])
        assert app.wait_until_done(token, photo["id"])["status"] == "ready"
        waiting = app.asset(token, film["id"])
        assert waiting["status"] == "pending" and waiting["stream_url"] is None

        app.start_worker("transcoder", queues="transcode")
        film = app.wait_until_done(token, film["id"], timeout=180)
        assert film["status"] == "ready" and film["playback"]["method"] == "transcode"
    finally:
        app.stop()


def test_a_transcode_killed_midway_starts_again_and_leaves_nothing_behind(
        tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
        tmp_path: Path) -> None:
    source = tmp_path / "long-hevc.mov"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30:duration=20", "-c:v", "libx265", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1", str(source)],
                   check=True, timeout=300)
    base = redis_server.url.rsplit("/", 1)[0]
    workdir = tmp_path_factory.mktemp("killed")
    scratch = workdir / "scratch"
    scratch.mkdir()
    app = AppStack(workdir, f"{base}/8", {"MEDIA_STORAGE": "local", "TMPDIR": str(scratch)})
    try:
        app.migrate().start_web()
        app.start_worker("quick", queues="celery", beat=True)
        app.start_worker("transcoder", queues="transcode")
        token = app.token("kim")
        _, body = app.upload(token, source.name, source)
        deadline = time.monotonic() + 120
        while not (app.asset(token, body["id"])["progress"] or 0) > 0:
            assert time.monotonic() < deadline, "the transcode never reported progress"
            time.sleep(0.1)

        app.kill_worker("transcoder")  # SIGKILL, mid-transcode
        assert not (app.media_root / "media" / body["id"] / "playable").exists()
        app.start_worker("transcoder-2", queues="transcode")
        asset = app.wait_until_done(token, body["id"], timeout=300)
    finally:
        app.stop()
    assert asset["status"] == "ready" and asset["playback"]["method"] == "transcode"
    assert asset["playback"]["size"] == (app.media_root / "media" / body["id"] / "playable").stat().st_size
    assert list(scratch.glob("asset-*")) == []
    pgrep = subprocess.run(["pgrep", "-f", f"asset-{body['id']}"], capture_output=True, check=False)
    assert pgrep.returncode == 1
