"""What browsers are given to play: the original as it is, or a rendition made from it.

A pure decision from what ffprobe read (issue #12; FIELD_NOTES, "What browsers play"). The one
output every browser plays is MP4 (faststart) with H.264 8-bit 4:2:0 and AAC-LC or MP3 in
stereo, and, for sound alone, MP3, AAC, Opus in Ogg, FLAC or WAV. So, cheapest first:

- `original`: already that, and laid out for streaming: served as uploaded;
- `remux`: the streams are right but the container is not (MOV, Matroska, AVI, MPEG-TS, an MP4
  whose index follows its data): copied into a faststart MP4, nothing re-encoded;
- `audio`: the picture is right, the sound is not (AC-3, DTS, PCM in MOV, ALAC, more than two
  channels), or sound alone that browsers cannot play (ALAC, WMA, AMR, AIFF): the video
  copied, the audio encoded as AAC-LC stereo;
- `transcode`: everything else (HEVC, VP9, AV1, MPEG-2, MPEG-4 Part 2, WMV, ProRes, 10-bit,
  HDR, interlaced): H.264 and AAC; a picture browsers do not show: a PNG.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from media_pipeline.analysis import MediaInfo

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"  # ffprobe's format_name for the MP4/QuickTime family

# H.264 every browser decodes: 8-bit 4:2:0 in these profiles, up to level 5.1.
PLAYABLE_H264_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
PLAYABLE_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
MAX_H264_LEVEL = 51
# Sound that plays beside H.264 in MP4, in stereo at most.
PLAYABLE_AUDIO_IN_MP4 = frozenset({"aac", "mp3"})
PLAYABLE_AAC_PROFILES = frozenset({"LC", ""})  # "" where ffprobe does not say (ADTS, old files)
MAX_PLAYABLE_CHANNELS = 2
# Sound alone, by the container ffprobe found, with the codec that plays in it everywhere.
PLAYABLE_AUDIO_FILES = {
    "mp3": frozenset({"mp3"}),
    "aac": frozenset({"aac"}),
    MP4: frozenset({"aac", "mp3"}),
    "ogg": frozenset({"opus"}),
    "flac": frozenset({"flac"}),
    "wav": frozenset({"pcm_s16le", "pcm_u8"}),
}


# Pictures every browser shows as they are; any other picture ffmpeg decodes (TIFF, PSD, PNM,
# JPEG XL, HEIC...) is served as a PNG made from it.
BROWSER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
                            "image/vnd.microsoft.icon", "image/avif"})


class Method(enum.StrEnum):
    ORIGINAL = "original"
    REMUX = "remux"
    AUDIO = "audio"
    TRANSCODE = "transcode"


@dataclass(frozen=True)
class Plan:
    """How to make what browsers play. `mime_type` is what it is served as; `reason` says why
    the original would not do (for the log), "" when it does."""

    method: Method
    mime_type: str
    reason: str = ""

    @property
    def is_picture(self) -> bool:
        return self.mime_type.startswith("image/")

    @property
    def copies_video(self) -> bool:
        return self.method in (Method.REMUX, Method.AUDIO)


def video_problem(info: MediaInfo) -> str:
    """Why the video stream will not play everywhere as it is, or ""."""
    if info.video_codec != "h264":
        return f"{info.video_codec or 'unknown'} video"
    if info.pix_fmt not in PLAYABLE_PIXEL_FORMATS:
        return f"H.264 in {info.pix_fmt or 'an unknown pixel format'}"
    if info.video_profile not in PLAYABLE_H264_PROFILES:
        return f"H.264 {info.video_profile or 'of an unknown profile'}"
    if info.level is not None and info.level > MAX_H264_LEVEL:
        return f"H.264 level {info.level / 10:g}"
    if info.is_hdr:
        return f"HDR ({info.color_transfer})"
    if info.is_interlaced:
        return "interlaced video"
    return ""


def audio_problem(info: MediaInfo, playable: frozenset[str] = PLAYABLE_AUDIO_IN_MP4) -> str:
    """Why the audio stream will not play everywhere as it is, or "" (also for no audio)."""
    if not info.audio_codec:
        return ""
    if info.audio_codec not in playable:
        return f"{info.audio_codec} audio"
    if info.audio_codec == "aac" and info.audio_profile not in PLAYABLE_AAC_PROFILES:
        return f"AAC {info.audio_profile}"
    if info.audio_channels is not None and info.audio_channels > MAX_PLAYABLE_CHANNELS:
        return f"{info.audio_channels}-channel audio"
    return ""


def plan(mime: str, info: MediaInfo, index_first: bool) -> Plan:
    """The cheapest way to something every browser plays. `index_first`: for an MP4, whether
    its `moov` comes before its media data (else playback would wait for the whole file)."""
    if mime.startswith("image/"):
        if mime in BROWSER_IMAGES:
            return Plan(Method.ORIGINAL, mime)
        return Plan(Method.TRANSCODE, "image/png", f"{mime} picture")
    if not info.has_video:
        return _plan_sound(mime, info, index_first)
    video, audio = video_problem(info), audio_problem(info)
    if video:
        return Plan(Method.TRANSCODE, "video/mp4", video)
    if audio:
        return Plan(Method.AUDIO, "video/mp4", audio)
    if mime == "video/mp4" and info.format_name == MP4 and index_first:
        return Plan(Method.ORIGINAL, mime)
    container = "an MP4 with its index at the end" if mime == "video/mp4" else mime
    return Plan(Method.REMUX, "video/mp4", container)


def may_remux(mime: str, index_first: bool) -> bool:
    """Could `plan` choose a remux for a file libmagic calls `mime`, depending on what ffprobe
    finds? (The pipeline starts that remux while the probe runs: RemuxAhead.) False where
    it never would: pictures, an index-first MP4, sound outside an MP4."""
    if mime.startswith("video/"):
        return not (mime == "video/mp4" and index_first)
    return mime == "audio/mp4" and not index_first


def _plan_sound(mime: str, info: MediaInfo, index_first: bool) -> Plan:
    playable = PLAYABLE_AUDIO_FILES.get(info.format_name, frozenset())
    problem = audio_problem(info, playable) or ("" if playable else f"{mime} audio")
    if problem:
        return Plan(Method.AUDIO, "audio/mp4", problem)
    if info.format_name == MP4 and not index_first:
        return Plan(Method.REMUX, "audio/mp4", "an MP4 with its index at the end")
    return Plan(Method.ORIGINAL, mime)
