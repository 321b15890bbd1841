"""Make the rendition a playback plan asks for (media_pipeline/playback.py), in the ffmpeg box.

Each method is one ffmpeg run from the worker-local original to a faststart MP4 in the task's
scratch directory: its arguments are built here, from the plan and what ffprobe read, and
nothing in them comes from the upload but numbers ffprobe parsed.
"""

from __future__ import annotations

import threading
from pathlib import Path

from media_pipeline.analysis import MediaInfo
from media_pipeline.conf import picture_limits, transcode_limits
from media_pipeline.ffmpeg import InputFormat, run
from media_pipeline.playback import Method, Plan
from media_pipeline.progress import Progress

# AAC-LC stereo at 48 kHz: what every browser decodes; 160 kb/s is transparent for most
# material (PeerTube and MediaCMS both use ffmpeg's native aac encoder in this range).
AUDIO = ["-c:a", "aac", "-b:a", "160k", "-ac", "2", "-ar", "48000"]
# Index first, so playback starts before the whole file has arrived.
MP4_OUT = ["-movflags", "+faststart", "-f", "mp4"]
# The first video stream (cover art and data streams aside) and the first audio stream, if any:
# MP4 cannot carry every stream another container may hold (subtitles, timecode, data).
FIRST_STREAMS = ["-map", "0:V:0?", "-map", "0:a:0?", "-sn", "-dn"]
# A stream copy needs nothing ffprobe read: it can start before the probe ends (`remux`).
REMUX = [*FIRST_STREAMS, "-c", "copy", *MP4_OUT]
MAX_HEIGHT = 1080  # of the shorter side, as displayed


def video_args(info: MediaInfo) -> list[str]:
    """H.264 High 8-bit 4:2:0 (issue #12): at most 1080p, a keyframe every 2 s, deinterlaced
    and tone-mapped to SDR where the source needs it. ffmpeg applies the display rotation
    before the filters (its default), so the picture is upright and sized as displayed."""
    filters = []
    if info.is_interlaced:
        filters.append("bwdif=mode=send_frame")
    if info.is_hdr:
        filters.append(HDR_TO_SDR)
    shorter = MAX_HEIGHT
    filters.append(f"scale=w='if(gte(iw,ih),-2,min({shorter},iw))'"
                   f":h='if(gte(iw,ih),min({shorter},ih),-2)'")
    filters.append("format=yuv420p")
    fps = info.frame_rate or 30.0
    gop = max(1, round(2 * fps))
    return ["-c:v", "libx264", *X264, "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-vf", ",".join(filters), "-g", str(gop), "-keyint_min", str(gop),
            "-sc_threshold", "0"]


# PeerTube's preset (FIELD_NOTES) at x264's default quality, with subpixel motion refinement
# at its cheapest (subme=1, veryfast's is 2). On grainy 1080p30 HEVC (`make bench-transcode`'s
# source, 20 s of it, A/B in turn on this project's 2-core machine) subme=1 took 0.79x the CPU
# of plain veryfast, with SSIM 0.9836 against 0.9830 and a 16% larger file; at CRF 24 it made
# the same size as veryfast at 23 (SSIM 0.9823). `superfast` was as fast but, without x264's
# macroblock tree, made a file three times the size; `faster` took 1.4x veryfast's time on
# an earlier clip.
# The 60 s clip: veryfast 34 s (0.57x its duration) on a fast day of the machine, 70 s on a
# slow one; with subme=1 52-56 s on the slow one. Decoding the HEVC is a third of the CPU.
# CRF rather than a bitrate: a talking head gets a small file and a football match the bits
# it needs.
X264 = ["-preset", "veryfast", "-x264-params", "subme=1", "-crf", "23"]
HDR_TO_SDR = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
              "tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv")


def output_args(plan: Plan, info: MediaInfo) -> list[str]:
    """ffmpeg's arguments after the input, for the plan's method."""
    if plan.method is Method.REMUX:
        return REMUX
    if plan.method is Method.AUDIO:
        video = ["-c:v", "copy"] if info.has_video else ["-vn"]
        return [*FIRST_STREAMS, *video, *AUDIO, *MP4_OUT]
    if plan.method is Method.TRANSCODE and plan.is_picture:
        # The first picture, at its own size, losslessly; ffmpeg picks the PNG pixel format
        # nearest the source's (alpha and 16-bit depth kept).
        return ["-map", "0:V:0", "-frames:v", "1", "-c:v", "png", "-f", "image2pipe"]
    if plan.method is Method.TRANSCODE:
        audio = AUDIO if info.audio_codec else ["-an"]
        return [*FIRST_STREAMS, *video_args(info), *audio, *MP4_OUT]
    raise ValueError(f"{plan.method} makes no rendition")


STEP_NAMES = {
    Method.REMUX: "Preparing the video for streaming",
    Method.AUDIO: "Converting the sound for browsers",
    Method.TRANSCODE: "Converting the video for browsers",
}


def make(plan: Plan, source: Path, fmt: InputFormat, info: MediaInfo, target: Path,
         source_size: int, progress: Progress) -> None:
    """Write the plan's rendition of `source` to `target` (raises `ToolFailed` with a sentence),
    reporting how far it has got to `progress`."""
    progress.start(target.with_suffix(".progress"), info.duration)
    if plan.method is Method.REMUX:
        remux(source, fmt, target, source_size, progress.path)
        return
    if plan.is_picture:
        limits = picture_limits((info.width or 0) * (info.height or 0))
        what = "Converting the picture for browsers"
    else:
        limits = transcode_limits(source_size, plan.method, info.duration)
        what = STEP_NAMES[plan.method]
    run("ffmpeg", source, fmt, limits=limits, what=what,
        outputs=[*output_args(plan, info), "-y", f"file:{target}"],
        output=target, scratch=target.parent, progress=progress.path)


def remux(source: Path, fmt: InputFormat, target: Path, source_size: int,
          progress: Path | None, cancel: threading.Event | None = None) -> None:
    """The remux's one ffmpeg run. Its arguments and limits depend on the input's demuxer and
    size only, never on what ffprobe read, which is what lets the pipeline start it before
    the probe has finished (processing.RemuxAhead); `cancel` kills it (`CancelledError`)."""
    run("ffmpeg", source, fmt, limits=transcode_limits(source_size, Method.REMUX, None),
        what=STEP_NAMES[Method.REMUX], outputs=[*REMUX, "-y", f"file:{target}"],
        output=target, scratch=target.parent, progress=progress, cancel=cancel)


def playback_codecs(plan: Plan, info: MediaInfo) -> tuple[str, str]:
    """The (video, audio) codecs of what the plan serves."""
    if plan.method is Method.TRANSCODE:
        return ("h264" if info.has_video else ""), ("aac" if info.audio_codec else "")
    if plan.method is Method.AUDIO:
        return info.video_codec, "aac"
    return info.video_codec, info.audio_codec

