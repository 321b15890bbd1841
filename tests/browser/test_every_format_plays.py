"""The files people really upload play in real Chromium: decoded picture and decoded sound, and
a seek to the middle, for each kind in tests/media_pipeline/corpus.py (issue #12).

Chromium without proprietary decoders shows no picture for HEVC, plays no AC-3 and never loads
ALAC: each of those once ended "Ready to play" and did not play.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.driving import new_context, sign_in
from tests.media_pipeline.corpus import CORPUS
from tests.services import RedisServer
from tests.stack import AppStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

OWNER, PASSWORD = "vera", "browser-pass-123"

# Decoded bytes so far, as Chromium counts them, after playing from the middle.
MEASURE = """async el => {
    el.muted = false;
    await el.play();
    await new Promise(resolve => {
        el.addEventListener('seeked', resolve, {once: true});
        el.currentTime = el.duration / 2;
    });
    const at = el.currentTime;
    await new Promise(resolve => setTimeout(resolve, 800));
    return {video: el.webkitVideoDecodedByteCount ?? 0, audio: el.webkitAudioDecodedByteCount ?? 0,
            width: el.videoWidth ?? 0, seekedTo: at, duration: el.duration, now: el.currentTime,
            error: el.error && el.error.code};
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[AppStack]:
    app = AppStack(tmp_path_factory.mktemp("formats"), redis_server.url, {"MEDIA_STORAGE": "local"})
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=2)
        app.manage("create_dev_user", OWNER, PASSWORD)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def ready_assets(stack: AppStack, corpus: dict[str, Path]) -> dict[str, dict]:
    """Every corpus file uploaded through the API and processed."""
    token = stack.token(OWNER)
    uploaded = {name: stack.upload(token, name, path)[1]["id"] for name, path in corpus.items()}
    return {name: stack.wait_until_done(token, asset_id, timeout=300)
            for name, asset_id in uploaded.items()}


@pytest.fixture(scope="module")
def page(chromium: Browser, stack: AppStack) -> Iterator[Page]:
    context = new_context(chromium, stack.base_url, viewport={"width": 1024, "height": 768})
    page = context.new_page()
    sign_in(page, OWNER, PASSWORD)
    try:
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_kind_of_upload_plays_with_picture_and_sound_in_chromium(
        page: Page, ready_assets: dict[str, dict], name: str) -> None:
    asset = ready_assets[name]
    assert asset["status"] == "ready", asset["error"]
    page.goto(asset["player_url"])
    has_video = asset["playback"]["video_codec"] is not None
    media = page.locator("video" if has_video else "audio")
    media.evaluate("el => new Promise(r => el.readyState >= 1 ? r() : "
                   "el.addEventListener('loadedmetadata', r, {once: true}))")

    played = media.evaluate(MEASURE)

    assert played["error"] is None, played
    assert played["seekedTo"] == pytest.approx(played["duration"] / 2, abs=0.3), played
    assert played["now"] > played["seekedTo"], played  # it kept playing after the seek
    assert played["audio"] > 0, played
    if has_video:
        assert played["video"] > 0 and played["width"] > 0, played
