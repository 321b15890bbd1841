"""Hostile uploads through the real stack (gunicorn, a Celery worker, local disk or the S3
server): each one fails with a sentence for the uploader, reads nothing outside itself, writes
no more than the output cap and keeps ffmpeg's memory small.

The files come from tests/media_pipeline/hostile.py, which says how each attack works against
ffmpeg run without the box.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media_pipeline import hostile
from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
# Unboxed, the PNG bomb takes ffprobe to 1 GiB resident; boxed, no run may come near that.
PEAK_RSS_CEILING_MIB = 512
_PATH_OR_URL = re.compile(r"(?:^|[\s('\"])/|://")
_PEAK = re.compile(r"ffmpeg-box tool=\w+ step='[^']*' status=(\w+) .* peak_rss=(\d+)MiB")


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real video outside every media root: an asset that reports its size read it."""
    return hostile.make_secret_video(tmp_path_factory.mktemp("outside"))


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    workdir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    scratch = workdir / "scratch"
    scratch.mkdir()
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    app = AppStack(workdir, redis_server.url, {**extra, "TMPDIR": str(scratch),
                                               "FFPROBE_TIMEOUT_SECONDS": "10"})
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=2)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def token(stack: AppStack) -> str:
    return stack.token("mallory")


def backend(stack: AppStack) -> str:
    return stack.env["MEDIA_STORAGE"]


def process(stack: AppStack, token: str, path: Path) -> dict:
    status, body = stack.upload(token, path.name, path)
    assert status == 202, body
    return stack.wait_until_done(token, body["id"], timeout=60)


def assert_refused_plainly(asset: dict) -> None:
    """Failed, with a sentence: no path, URL, tool name or ffmpeg log line in it."""
    assert asset["status"] == "failed", asset
    error = asset["error"]
    assert error and error.endswith(".")
    assert not _PATH_OR_URL.search(error), error
    for leak in ("ffprobe", "ffmpeg", "@ 0x", "Invalid data"):
        assert leak not in error, (leak, error)


def peak_rss_mib(stack: AppStack) -> list[int]:
    return [int(peak) for _, peak in _PEAK.findall(stack.log("worker-w1"))]


@pytest.mark.parametrize("disguise", ["quicktime", "octet-stream"])
@pytest.mark.parametrize("kind", sorted(hostile.TARGETED_POLYGLOTS))
def test_a_reference_polyglot_reads_nothing_outside_itself(
        stack: AppStack, token: str, tmp_path: Path, kind: str, disguise: str,
        secret: Path) -> None:
    # A local file the uploader names: the one nested input ffmpeg may open from a local file
    # (from an http input, the presigned URL the S3 backend once handed it, any URL). Behind the
    # "quicktime" disguise the demuxer is pinned; behind "octet-stream" ffmpeg probes, but only
    # among media demuxers.
    make = hostile.TARGETED_POLYGLOTS[kind]
    upload = make(tmp_path, str(secret)) if kind == "dash-xml" else make(tmp_path, str(secret),
                                                                         disguise)

    asset = process(stack, token, upload)

    assert_refused_plainly(asset)
    assert (asset["width"], asset["height"]) != (hostile.SECRET_WIDTH, hostile.SECRET_HEIGHT)
    assert asset["duration"] is None and asset["poster_url"] is None


def test_an_sdp_polyglot_is_refused(stack: AppStack, token: str, tmp_path: Path) -> None:
    asset = process(stack, token, hostile.make_sdp_polyglot(tmp_path, port=18094))
    assert_refused_plainly(asset)


def test_a_mov_reference_to_another_file_is_not_followed(stack: AppStack, token: str,
                                                          tmp_path: Path, secret: Path) -> None:
    upload = hostile.make_mov_dref(tmp_path, secret)
    asset = process(stack, token, upload)
    # Its own index describes the secret (so its figures may), but no byte of it is read: no
    # frame can be decoded, so there is no poster, and what is stored is the upload itself.
    assert asset["poster_url"] is None
    if asset["status"] == "ready":
        status, _, stored = stack.request("GET", asset["stream_url"])
        assert status == 200 and stored == upload.read_bytes()


def test_a_sample_table_amplifier_stops_at_the_output_cap_and_leaves_nothing(
        stack: AppStack, token: str, tmp_path: Path) -> None:
    # Sound that plays as it is, in an MP4 whose index is at the end: stream-copied to fast start.
    upload = hostile.make_sound_sample_table_amplifier(tmp_path)
    assert upload.stat().st_size < 2 * MIB

    asset = process(stack, token, upload)

    assert_refused_plainly(asset)
    assert "would have written more than 64 MiB" in asset["error"]
    assert "status=output" in stack.log("worker-w1")
    assert list((stack.workdir / "scratch").glob("asset-*")) == []  # the partial remux is gone


def test_a_video_sample_table_amplifier_is_transcoded_into_something_small(
        stack: AppStack, token: str, tmp_path: Path) -> None:
    # MJPEG is transcoded, not copied: each repeated frame is encoded once more, as a frame.
    asset = process(stack, token, hostile.make_sample_table_amplifier(tmp_path))
    assert asset["status"] in ("ready", "failed"), asset
    if asset["status"] == "ready":
        assert asset["playback"]["method"] == "transcode"
        assert asset["playback"]["size"] < 64 * MIB


def test_a_decompression_bomb_is_refused_before_it_is_decoded(stack: AppStack, token: str,
                                                              tmp_path: Path) -> None:
    asset = process(stack, token, hostile.make_png_bomb(tmp_path))
    assert_refused_plainly(asset)
    assert "megapixel" in asset["error"]
    assert max(peak_rss_mib(stack)) < PEAK_RSS_CEILING_MIB


def test_a_playlist_that_never_ends_does_not_hold_the_worker(stack: AppStack, token: str,
                                                             tmp_path: Path) -> None:
    asset = process(stack, token, hostile.make_live_hls_stall(tmp_path))
    assert_refused_plainly(asset)


@pytest.mark.parametrize(("make", "reason"), [
    (hostile.make_html_as_video, "text/html are not accepted"),
    (hostile.make_svg_as_image, "image/svg+xml are not accepted"),
    (hostile.make_zeros, ""),
])
def test_a_spoofed_file_is_refused(stack: AppStack, token: str, tmp_path: Path, make,
                                   reason: str) -> None:
    asset = process(stack, token, make(tmp_path))
    assert_refused_plainly(asset)
    assert reason in asset["error"]


def test_no_boxed_run_came_near_the_memory_an_unboxed_bomb_takes(stack: AppStack) -> None:
    peaks = peak_rss_mib(stack)
    assert peaks, "the worker logs one ffmpeg-box line per run"
    assert max(peaks) < PEAK_RSS_CEILING_MIB


def test_every_run_was_in_a_network_namespace_of_its_own(stack: AppStack) -> None:
    # Last in the module: by now the worker has run ffmpeg and ffprobe for every file above.
    log = stack.log("worker-w1")
    assert len(_PEAK.findall(log)) >= 20
    assert "WITHOUT a network namespace" not in log
