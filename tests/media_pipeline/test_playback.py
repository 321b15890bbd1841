"""What browsers are given: the cheapest of original, remux, audio and transcode."""

from __future__ import annotations

from dataclasses import replace

import pytest

from media_pipeline.analysis import MediaInfo
from media_pipeline.playback import MP4, Method, plan

H264_AAC = MediaInfo(MP4, 10.0, 1920, 1080, "h264", "aac", video_profile="High",
                     pix_fmt="yuv420p", level=40, field_order="progressive", frame_rate=30.0,
                     audio_profile="LC", audio_channels=2, audio_sample_rate=48000)
SOUND = MediaInfo("mp3", 10.0, None, None, "", "mp3", audio_channels=2, audio_sample_rate=44100)


def video(**changes: object) -> MediaInfo:
    return replace(H264_AAC, **changes)


def sound(**changes: object) -> MediaInfo:
    return replace(SOUND, **changes)


@pytest.mark.parametrize(("mime", "info", "index_first", "method", "served_as"), [
    # Plays everywhere as it is.
    ("video/mp4", video(), True, Method.ORIGINAL, "video/mp4"),
    ("video/mp4", video(audio_codec="mp3", audio_profile=""), True, Method.ORIGINAL, "video/mp4"),
    ("video/mp4", video(audio_codec="", audio_channels=None), True, Method.ORIGINAL, "video/mp4"),
    ("video/mp4", video(video_profile="Constrained Baseline", level=31), True, Method.ORIGINAL,
     "video/mp4"),
    ("video/mp4", video(rotation=90), True, Method.ORIGINAL, "video/mp4"),  # browsers rotate it
    # The streams are right, the container is not.
    ("video/mp4", video(), False, Method.REMUX, "video/mp4"),
    ("video/quicktime", video(), True, Method.REMUX, "video/mp4"),
    ("video/x-matroska", video(format_name="matroska,webm"), True, Method.REMUX, "video/mp4"),
    ("video/mp2t", video(format_name="mpegts"), True, Method.REMUX, "video/mp4"),
    # The picture is right, the sound is not.
    ("video/x-matroska", video(format_name="matroska,webm", audio_codec="ac3", audio_profile=""),
     True, Method.AUDIO, "video/mp4"),
    ("video/quicktime", video(audio_codec="pcm_s16le", audio_profile=""), True, Method.AUDIO,
     "video/mp4"),
    ("video/mp4", video(audio_channels=6), True, Method.AUDIO, "video/mp4"),
    ("video/mp4", video(audio_profile="HE-AAC"), True, Method.AUDIO, "video/mp4"),
    ("video/x-matroska", video(format_name="matroska,webm", audio_codec="dts", audio_profile=""),
     True, Method.AUDIO, "video/mp4"),
    # The picture is not: a full transcode.
    ("video/quicktime", video(video_codec="hevc", video_profile="Main"), True, Method.TRANSCODE,
     "video/mp4"),
    ("video/mp4", video(pix_fmt="yuv420p10le", video_profile="High 10"), True,
     Method.TRANSCODE, "video/mp4"),
    ("video/mp4", video(video_profile="High 4:2:2", pix_fmt="yuv422p"), True, Method.TRANSCODE,
     "video/mp4"),
    ("video/mp4", video(level=52), True, Method.TRANSCODE, "video/mp4"),
    ("video/mp4", video(color_transfer="smpte2084"), True, Method.TRANSCODE, "video/mp4"),
    ("video/mp4", video(color_transfer="arib-std-b67"), True, Method.TRANSCODE, "video/mp4"),
    ("video/mp2t", video(format_name="mpegts", field_order="tt"), True, Method.TRANSCODE,
     "video/mp4"),
    ("video/webm", video(format_name="matroska,webm", video_codec="vp9", audio_codec="opus"),
     True, Method.TRANSCODE, "video/mp4"),
    ("video/x-msvideo", video(format_name="avi", video_codec="mpeg4"), True, Method.TRANSCODE,
     "video/mp4"),
    ("video/quicktime", video(video_codec="prores", audio_codec="pcm_s16le"), True,
     Method.TRANSCODE, "video/mp4"),
    # Sound alone.
    ("audio/mpeg", sound(), True, Method.ORIGINAL, "audio/mpeg"),
    ("audio/flac", sound(format_name="flac", audio_codec="flac"), True, Method.ORIGINAL,
     "audio/flac"),
    ("audio/ogg", sound(format_name="ogg", audio_codec="opus"), True, Method.ORIGINAL,
     "audio/ogg"),
    ("audio/wav", sound(format_name="wav", audio_codec="pcm_s16le"), True, Method.ORIGINAL,
     "audio/wav"),
    ("audio/mp4", sound(format_name=MP4, audio_codec="aac", audio_profile="LC"), True,
     Method.ORIGINAL, "audio/mp4"),
    ("audio/mp4", sound(format_name=MP4, audio_codec="aac", audio_profile="LC"), False,
     Method.REMUX, "audio/mp4"),
    ("audio/mp4", sound(format_name=MP4, audio_codec="alac"), True, Method.AUDIO, "audio/mp4"),
    ("audio/x-ms-wma", sound(format_name="asf", audio_codec="wmav2"), True, Method.AUDIO,
     "audio/mp4"),
    ("audio/amr", sound(format_name="amr", audio_codec="amr_nb", audio_channels=1), True,
     Method.AUDIO, "audio/mp4"),
    ("audio/x-aiff", sound(format_name="aiff", audio_codec="pcm_s16be"), True, Method.AUDIO,
     "audio/mp4"),
    ("audio/ogg", sound(format_name="ogg", audio_codec="vorbis"), True, Method.AUDIO,
     "audio/mp4"),
    ("audio/flac", sound(format_name="flac", audio_codec="flac", audio_channels=6), True,
     Method.AUDIO, "audio/mp4"),
    # Pictures browsers show are shown as they are; the others become a PNG.
    ("image/png", MediaInfo("png_pipe", None, 64, 48, "png", ""), True, Method.ORIGINAL,
     "image/png"),
    ("image/bmp", MediaInfo("bmp_pipe", None, 64, 48, "bmp", ""), True, Method.ORIGINAL,
     "image/bmp"),
    ("image/tiff", MediaInfo("tiff_pipe", None, 64, 48, "tiff", ""), True, Method.TRANSCODE,
     "image/png"),
    ("image/vnd.adobe.photoshop", MediaInfo("psd_pipe", None, 64, 48, "psd", ""), True,
     Method.TRANSCODE, "image/png"),
    # Sound in the containers only ffmpeg reads.
    ("audio/x-wavpack", sound(format_name="wv", audio_codec="wavpack"), True, Method.AUDIO,
     "audio/mp4"),
    ("audio/x-caf", sound(format_name="caf", audio_codec="pcm_s16le"), True, Method.AUDIO,
     "audio/mp4"),
    ("video/x-dv", video(format_name="dv", video_codec="dvvideo", audio_codec="pcm_s16le"), True,
     Method.TRANSCODE, "video/mp4"),
])
def test_the_cheapest_playable_form_is_chosen(mime: str, info: MediaInfo, index_first: bool,
                                              method: Method, served_as: str) -> None:
    chosen = plan(mime, info, index_first)
    assert (chosen.method, chosen.mime_type) == (method, served_as)
    assert bool(chosen.reason) is (method is not Method.ORIGINAL)


@pytest.mark.parametrize(("info", "index_first", "copies"), [
    (video(), False, True),  # remux
    (video(audio_channels=6), True, True),  # audio
    (video(video_codec="hevc"), True, False),  # transcode
    (video(), True, False),  # original: nothing is made
])
def test_remux_and_audio_copy_the_video_and_nothing_else_does(info: MediaInfo, index_first: bool,
                                                              copies: bool) -> None:
    assert plan("video/mp4", info, index_first).copies_video is copies
