"""A 100 MB upload through the page in real Chromium survives what a person's connection and
browser do to it: a PATCH that fails on the network, a pause, and the tab reloaded mid-way with
the same file chosen again. The asset ends ready with the file's SHA-256, on local disk and S3.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route

from tests.browser.driving import new_context, sign_in
from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

USER, PASSWORD = "rosa", "browser-pass-456"
MB = 1024 * 1024
CHUNK_SIZE = 8 * MB
# About five seconds for the file: time to pause and to reload mid-way.
UPLOAD_BYTES_PER_SECOND = 20_000_000


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 100 MB of real sound: 530 s of 48 kHz stereo PCM."""
    path = tmp_path_factory.mktemp("resumable") / "long-take.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=530",
                    "-ac", "2", "-ar", "48000", "-c:a", "pcm_s16le", str(path)], check=True)
    assert path.stat().st_size > 100 * 1000 * 1000
    return path


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    extra["MEDIA_UPLOAD_CHUNK_SIZE"] = str(CHUNK_SIZE)
    app = AppStack(tmp_path_factory.mktemp(f"resumable-{request.param}"), redis_server.url, extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1")
        app.manage("create_dev_user", USER, PASSWORD)
        yield app
    finally:
        app.stop()


@pytest.fixture
def page(chromium: Browser, stack: AppStack) -> Iterator[Page]:
    context = new_context(chromium, stack.base_url)
    page = context.new_page()
    sign_in(page, USER, PASSWORD)
    try:
        yield page
    finally:
        context.close()


def throttle(page: Page, bytes_per_second: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second})


def confirmed(page: Page) -> int:
    return int(page.locator(".upload").last.get_attribute("data-confirmed") or 0)


def wait_confirmed(page: Page, at_least: int) -> int:
    page.wait_for_function(
        "n => Number((document.querySelector('.upload:last-child') || {dataset: {}})"
        ".dataset.confirmed || 0) >= n", arg=at_least, timeout=60_000)
    return confirmed(page)


def test_a_dropped_patch_a_pause_and_a_reload_lose_nothing(page: Page, stack: AppStack,
                                                           big_wav: Path) -> None:
    size = big_wav.stat().st_size
    patches: list[Request] = []
    page.on("request", lambda r: patches.append(r) if r.method == "PATCH" else None)

    # The third PATCH dies on the network, as on a train going into a tunnel.
    offsets: list[int] = []  # Upload-Offset of each PATCH the page sent

    def drop_the_third_patch(route: Route) -> None:
        if route.request.method == "PATCH":
            offsets.append(int(route.request.headers["upload-offset"]))
            if len(offsets) == 3:
                route.abort("connectionreset")
                return
        route.continue_()

    page.goto("/")
    throttle(page, UPLOAD_BYTES_PER_SECOND)
    page.route("**/api/uploads/**", drop_the_third_patch)
    page.set_input_files("#file-input", str(big_wav))
    wait_confirmed(page, 4 * CHUNK_SIZE)
    page.unroute("**/api/uploads/**")
    # None of the dropped PATCH reached the server; the page asked it (HEAD) and sent the
    # same bytes again from there, and only those.
    assert offsets[:4] == [0, CHUNK_SIZE, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE], offsets

    # Pause: nothing more is sent and the bar holds still; Resume goes on.
    item = page.locator(".upload").last
    item.get_by_role("button", name="Pause").click()
    # A PATCH the click raced with is aborted (or, just started, seen) within a moment.
    page.wait_for_timeout(500)
    held = confirmed(page)
    sent_before = len(patches)
    page.wait_for_timeout(1500)
    assert len(patches) == sent_before and confirmed(page) == held
    assert "Paused" in item.locator(".upload__status").inner_text()
    item.get_by_role("button", name="Resume").click()

    # The tab is reloaded mid-way (the PATCH under way is cut off), and the same file chosen again.
    before_reload = wait_confirmed(page, 6 * CHUNK_SIZE)
    asset_id = patches[-1].url.rstrip("/").rsplit("/", 1)[1]
    page.reload()
    listed = json.loads(page.request.get(f"/api/media/{asset_id}/").text())
    assert listed["status"] == "uploading"
    throttle(page, UPLOAD_BYTES_PER_SECOND)
    first_after = len(patches)
    page.set_input_files("#file-input", str(big_wav))
    page.locator(".upload").last.and_(page.locator('[data-state="ready"], [data-state="failed"]')).wait_for(
        timeout=120_000)

    resumed = patches[first_after:]
    assert resumed and all(r.url.endswith(f"/{asset_id}/") for r in resumed)  # the same upload
    offset = int(resumed[0].headers["upload-offset"])
    # Nothing the server confirmed is sent again; what it had from the cut-off PATCH (up to
    # one chunk) is kept.
    assert before_reload <= offset <= before_reload + CHUNK_SIZE
    assert page.locator(".upload").last.get_attribute("data-state") == "ready", \
        page.locator(".upload").last.locator(".upload__status").inner_text()
    asset = json.loads(page.request.get(f"/api/media/{asset_id}/").text())
    assert asset["sha256"] == hashlib.sha256(big_wav.read_bytes()).hexdigest()
    assert asset["size"] == size
    # Finished uploads are forgotten by the browser; a new choice of the file starts afresh.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))") == []
