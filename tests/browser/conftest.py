"""Real Chromium (Debian's, never a downloaded one) driven by Playwright, and the media it plays.

The browser is launched once per session. Each test module brings its own `AppStack`s; these
fixtures only know about the browser, the sample files and where screenshots go.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.services import ROOT

CHROMIUM = "/usr/bin/chromium"
# --no-sandbox: CI runs as root; the rest keep Chromium from phoning home mid-test.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "test-artifacts"
H264_AAC = 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ISO/IEC 14496-12 §4.2)."""
    boxes: list[str] = []
    with path.open("rb") as handle:
        while header := handle.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:  # a 64-bit largesize follows the type
                size = struct.unpack(">Q", handle.read(8))[0]
                handle.seek(size - 16, 1)
            elif size == 0:  # the box runs to the end of the file
                boxes.append(kind.decode("latin-1"))
                break
            else:
                handle.seek(size - 8, 1)
            boxes.append(kind.decode("latin-1"))
    return boxes


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=180)


@pytest.fixture(scope="session")
def two_minute_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes of H.264 + AAC with `moov` at the end, as ffmpeg writes it by default."""
    path = tmp_path_factory.mktemp("browser-media") / "two-minutes.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=120",
            "-f", "lavfi", "-i", "sine=duration=120",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def full_hd_avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty seconds of 1080p MPEG-4 Part 2 and MP3 in AVI, an old desktop's: a full transcode
    of several seconds (the H.264 encode at 1080p takes them; the file is quick to make)."""
    path = tmp_path_factory.mktemp("browser-media") / "old-desktop-1080p.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=20",
            "-f", "lavfi", "-i", "sine=duration=20", "-c:v", "mpeg4", "-q:v", "12",
            "-c:a", "libmp3lame", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def two_minute_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-media") / "two-minutes.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=120", "-c:a", "libmp3lame",
            "-b:a", "64k", str(path))
    return path


@pytest.fixture(scope="session")
def spoofed_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HTML page wearing a video's name: it must never play, nor render from our origin."""
    path = tmp_path_factory.mktemp("browser-media") / "not-really-a-video.mp4"
    path.write_text("<!doctype html><html><body><script>alert('pwned')</script>"
                    + "<p>definitely a video</p>" * 200 + "</body></html>")
    return path


@pytest.fixture(scope="session")
def small_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-media") / "frame.png"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:duration=1", "-frames:v", "1", str(path))
    return path
