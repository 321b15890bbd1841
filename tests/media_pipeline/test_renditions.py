"""The ffmpeg arguments each playback method runs with."""

from __future__ import annotations

from dataclasses import replace

import pytest

from media_pipeline.analysis import MediaInfo
from media_pipeline.playback import MP4, Method, Plan
from media_pipeline.renditions import output_args, playback_codecs

HEVC = MediaInfo(MP4, 10.0, 3840, 2160, "hevc", "aac", video_profile="Main", pix_fmt="yuv420p",
                 field_order="progressive", frame_rate=29.97, audio_profile="LC",
                 audio_channels=2)
TRANSCODE = Plan(Method.TRANSCODE, "video/mp4", "hevc video")


def test_a_remux_copies_the_first_video_and_audio_into_a_faststart_mp4() -> None:
    args = output_args(Plan(Method.REMUX, "video/mp4", "mov"), HEVC)
    assert args[args.index("-c") + 1] == "copy"
    assert args[:4] == ["-map", "0:V:0?", "-map", "0:a:0?"] and "+faststart" in args


@pytest.mark.parametrize(("info", "video"), [(HEVC, ["-c:v", "copy"]),
                                             (replace(HEVC, video_codec=""), ["-vn"])])
def test_new_sound_keeps_the_picture_and_encodes_aac_stereo(info: MediaInfo,
                                                            video: list[str]) -> None:
    args = output_args(Plan(Method.AUDIO, "video/mp4", "ac3 audio"), info)
    assert " ".join(video) in " ".join(args)
    assert " ".join(["-c:a", "aac", "-b:a", "160k", "-ac", "2", "-ar", "48000"]) in " ".join(args)


def test_a_transcode_is_h264_high_8_bit_with_a_two_second_gop() -> None:
    args = output_args(TRANSCODE, HEVC)
    assert args[args.index("-c:v") + 1] == "libx264"
    assert args[args.index("-profile:v") + 1] == "high"
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-g") + 1] == "60" and args[args.index("-keyint_min") + 1] == "60"


def test_a_transcode_is_at_most_1080_on_the_shorter_side() -> None:
    filters = output_args(TRANSCODE, HEVC)[output_args(TRANSCODE, HEVC).index("-vf") + 1]
    assert "min(1080,ih)" in filters and "min(1080,iw)" in filters


@pytest.mark.parametrize(("change", "expected"), [
    ({"field_order": "tt"}, "bwdif"), ({"color_transfer": "smpte2084"}, "tonemap"),
])
def test_interlaced_video_is_deinterlaced_and_hdr_tone_mapped(change: dict, expected: str) -> None:
    info = replace(HEVC, **change)
    args = output_args(TRANSCODE, info)
    assert expected in args[args.index("-vf") + 1]
    assert expected not in output_args(TRANSCODE, HEVC)[output_args(TRANSCODE, HEVC).index("-vf") + 1]


def test_a_silent_video_gets_no_audio_track() -> None:
    assert "-an" in output_args(TRANSCODE, replace(HEVC, audio_codec=""))


@pytest.mark.parametrize(("method", "info", "codecs"), [
    (Method.TRANSCODE, HEVC, ("h264", "aac")),
    (Method.TRANSCODE, replace(HEVC, audio_codec=""), ("h264", "")),
    (Method.AUDIO, replace(HEVC, video_codec="h264", audio_codec="ac3"), ("h264", "aac")),
    (Method.REMUX, replace(HEVC, video_codec="h264"), ("h264", "aac")),
])
def test_the_served_codecs_follow_the_method(method: Method, info: MediaInfo,
                                             codecs: tuple[str, str]) -> None:
    assert playback_codecs(Plan(method, "video/mp4"), info) == codecs


def test_a_picture_browsers_do_not_show_becomes_one_png_frame() -> None:
    tiff = MediaInfo("tiff_pipe", None, 6000, 4000, "tiff", "")
    args = output_args(Plan(Method.TRANSCODE, "image/png", "image/tiff picture"), tiff)
    assert args == ["-map", "0:V:0", "-frames:v", "1", "-c:v", "png", "-f", "image2pipe"]
