"""What a file really is, decided from its bytes: MIME type, media metadata, MP4 layout.

Pure steps that take bytes, paths or URLs and return small frozen dataclasses; the pipeline
(processing.py) composes them. Every failure the uploader should read is an `Unacceptable`.
"""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import magic

SNIFF_BYTES = 64 * 1024

# libmagic's names for the same formats, mapped to the one browsers and our allow-list use.
MIME_ALIASES = {
    "video/x-m4v": "video/mp4",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "video/x-webm": "video/webm",
    "video/mkv": "video/x-matroska",
    "application/ogg": "audio/ogg",
    "image/jpg": "image/jpeg",
    "image/x-png": "image/png",
}
# libmagic says these for some valid media (MP4 iso5 brand, MP3 with ID3, some MKV): let
# ffprobe decide (FIELD_NOTES, "Uploads and processing").
UNKNOWN_TYPES = {"application/octet-stream", "application/x-matroska", "video/x-matroska",
                 "audio/x-hx-aac-adts", "application/x-riff", "video/webm", "audio/ogg"}
# ffprobe's format names (its exact `format_name`) for content libmagic could not name.
FFPROBE_FORMAT_TYPES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
}
MP4_FAMILY = {"video/mp4", "video/quicktime", "audio/mp4"}


class Unacceptable(Exception):
    """The file can never be processed; the message is shown to the uploader."""


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: float | None
    width: int | None
    height: int | None
    video_codec: str
    audio_codec: str

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)


def sniff_mime(head: bytes) -> str:
    """The MIME type libmagic reads in the first bytes, with aliases normalised."""
    detected = magic.from_buffer(head[:SNIFF_BYTES], mime=True)
    return MIME_ALIASES.get(detected, detected)


def needs_probe_to_decide(mime: str) -> bool:
    return mime in UNKNOWN_TYPES


def refine_mime(sniffed: str, info: MediaInfo) -> str:
    """Settle the type of media libmagic could not name, or named only by its container."""
    mime = sniffed
    if sniffed in UNKNOWN_TYPES:
        mime = FFPROBE_FORMAT_TYPES.get(info.format_name, sniffed)
        if info.format_name == "matroska,webm" and info.video_codec not in ("vp8", "vp9", "av1", ""):
            mime = "video/x-matroska"  # H.264 and friends in Matroska are not WebM
    major, _, minor = mime.partition("/")
    if major == "video" and not info.has_video:
        mime = f"audio/{minor}"
    elif mime == "audio/ogg" and info.has_video:
        mime = "video/ogg"
    return MIME_ALIASES.get(mime, mime)


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def parse_ffprobe(output: str) -> MediaInfo:
    """Read ffprobe's JSON defensively: any field may be missing, null or nonsense."""
    try:
        data = json.loads(output or "{}")
    except json.JSONDecodeError as exc:
        raise Unacceptable("The media prober could not read this file.") from exc
    if not isinstance(data, dict):
        data = {}
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise Unacceptable("The file contains no audio or video stream.")
    duration = _float_or_none(fmt.get("duration"))
    if duration is None and video is not None:
        duration = _float_or_none(video.get("duration"))
    return MediaInfo(
        format_name=str(fmt.get("format_name") or ""),
        duration=duration,
        width=_int_or_none(video.get("width")) if video else None,
        height=_int_or_none(video.get("height")) if video else None,
        video_codec=str(video.get("codec_name") or "") if video else "",
        audio_codec=str(audio.get("codec_name") or "") if audio else "",
    )


def probe(source: str, timeout: int) -> MediaInfo:
    """Run ffprobe on a path or URL, time-boxed; undecodable input is `Unacceptable`."""
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
             source],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unacceptable(f"Reading the media took longer than {timeout} s; the file may be damaged.") from exc
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        reason = reason.replace(source, "input")
        raise Unacceptable(f"The file is not playable media (ffprobe: {reason[:200]}).")
    return parse_ffprobe(result.stdout)


def moov_after_mdat(read_at: Callable[[int, int], bytes], size: int) -> bool:
    """Does this MP4 keep its index (`moov`) after the media data (`mdat`)?

    Walks the top-level boxes (ISO/IEC 14496-12 §4.2), reading 16 bytes per box.
    Hand-written because ffprobe does not report box order short of a trace log.
    """
    offset = 0
    seen_mdat = False
    for _ in range(1000):  # top-level boxes are few; bound the walk on corrupt input
        if offset + 8 > size:
            return False
        header = read_at(offset, 16)
        if len(header) < 8:
            return False
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) >= 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - offset
        if box_type == b"mdat":
            seen_mdat = True
        elif box_type == b"moov":
            return seen_mdat
        if box_size < 8:
            return False
        offset += box_size
    return False


def _ffmpeg(args: list[str], timeout: int, what: str) -> None:
    try:
        result = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Unacceptable(f"{what} took longer than {timeout} s.") from exc
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise Unacceptable(f"{what} failed: {reason[:200]}")


def remux_faststart(source: str, target: Path, timeout: int) -> None:
    """Move `moov` to the front without re-encoding, so playback starts at once."""
    _ffmpeg(["-i", source, "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4",
             str(target)], timeout, "Preparing the video for streaming")


def extract_poster(source: str, target: Path, duration: float | None, timeout: int) -> None:
    """One JPEG frame from early in the video, at most 640 px wide."""
    at = min(1.0, (duration or 0) / 2)
    _ffmpeg(["-ss", f"{at:.3f}", "-i", source, "-frames:v", "1", "-vf", "scale='min(640,iw)':-2",
             "-q:v", "4", "-f", "image2", str(target)], timeout, "Making the poster frame")
