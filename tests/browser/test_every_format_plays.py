"""The files people really upload play in real Chromium and Firefox ESR: decoded picture and
decoded sound, and a seek to the middle, for each kind in tests/media_pipeline/corpus.py, in
both browsers, sound-only files included, stored on local disk and on S3 (moto's server over
HTTP) (issue #12).

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
from tests.services import RedisServer, S3Server, wait_for
from tests.stack import AppStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

OWNER, PASSWORD = "vera", "browser-pass-123"

# Plays from the middle with the element's sound on its way out through a Web Audio analyser:
# the loudest sample it sees proves decoded sound (the corpus's is a 440 Hz tone at 1/8 of full
# scale, or the AMR memo's noise), the same proof in both browsers, picture or not. Beside it, each browser's own counts:
# Chromium's decoded bytes, Firefox's decoded frames and its word that a video has sound.
PLAY_FROM_THE_MIDDLE = """async el => {
    if (el.readyState < 1) {
        await new Promise(r => el.addEventListener('loadedmetadata', r, {once: true}));
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaElementSource(el).connect(analyser);
    analyser.connect(context.destination);
    await context.resume();
    el.muted = false;
    await el.play();
    await new Promise(r => { el.addEventListener('seeked', r, {once: true});
                             el.currentTime = el.duration / 2; });
    const seekedTo = el.currentTime;
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 8; i++) {
        await new Promise(r => setTimeout(r, 100));
        analyser.getFloatTimeDomainData(samples);
        peak = Math.max(peak, ...samples.map(Math.abs));
    }
    const played = {peak, seekedTo, duration: el.duration, now: el.currentTime,
                    width: el.videoWidth ?? 0, error: el.error && el.error.code,
                    videoBytes: el.webkitVideoDecodedByteCount ?? null,
                    audioBytes: el.webkitAudioDecodedByteCount ?? null,
                    frames: el.mozDecodedFrames ?? null, hasAudio: el.mozHasAudio ?? null};
    await context.close();
    return played;
}"""
# Marionette runs a script body, not a function: the same function, called with the element.
FIREFOX_PLAY_FROM_THE_MIDDLE = f"""
const done = arguments[arguments.length - 1];
({PLAY_FROM_THE_MIDDLE})(document.querySelector(arguments[0]))
    .then(done, e => done({{error: String(e)}}));
"""
SILENCE = 0.01  # the loudest sample of silence, with room for a resampler's ripple


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    """One deployment per storage backend; every test below runs against each."""
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    app = AppStack(tmp_path_factory.mktemp(f"formats-{request.param}"), redis_server.url, extra)
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


def media_tag(asset: dict) -> str:
    return "video" if asset["playback"]["video_codec"] is not None else "audio"


def assert_played_sound_from_the_middle(played: dict) -> None:
    assert played["error"] is None, played
    assert played["seekedTo"] == pytest.approx(played["duration"] / 2, abs=0.3), played
    assert played["now"] > played["seekedTo"], played  # it kept playing after the seek
    assert played["peak"] > SILENCE, played


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_kind_of_upload_plays_with_picture_and_sound_in_chromium(
        page: Page, ready_assets: dict[str, dict], name: str) -> None:
    asset = ready_assets[name]
    assert asset["status"] == "ready", asset["error"]
    page.goto(asset["player_url"])

    played = page.locator(media_tag(asset)).evaluate(PLAY_FROM_THE_MIDDLE)

    assert_played_sound_from_the_middle(played)
    assert played["audioBytes"] > 0, played
    if media_tag(asset) == "video":
        assert played["videoBytes"] > 0 and played["width"] > 0, played


@pytest.fixture(scope="module")
def firefox_owner(stack: AppStack) -> Iterator[Marionette]:
    with firefox() as browser:
        browser.navigate(f"{stack.base_url}/accounts/login/")
        browser.find_element("css selector", "#id_username").send_keys(OWNER)
        browser.find_element("css selector", "#id_password").send_keys(PASSWORD)
        browser.find_element("css selector", "form button[type=submit]").click()
        wait_for(lambda: browser.get_url().rstrip("/") == stack.base_url, 30, "signed in")
        yield browser


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_kind_of_upload_plays_with_picture_and_sound_in_firefox(
        firefox_owner: Marionette, stack: AppStack, ready_assets: dict[str, dict],
        name: str) -> None:
    asset = ready_assets[name]
    assert asset["status"] == "ready", asset["error"]
    firefox_owner.navigate(stack.base_url + asset["player_url"])
    firefox_owner.timeout.script = 60

    played = firefox_owner.execute_async_script(FIREFOX_PLAY_FROM_THE_MIDDLE,
                                                script_args=[media_tag(asset)])

    assert_played_sound_from_the_middle(played)
    if media_tag(asset) == "video":
        assert played["hasAudio"] is True and played["frames"] > 0 and played["width"] > 0, played
