"""What a file really is, decided from its bytes: MIME type, media metadata, MP4 layout.

Steps that take bytes or worker-local paths and return small frozen dataclasses; the pipeline
(processing.py) composes them. ffprobe and ffmpeg run only through `media_pipeline.ffmpeg`,
with the demuxer this module decides from the sniffed type. Every failure the uploader should
read is an `Unacceptable`.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import magic

from media_pipeline.errors import Unacceptable
from media_pipeline.ffmpeg import InputFormat, Limits, ToolFailed, pixel_cap_failure, run

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
    "audio/x-aiff": "audio/aiff",
    "audio/AMR": "audio/amr",
    "video/MP2T": "video/mp2t",
    "application/mxf": "video/mxf",
    "audio/vnd.dolby.dd-raw": "audio/ac3",
    "application/vnd.rn-realmedia": "video/vnd.rn-realvideo",
    "image/x-ms-bmp": "image/bmp",
    "image/x-icon": "image/vnd.microsoft.icon",
}
# Never accepted, whatever MEDIA_ALLOWED_TYPES says: pictures that carry script or are
# documents. ffmpeg would decode SVG (librsvg), and an SVG from our origin runs its script.
NEVER_ACCEPTED = frozenset({"image/svg+xml", "image/svg", "image/x-eps", "image/vnd.djvu",
                            "image/x-djvu", "image/vnd.djvu+multipage"})
MEDIA_MAJORS = frozenset({"video", "audio", "image"})
# libmagic says these for some valid media (MP4 iso5 brand, MP3 with ID3, some MKV): let
# ffprobe decide (FIELD_NOTES, "Uploads and processing").
UNKNOWN_TYPES = {"application/octet-stream", "application/x-matroska", "video/x-matroska",
                 "audio/x-hx-aac-adts", "application/x-riff", "video/webm", "audio/ogg",
                 "audio/x-unknown"}
# ffprobe's format names (its exact `format_name`) for content libmagic could not name.
FFPROBE_FORMAT_TYPES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "mpegts": "video/mp2t",  # camera .mts/.m2ts, which libmagic calls octet-stream
    "mpeg": "video/mpeg",
    "avi": "video/x-msvideo",
    "asf": "video/x-ms-asf",
    "flv": "video/x-flv",
    "mxf": "video/mxf",
    "aiff": "audio/aiff",
    "amr": "audio/amr",
    "caf": "audio/x-caf",  # Apple's Core Audio Format
    "w64": "audio/x-w64",
    "au": "audio/basic",
    "voc": "audio/x-voc",
    "wv": "audio/x-wavpack",
    "tta": "audio/x-tta",
    "ape": "audio/x-ape",
    "mpc": "audio/x-musepack",
    "mpc8": "audio/x-musepack",
    "dsf": "audio/x-dsf",
    "ac3": "audio/ac3",
    "eac3": "audio/eac3",
    "dts": "audio/vnd.dts",
    "truehd": "audio/x-truehd",
    "gsm": "audio/x-gsm",
    "nut": "video/x-nut",
    "ivf": "video/x-ivf",  # VP8/VP9/AV1 elementary streams from encoders
    "dv": "video/x-dv",
    "rm": "video/vnd.rn-realvideo",
    "h264": "video/h264",  # raw streams from drones and dashcams
    "hevc": "video/h265",
}
# A container's type when it holds sound alone, where that is not just audio/<the same>.
SOUND_ONLY_TYPES = {"video/vnd.rn-realvideo": "audio/vnd.rn-realaudio"}
MP4_FAMILY = {"video/mp4", "video/quicktime", "audio/mp4"}

# The one demuxer ffmpeg may use for each type libmagic names. libmagic and ffmpeg's probe
# decide independently, and a file libmagic calls QuickTime may score higher with ffmpeg as a
# DASH manifest or a playlist whose entries ffmpeg would then open (FIELD_NOTES, "ffmpeg on
# untrusted input"): so the type check decides, and ffmpeg reads the file as that or not at all.
DEMUXERS = {
    "video/mp4": "mov", "video/quicktime": "mov", "audio/mp4": "mov",
    "video/webm": "matroska", "audio/webm": "matroska", "video/x-matroska": "matroska",
    "application/x-matroska": "matroska",
    "video/ogg": "ogg", "audio/ogg": "ogg",
    "audio/mpeg": "mp3", "audio/aac": "aac", "audio/x-hx-aac-adts": "aac",
    "audio/wav": "wav", "application/x-riff": "wav", "audio/flac": "flac",
    "image/png": "png_pipe", "image/jpeg": "jpeg_pipe", "image/gif": "gif",
    "image/webp": "webp_pipe",
    # What phones, cameras, editors and old desktops make (issue #12).
    "video/3gpp": "mov", "video/x-msvideo": "avi", "video/x-ms-asf": "asf", "video/x-flv": "flv",
    "video/mpeg": "mpeg", "video/mp2t": "mpegts", "video/mxf": "mxf",
    "audio/aiff": "aiff", "audio/amr": "amr",
    "audio/basic": "au", "audio/x-w64": "w64", "audio/ac3": "ac3", "video/x-dv": "dv",
    "video/vnd.rn-realvideo": "rm",
    "image/bmp": "bmp_pipe", "image/tiff": "tiff_pipe", "image/vnd.microsoft.icon": "ico",
    "image/x-portable-bitmap": "pbm_pipe", "image/x-portable-greymap": "pgm_pipe",
    "image/x-portable-pixmap": "ppm_pipe", "image/jxl": "jpegxl_pipe",
    "image/vnd.adobe.photoshop": "psd_pipe", "image/avif": "mov", "image/heic": "mov",
}
# Bytes libmagic cannot name (or names only as some sound) may be probed, but only among these
# (`-format_whitelist`): media containers and elementary streams that never open another input.
# Not here, on purpose: playlists and manifests (hls, dash, concat), image sequences (image2),
# text that ffmpeg would render as video (tty, subtitles) and devices (lavfi).
PROBE_DEMUXERS = ("mov", "matroska", "ogg", "mp3", "aac", "wav", "flac", "mpegts", "mpeg", "avi",
                  "asf", "flv", "mxf", "aiff", "amr", "caf", "w64", "au", "voc", "wv", "tta",
                  "ape", "mpc", "mpc8", "dsf", "ac3", "eac3", "dts", "truehd", "gsm", "nut",
                  "ivf", "dv", "rm", "h264", "hevc")
# ffprobe's `format_name` for each demuxer, to pin the later steps to what the probe found.
_DEMUXER_OF_FORMAT = {"mov,mp4,m4a,3gp,3g2,mj2": "mov", "matroska,webm": "matroska"}


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe reads of the first video stream (cover art aside) and the first audio one.
    Strings are "" and numbers None where ffprobe said nothing usable."""

    format_name: str
    duration: float | None
    width: int | None
    height: int | None
    video_codec: str
    audio_codec: str
    video_profile: str = ""
    pix_fmt: str = ""
    level: int | None = None
    # The display matrix's turn, 0/90/180/270 (a phone's portrait video is stored landscape).
    # Which way does not matter here: width and height swap either way, and ffmpeg applies
    # the matrix itself when it transcodes.
    rotation: int = 0
    color_transfer: str = ""
    field_order: str = ""
    frame_rate: float | None = None
    audio_profile: str = ""
    audio_channels: int | None = None
    audio_sample_rate: int | None = None

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)

    @property
    def displayed_size(self) -> tuple[int | None, int | None]:
        """Width and height as a viewer sees them, after the rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS

    @property
    def is_interlaced(self) -> bool:
        return self.field_order in INTERLACED_FIELD_ORDERS


# PQ (HDR10, Dolby Vision's base) and HLG: washed out unless tone-mapped to SDR.
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
# ffprobe's field_order: top or bottom field first, coded in either order; "progressive" is not.
INTERLACED_FIELD_ORDERS = frozenset({"tt", "bb", "tb", "bt"})


def sniff_mime(head: bytes) -> str:
    """The MIME type libmagic reads in the first bytes, with aliases normalised."""
    detected = magic.from_buffer(head[:SNIFF_BYTES], mime=True)
    return MIME_ALIASES.get(detected, detected)


def needs_probe_to_decide(mime: str) -> bool:
    return mime in UNKNOWN_TYPES


def accepted(mime: str, allowed: list[str] | tuple[str, ...]) -> bool:
    """Whether uploads of this type are taken: video, audio or a picture that `allowed` names
    (exactly, or as "video/*"), and never a scriptable or document type."""
    major = mime.partition("/")[0]
    if major not in MEDIA_MAJORS or mime in NEVER_ACCEPTED:
        return False
    return mime in allowed or f"{major}/*" in allowed


def refine_mime(sniffed: str, info: MediaInfo) -> str:
    """Settle the type of media libmagic could not name, or named only by its container."""
    mime = sniffed
    if sniffed in UNKNOWN_TYPES:
        mime = FFPROBE_FORMAT_TYPES.get(info.format_name, sniffed)
        if info.format_name == "matroska,webm" and info.video_codec not in ("vp8", "vp9", "av1", ""):
            mime = "video/x-matroska"  # H.264 and friends in Matroska are not WebM
    major, _, minor = mime.partition("/")
    if major == "video" and not info.has_video:
        mime = SOUND_ONLY_TYPES.get(mime, f"audio/{minor}")
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
    video, audio = video or {}, audio or {}
    return MediaInfo(
        format_name=_text(fmt.get("format_name")),
        duration=duration,
        width=_int_or_none(video.get("width")),
        height=_int_or_none(video.get("height")),
        video_codec=_text(video.get("codec_name")),
        audio_codec=_text(audio.get("codec_name")),
        video_profile=_text(video.get("profile")),
        pix_fmt=_text(video.get("pix_fmt")),
        level=_int_or_none(video.get("level")),
        rotation=_rotation(video),
        color_transfer=_text(video.get("color_transfer")),
        field_order=_text(video.get("field_order")),
        frame_rate=_frame_rate(video.get("avg_frame_rate")) or _frame_rate(video.get("r_frame_rate")),
        audio_profile=_text(audio.get("profile")),
        audio_channels=_int_or_none(audio.get("channels")),
        audio_sample_rate=_int_or_none(audio.get("sample_rate")),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _frame_rate(value: Any) -> float | None:
    """ffprobe's rational ("30000/1001"), or None for "0/0" and nonsense."""
    numerator, _, denominator = _text(value).partition("/")
    rate = _float_or_none(numerator)
    divisor = _float_or_none(denominator or "1")
    if rate is None or not divisor:
        return None
    return rate / divisor if 0 < rate / divisor <= 1000 else None


def _rotation(video: dict[str, Any]) -> int:
    """The display rotation in quarter turns, 0/90/180/270: from the display matrix side data,
    or the older `rotate` tag."""
    for side_data in video.get("side_data_list") or []:
        if isinstance(side_data, dict) and "rotation" in side_data:
            return _quarter_turns(-_number(side_data["rotation"]))
    tags = video.get("tags") if isinstance(video.get("tags"), dict) else {}
    return _quarter_turns(_number(tags.get("rotate")))


def _quarter_turns(degrees: float) -> int:
    return round(degrees / 90) % 4 * 90


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


def input_format(mime: str) -> InputFormat:
    """How ffmpeg may read a file of the sniffed type: pinned, or probed among media demuxers."""
    demuxer = DEMUXERS.get(mime)
    return InputFormat.pinned(demuxer) if demuxer else InputFormat(PROBE_DEMUXERS)


def probed_format(info: MediaInfo, fallback: InputFormat) -> InputFormat:
    """The demuxer the probe settled on, for the steps that read the file again."""
    demuxer = _DEMUXER_OF_FORMAT.get(info.format_name, info.format_name)
    return InputFormat.pinned(demuxer) if demuxer in PROBE_DEMUXERS else fallback


def probe(source: Path, mime: str, limits: Limits, scratch: Path | None = None) -> MediaInfo:
    """What ffprobe reads of a worker-local file, as the sniffed type; `Unacceptable` if it
    is not readable as that type (a disguised or damaged file)."""
    try:
        outcome = run("ffprobe", source, input_format(mime), limits=limits,
                      what="Reading the media", scratch=scratch,
                      outputs=["-print_format", "json", "-show_format", "-show_streams"])
    except ToolFailed as exc:
        if exc.kind != "failed":
            raise
        raise Unacceptable(f"This file could not be read as {mime}: it may be damaged, cut "
                           "short, or not what it claims to be.") from exc
    info = parse_ffprobe(outcome.stdout.decode("utf-8", "replace"))
    if info.width and info.height and info.width * info.height > limits.max_pixels:
        raise pixel_cap_failure(limits)
    return info


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


def extract_poster(source: Path, fmt: InputFormat, target: Path, duration: float | None,
                   limits: Limits, cancel: threading.Event | None = None) -> None:
    """One JPEG frame from early in the video, at most 640 px wide: the first keyframe at or
    after one second in (half-way, in a shorter video), or else the frame at that time.

    Keyframes only (`-skip_frame nokey`) because reaching an exact time decodes every frame
    from the keyframe before it: on `make bench-transcode`'s remux source (a keyframe every
    8.3 s) the poster took 0.30 CPU-s that way and 0.12-0.18 s by keyframe, most of it
    ffmpeg's start-up, and it runs beside the rendition, competing for the second core with
    the checksum. A stream with no keyframe after that time (one keyframe in all, or none
    the decoder calls one) gives no frame; the frame at that time is then decoded exactly."""
    at = min(1.0, (duration or 0) / 2)
    for keyframes in (["-skip_frame", "nokey"], []):
        run("ffmpeg", source, fmt, limits=limits, what="Making the poster frame", cancel=cancel,
            options=[*keyframes, "-ss", f"{at:.3f}"],
            outputs=["-frames:v", "1", "-vf", "scale='min(640,iw)':-2", "-q:v", "4",
                     "-f", "image2", "-y", f"file:{target}"],
            output=target, scratch=target.parent)
        if target.is_file():
            return
