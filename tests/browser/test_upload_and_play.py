"""Upload → process → play → seek in real Chromium against the real stack, on local disk and S3.

One stack per backend (gunicorn, a Celery worker, Redis, and moto's S3 server over HTTP). The
module fixtures do what a person does — upload through the page — and record what the page
showed; each test then asserts one behaviour of that record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from tests.browser.conftest import H264_AAC, top_level_boxes
from tests.browser.driving import (
    PlaybackRecord,
    UploadRecord,
    new_context,
    play_and_seek,
    sign_in,
    upload_through_page,
)
from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ALICE, BOB, PASSWORD = "alice", "bob", "browser-pass-123"
# About four seconds for the 2.4 MB video: long enough to see the bar move many times.
UPLOAD_BYTES_PER_SECOND = 600_000
# The bar shows bytes the server confirmed, chunk by chunk: small chunks, so it moves often.
CHUNK_SIZE = 256 * 1024


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    extra["MEDIA_UPLOAD_CHUNK_SIZE"] = str(CHUNK_SIZE)
    app = AppStack(tmp_path_factory.mktemp(f"browser-{request.param}"), redis_server.url, extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=2)
        app.manage("create_dev_user", ALICE, PASSWORD)
        app.manage("create_dev_user", BOB, PASSWORD)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def backend(stack: AppStack) -> str:
    return stack.env["MEDIA_STORAGE"]


@pytest.fixture(scope="module")
def alice(chromium: Browser, stack: AppStack) -> Iterator[Page]:
    context = new_context(chromium, stack.base_url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    sign_in(page, ALICE, PASSWORD)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def bob(chromium: Browser, stack: AppStack) -> Iterator[Page]:
    context = new_context(chromium, stack.base_url)
    page = context.new_page()
    sign_in(page, BOB, PASSWORD)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def visitor(chromium: Browser, stack: AppStack) -> Iterator[BrowserContext]:
    context = new_context(chromium, stack.base_url)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def video_upload(alice: Page, two_minute_mp4: Path, backend: str, artifacts: Path) -> UploadRecord:
    record = upload_through_page(alice, two_minute_mp4, UPLOAD_BYTES_PER_SECOND)
    alice.screenshot(path=str(artifacts / f"upload-page-{backend}.png"), full_page=True)
    return record


@pytest.fixture(scope="module")
def video_playback(alice: Page, video_upload: UploadRecord, backend: str,
                   artifacts: Path) -> PlaybackRecord:
    assert video_upload.state == "ready", video_upload.status_text
    record = play_and_seek(alice, f"/media/{video_upload.asset_id}/", "video")
    alice.screenshot(path=str(artifacts / f"player-page-video-{backend}.png"), full_page=True)
    return record


@pytest.fixture(scope="module")
def audio_upload(alice: Page, two_minute_mp3: Path) -> UploadRecord:
    return upload_through_page(alice, two_minute_mp3, UPLOAD_BYTES_PER_SECOND)


@pytest.fixture(scope="module")
def audio_playback(alice: Page, audio_upload: UploadRecord, backend: str,
                   artifacts: Path) -> PlaybackRecord:
    assert audio_upload.state == "ready", audio_upload.status_text
    record = play_and_seek(alice, f"/media/{audio_upload.asset_id}/", "audio")
    alice.screenshot(path=str(artifacts / f"player-page-audio-{backend}.png"), full_page=True)
    return record


@pytest.fixture(scope="module")
def transcode_upload(alice: Page, full_hd_avi: Path) -> UploadRecord:
    return upload_through_page(alice, full_hd_avi)


def api_asset(page: Page, asset_id: str) -> dict:
    response = page.request.get(f"/api/media/{asset_id}/")
    assert response.status == 200, response.text()
    return json.loads(response.text())


# --- Preconditions: the browser and the sample are what the scenario claims ----------------------

def test_chromium_can_play_h264_and_aac(alice: Page) -> None:
    # Debian's build may lack proprietary codecs; the scenario is meaningless without them.
    assert alice.evaluate("t => document.createElement('video').canPlayType(t)", H264_AAC) == "probably"


def test_sample_video_has_its_moov_box_after_the_media_data(two_minute_mp4: Path) -> None:
    boxes = top_level_boxes(two_minute_mp4)
    assert boxes.index("moov") > boxes.index("mdat"), boxes


# --- 1. Upload through the page -------------------------------------------------------------------

def test_progress_bar_moves_through_the_upload(video_upload: UploadRecord) -> None:
    values = video_upload.progress_values
    during = [v for v in values if 0 < v < 100]
    assert len(set(during)) >= 5, values
    assert during == sorted(during), values  # never goes backwards
    assert values[-1] == 100


def test_status_goes_from_uploading_to_ready(video_upload: UploadRecord) -> None:
    # Observer records carry the state at delivery time, so synchronous steps may merge;
    # the order of what was shown is what a person sees.
    shown = list(dict.fromkeys(video_upload.states))
    waiting = [s for s in shown if s in ("pending", "processing")]
    assert waiting, shown
    assert shown.index("uploading") < shown.index(waiting[0]) < shown.index("ready"), shown
    assert shown[-1] == "ready", (shown, video_upload.status_text)
    assert video_upload.open_href == f"/media/{video_upload.asset_id}/"


def test_library_lists_the_upload_with_poster_and_details(alice: Page,
                                                          video_upload: UploadRecord) -> None:
    alice.goto("/media/")
    row = alice.locator(f'[data-asset-id="{video_upload.asset_id}"]')
    poster = row.locator("img")
    assert poster.get_attribute("src") == f"/media/{video_upload.asset_id}/poster.jpg"
    # The poster really loaded (naturalWidth is 0 for a broken image).
    alice.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=poster.element_handle())
    meta = row.locator(".asset__meta").inner_text()
    for text in ("Ready", "video/mp4", "2:00"):
        assert text in meta


# --- 2. Play and seek -----------------------------------------------------------------------------

def test_video_seeks_to_the_middle(video_playback: PlaybackRecord) -> None:
    assert video_playback.duration == pytest.approx(120, abs=1)
    assert video_playback.time_after_seek == pytest.approx(video_playback.seek_target, abs=1)


def test_video_keeps_playing_after_the_seek(video_playback: PlaybackRecord) -> None:
    assert not video_playback.paused_later
    assert video_playback.time_later > video_playback.time_after_seek + 1.0


def test_video_stream_requests_are_all_answered_with_206(video_playback: PlaybackRecord) -> None:
    assert video_playback.stream_responses, "the player made no stream request"
    assert [status for status, _range in video_playback.stream_responses] == \
        [206] * len(video_playback.stream_responses), video_playback.stream_responses


def test_video_fires_no_media_error(video_playback: PlaybackRecord) -> None:
    assert video_playback.error is None
    assert video_playback.media_errors == []


def test_download_link_is_the_signed_stream_url(alice: Page, video_upload: UploadRecord) -> None:
    alice.goto(f"/media/{video_upload.asset_id}/")
    src = alice.locator("video").get_attribute("src")
    href = alice.get_by_role("link", name="Download", exact=True).get_attribute("href")
    assert href == f"{src}&download=1"
    response = alice.request.get(href, headers={"Range": "bytes=0-15"})
    assert response.status == 206
    assert response.headers["content-disposition"].startswith("attachment")


# --- 3. Audio, and a spoofed file -----------------------------------------------------------------

def test_audio_upload_reaches_ready(audio_upload: UploadRecord) -> None:
    assert audio_upload.state == "ready", audio_upload.status_text
    assert len({v for v in audio_upload.progress_values if 0 < v < 100}) >= 2


def test_audio_plays_seeks_and_continues(audio_playback: PlaybackRecord) -> None:
    assert audio_playback.duration == pytest.approx(120, abs=1)
    assert audio_playback.time_after_seek == pytest.approx(audio_playback.seek_target, abs=1)
    assert not audio_playback.paused_later
    assert audio_playback.time_later > audio_playback.time_after_seek + 1.0


def test_audio_stream_requests_are_all_206_without_media_errors(audio_playback: PlaybackRecord) -> None:
    assert audio_playback.stream_responses
    assert {status for status, _range in audio_playback.stream_responses} == {206}
    assert audio_playback.error is None and audio_playback.media_errors == []


def test_upload_page_shows_the_transcode_progress_rising_then_ready(
        transcode_upload: UploadRecord) -> None:
    converting = [shown for shown in transcode_upload.shown if shown["state"] == "processing"
                  and "Converting it for browsers" in shown["status"]]
    percents = [int(re.search(r"(\d+)%", shown["status"]).group(1)) for shown in converting]
    assert [shown["progress"] for shown in converting] == percents  # the bar says the same
    assert percents == sorted(percents) and len(set(percents)) >= 2, transcode_upload.shown
    assert all(0 <= p < 100 for p in percents) and any(0 < p < 100 for p in percents)
    assert transcode_upload.shown[-1]["state"] == "ready", transcode_upload.shown
    assert transcode_upload.status_text == "Ready to play."


def test_spoofed_file_shows_its_failure_reason(alice: Page, spoofed_mp4: Path, backend: str,
                                               artifacts: Path) -> None:
    record = upload_through_page(alice, spoofed_mp4)
    assert record.state == "failed"
    reason = api_asset(alice, record.asset_id)["error"]
    assert reason and "text/html" in reason
    assert reason in record.status_text
    alice.screenshot(path=str(artifacts / f"upload-page-failed-{backend}.png"), full_page=True)
    # The player page says the same, and embeds nothing.
    alice.goto(f"/media/{record.asset_id}/")
    assert alice.locator("[data-failure-reason]").inner_text() == reason
    assert alice.locator("video, audio, img, iframe, object, embed").count() == 0


def test_too_large_file_is_refused_before_sending(alice: Page, tmp_path: Path, stack: AppStack) -> None:
    alice.goto("/")
    limit = int(alice.locator("[data-uploader]").get_attribute("data-max-size"))
    # A sparse file: its size is what matters, and nothing of it is read.
    big = tmp_path / "huge.mp4"
    with big.open("wb") as handle:
        handle.truncate(limit + 1)
    posts: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    alice.on("request", record)
    try:
        alice.set_input_files("#file-input", str(big))
        item = alice.locator(".upload").last
        expect(item).to_have_attribute("data-state", "rejected")
        expect(item).to_contain_text("Too large")
        expect(item).to_contain_text("It was not sent.")
        alice.wait_for_timeout(500)  # an XHR, had one been started, would show up by now
    finally:
        alice.remove_listener("request", record)
    assert posts == []


def test_dropping_several_files_uploads_each_of_them(alice: Page, small_png: Path) -> None:
    alice.goto("/")
    # What the OS hands the page on a drop: a DataTransfer holding File objects.
    transfer = alice.evaluate_handle("""([png]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(png)], "dropped.png", {type: "image/png"}));
        dt.items.add(new File(["<html><body>hi</body></html>"], "dropped.webm", {type: "video/webm"}));
        return dt;
    }""", [list(small_png.read_bytes())])
    zone = alice.locator("[data-dropzone]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class("dropzone dropzone--active")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).to_have_class("dropzone")
    items = alice.locator(".upload")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(items.nth(1)).to_have_attribute("data-state", "failed", timeout=60_000)
    expect(items.nth(1).locator(".upload__status")).to_contain_text("couldn’t process")


# --- 4. Visibility --------------------------------------------------------------------------------

def test_another_user_gets_404_on_a_private_player_page(bob: Page, video_upload: UploadRecord) -> None:
    response = bob.goto(f"/media/{video_upload.asset_id}/")
    assert response is not None and response.status == 404


def test_another_user_gets_404_on_an_unsigned_stream_url(bob: Page, video_upload: UploadRecord) -> None:
    assert bob.request.get(f"/stream/{video_upload.asset_id}/").status == 404
    assert bob.request.get(f"/api/media/{video_upload.asset_id}/").status == 404


def test_owner_shares_an_asset_and_a_visitor_can_play_it(alice: Page, visitor: BrowserContext,
                                                         audio_upload: UploadRecord) -> None:
    player_url = f"/media/{audio_upload.asset_id}/"
    assert visitor.new_page().goto(player_url).status == 404
    alice.goto(player_url)
    alice.get_by_role("button", name="Make public").click()
    share = alice.get_by_label("Share link")
    assert share.input_value() == alice.url
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    alice.get_by_role("button", name="Copy").click()
    expect(alice.locator("[data-copy-status]")).to_have_text("Link copied.")
    assert alice.evaluate("navigator.clipboard.readText()") == share.input_value()

    page = visitor.new_page()
    assert page.goto(share.input_value()).status == 200
    page.locator("audio").evaluate("el => el.play()")
    page.wait_for_function("el => el.currentTime > 0.3", arg=page.locator("audio").element_handle())

    alice.get_by_role("button", name="Make private").click()
    assert visitor.new_page().goto(player_url).status == 404


# --- Library management, keyboard and phone width -----------------------------------------------

def test_delete_asks_for_confirmation_in_the_library(alice: Page, small_png: Path) -> None:
    record = upload_through_page(alice, small_png)
    assert record.state == "ready", record.status_text
    alice.goto("/media/")
    row = alice.locator(f'[data-asset-id="{record.asset_id}"]')
    row.get_by_role("link", name="Delete").click()
    dialog = alice.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel").click()
    assert row.count() == 1 and api_asset(alice, record.asset_id)["status"] == "ready"

    row.get_by_role("link", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    alice.wait_for_url("**/media/")
    assert alice.locator(f'[data-asset-id="{record.asset_id}"]').count() == 0
    assert "Deleted" in alice.locator(".messages").inner_text()
    assert alice.request.get(f"/api/media/{record.asset_id}/").status == 404


def test_file_chooser_is_reachable_by_keyboard_with_a_visible_focus(alice: Page) -> None:
    alice.goto("/")
    for _ in range(15):
        alice.keyboard.press("Tab")
        if alice.evaluate("document.activeElement.id") == "file-input":
            break
    assert alice.evaluate("document.activeElement.id") == "file-input"
    outline = alice.locator(".dropzone__label").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"


@pytest.mark.parametrize("path", ["/", "/media/"])
def test_pages_fit_a_phone_screen(chromium: Browser, stack: AppStack, video_upload: UploadRecord,
                                  path: str, backend: str, artifacts: Path) -> None:
    context = new_context(chromium, stack.base_url, viewport={"width": 375, "height": 740},
                          device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, ALICE, PASSWORD)
        for url in (path, f"/media/{video_upload.asset_id}/"):
            page.goto(url)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (url, overflow)
        page.goto(path)
        name = "library" if path == "/media/" else "upload"
        page.screenshot(path=str(artifacts / f"phone-{name}-{backend}.png"), full_page=True)
    finally:
        context.close()
