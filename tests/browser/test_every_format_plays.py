"""The files people really upload play in real Chromium and Firefox ESR: decoded picture and
decoded sound, and a seek to the middle, for each kind in tests/media_pipeline/corpus.py
(issue #12).

Chromium without proprietary decoders shows no picture for HEVC, plays no AC-3 and never loads
ALAC: each of those once ended "Ready to play" and did not play.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from marionette_driver.marionette import Marionette
from playwright.sync_api import Browser, Page

from tests.browser.driving import new_context, sign_in
from tests.browser.firefox import firefox
from tests.media_pipeline.corpus import CORPUS
from tests.services import RedisServer, wait_for
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


FIREFOX_MEASURE = """
const [resolve] = [arguments[arguments.length - 1]];
const el = document.querySelector(arguments[0]);
(async () => {
    if (el.readyState < 1) {
        await new Promise(r => el.addEventListener('loadedmetadata', r, {once: true}));
    }
    el.muted = false;
    await el.play();
    await new Promise(r => { el.addEventListener('seeked', r, {once: true});
                             el.currentTime = el.duration / 2; });
    const at = el.currentTime;
    await new Promise(r => setTimeout(r, 800));
    resolve({audio: el.mozHasAudio, frames: el.mozDecodedFrames ?? 0, width: el.videoWidth ?? 0,
             seekedTo: at, duration: el.duration, now: el.currentTime,
             error: el.error && el.error.code});
})().catch(e => resolve({error: String(e)}));
"""


@pytest.fixture(scope="module")
def firefox_owner(stack: AppStack) -> Iterator[Marionette]:
    with firefox() as browser:
        browser.navigate(f"{stack.base_url}/accounts/login/")
        browser.find_element("css selector", "#id_username").send_keys(OWNER)
        browser.find_element("css selector", "#id_password").send_keys(PASSWORD)
        browser.find_element("css selector", "form button[type=submit]").click()
        wait_for(lambda: browser.get_url().rstrip("/") == stack.base_url, 30, "signed in")
        yield browser


# Headless Firefox here has no audio device, and with none every <audio> element fails to
# decode (MEDIA_ERR_DECODE, even for a plain MP3), so sound-only files are checked in Chromium
# only; in a <video>, Firefox still reports the decoded sound (mozHasAudio).
VIDEOS = sorted(name for name, (arguments, _) in CORPUS.items() if "testsrc2" in " ".join(arguments))


@pytest.mark.parametrize("name", VIDEOS)
def test_each_kind_of_video_plays_with_picture_and_sound_in_firefox(
        firefox_owner: Marionette, stack: AppStack, ready_assets: dict[str, dict],
        name: str) -> None:
    asset = ready_assets[name]
    assert asset["status"] == "ready", asset["error"]
    firefox_owner.navigate(stack.base_url + asset["player_url"])
    firefox_owner.timeout.script = 60

    played = firefox_owner.execute_async_script(FIREFOX_MEASURE, script_args=["video"])

    assert played["error"] is None, played
    assert played["seekedTo"] == pytest.approx(played["duration"] / 2, abs=0.3), played
    assert played["now"] > played["seekedTo"], played
    assert played["audio"] is True and played["frames"] > 0 and played["width"] > 0, played
