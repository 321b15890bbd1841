"""What a person does in the browser, as functions the tests compose: sign in, upload through
the page, play and seek. Each returns what it observed, and the tests assert on that."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Response

# Installed before any page script: records every progress value and upload state the page
# shows, and every media error, so the tests can assert on the whole history, not one moment.
OBSERVER_SCRIPT = """
window.__progress = [];
window.__states = [];
window.__mediaErrors = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    if (r.target.tagName === 'PROGRESS' && r.attributeName === 'value') {
      window.__progress.push(Number(r.target.getAttribute('value')));
    } else if (r.attributeName === 'data-state') {
      window.__states.push(r.target.getAttribute('data-state'));
    }
  });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['value', 'data-state']});
// What the newest upload row shows after each change, state, status line and bar together,
// so a test can tell the upload's percentages from the transcode's.
window.__shown = [];
new MutationObserver(function () {
  var rows = document.querySelectorAll('.upload');
  if (!rows.length) return;
  var row = rows[rows.length - 1];
  var now = {state: row.dataset.state, status: row.querySelector('.upload__status').textContent,
             progress: Number(row.querySelector('progress').value)};
  var last = window.__shown[window.__shown.length - 1];
  if (!last || last.state !== now.state || last.status !== now.status ||
      last.progress !== now.progress) {
    window.__shown.push(now);
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                      attributeFilter: ['value', 'data-state']});
// Media 'error' events do not bubble; the capture phase on document still sees them.
document.addEventListener('error', function (e) {
  var t = e.target;
  if (t && (t.tagName === 'VIDEO' || t.tagName === 'AUDIO')) {
    window.__mediaErrors.push(t.error ? t.error.code + ': ' + t.error.message : 'error event');
  }
}, true);
"""


def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    context = browser.new_context(base_url=base_url, **options)
    context.add_init_script(OBSERVER_SCRIPT)
    return context


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


@dataclass
class UploadRecord:
    asset_id: str
    state: str
    status_text: str
    progress_values: list[float]
    states: list[str]
    open_href: str | None
    shown: list[dict[str, Any]]  # state, status line and bar after each change


def upload_through_page(page: Page, path: Path, upload_bytes_per_second: int | None = None,
                        timeout_ms: float = 180_000) -> UploadRecord:
    """Choose `path` on the upload page and wait until the page says ready or failed.

    Loopback moves a few MB in milliseconds, too fast for the progress bar to be seen moving;
    Chromium's own network emulation slows the upload the way a real uplink would.
    """
    page.goto("/")
    cdp = page.context.new_cdp_session(page)
    if upload_bytes_per_second:
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1,
            "uploadThroughput": upload_bytes_per_second,
        })
    try:
        page.set_input_files("#file-input", str(path))
        item = page.locator(".upload").last
        item.and_(page.locator('[data-state="ready"], [data-state="failed"]')).wait_for(
            timeout=timeout_ms)
    finally:
        if upload_bytes_per_second:
            cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        cdp.detach()
    link = item.get_by_role("link", name="Open")
    return UploadRecord(
        asset_id=item.get_attribute("data-asset-id") or "",
        state=item.get_attribute("data-state") or "",
        status_text=item.locator(".upload__status").inner_text(),
        progress_values=page.evaluate("window.__progress"),
        states=page.evaluate("window.__states"),
        open_href=link.get_attribute("href") if link.count() else None,
        shown=page.evaluate("window.__shown"),
    )


@dataclass
class PlaybackRecord:
    duration: float
    seek_target: float
    time_after_seek: float
    time_later: float
    paused_later: bool
    error: Any
    media_errors: list[str]
    stream_responses: list[tuple[int, str | None]] = field(default_factory=list)


def play_and_seek(page: Page, player_url: str, tag: str, settle_ms: int = 2500) -> PlaybackRecord:
    """Open the player, play, seek to the middle and watch it keep playing."""
    stream_responses: list[tuple[int, str | None]] = []

    def record(response: Response) -> None:
        if "/stream/" in response.url:
            stream_responses.append((response.status, response.request.headers.get("range")))

    page.on("response", record)
    try:
        page.goto(player_url)
        media = page.locator(tag)
        handle = media.element_handle()
        page.wait_for_function("el => el.readyState >= 1 && isFinite(el.duration)", arg=handle,
                               timeout=30_000)
        duration = media.evaluate("el => el.duration")
        media.evaluate("el => el.play()")
        page.wait_for_function("el => !el.paused && el.currentTime > 0.3", arg=handle,
                               timeout=30_000)
        target = duration / 2
        media.evaluate("""(el, t) => new Promise(resolve => {
            el.addEventListener('seeked', () => resolve(), {once: true});
            el.currentTime = t;
        })""", target)
        after_seek = media.evaluate("el => el.currentTime")
        page.wait_for_timeout(settle_ms)
        later = media.evaluate("el => ({t: el.currentTime, paused: el.paused, "
                               "error: el.error && {code: el.error.code, message: el.error.message}})")
        return PlaybackRecord(
            duration=duration, seek_target=target, time_after_seek=after_seek,
            time_later=later["t"], paused_later=later["paused"], error=later["error"],
            media_errors=page.evaluate("window.__mediaErrors"),
            stream_responses=stream_responses,
        )
    finally:
        page.remove_listener("response", record)
