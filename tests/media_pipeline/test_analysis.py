"""The pure analysis steps: MIME sniffing, ffprobe parsing, MP4 box order."""

from __future__ import annotations

import json
import struct

import pytest

from media_pipeline.analysis import (
    PROBE_DEMUXERS,
    SNIFF_BYTES,
    MediaInfo,
    Unacceptable,
    accepted,
    moov_after_mdat,
    parse_ffprobe,
    refine_mime,
    sniff_mime,
)


def box(kind: bytes, payload_size: int) -> bytes:
    return struct.pack(">I4s", 8 + payload_size, kind) + b"\0" * payload_size


def reader(data: bytes):
    return lambda offset, length: data[offset:offset + length]


@pytest.mark.parametrize(("boxes", "late"), [
    ([b"ftyp", b"mdat", b"moov"], True),
    ([b"ftyp", b"moov", b"mdat"], False),
    ([b"ftyp", b"free", b"moov", b"mdat"], False),
    ([b"ftyp", b"mdat"], False),
])
def test_moov_position_is_read_from_top_level_boxes(boxes: list[bytes], late: bool) -> None:
    data = b"".join(box(kind, 100) for kind in boxes)
    assert moov_after_mdat(reader(data), len(data)) is late


def test_moov_walk_handles_64_bit_box_sizes() -> None:
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 50) + b"\0" * 50
    data = box(b"ftyp", 8) + mdat + box(b"moov", 8)
    assert moov_after_mdat(reader(data), len(data)) is True


@pytest.mark.parametrize("data", [b"", b"\0\0\0\0mdat", struct.pack(">I4s", 3, b"ftyp") + b"x" * 40])
def test_moov_walk_stops_on_corrupt_boxes(data: bytes) -> None:
    assert moov_after_mdat(reader(data), len(data)) is False


def test_a_type_outside_the_allow_list_never_reaches_ffprobe(tmp_path, monkeypatch) -> None:
    from media_pipeline import analysis
    from media_pipeline.processing import WorkingCopy, describe

    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file libmagic names as not media must not reach ffprobe")

    monkeypatch.setattr(analysis, "probe", no_probe)
    page = tmp_path / "page.mp4"
    page.write_bytes(b"<!DOCTYPE html><html><body>" + b"x" * SNIFF_BYTES)
    with pytest.raises(Unacceptable, match="text/html"):
        describe(WorkingCopy(page, page.stat().st_size, ""))


@pytest.mark.parametrize(("mime", "allowed", "taken"), [
    ("video/x-nut", ["video/*", "audio/*", "image/*"], True),
    ("image/tiff", ["video/*", "audio/*", "image/*"], True),
    ("audio/x-wavpack", ["audio/*"], True),
    ("video/mp4", ["video/mp4", "video/quicktime"], True),
    ("video/x-msvideo", ["video/mp4", "video/quicktime"], False),  # an operator who wants less
    ("image/png", ["video/*"], False),
    # Never, whatever the setting says: script, documents, and anything not media.
    ("image/svg+xml", ["video/*", "audio/*", "image/*"], False),
    ("image/svg+xml", ["image/svg+xml"], False),
    ("image/x-eps", ["image/*"], False),
    ("text/html", ["text/html", "text/*"], False),
    ("application/pdf", ["application/pdf"], False),
    ("application/octet-stream", ["application/*"], False),
])
def test_what_is_accepted(mime: str, allowed: list[str], taken: bool) -> None:
    assert accepted(mime, allowed) is taken


@pytest.mark.parametrize("demuxer", ["hls", "dash", "concat", "image2", "tty", "lavfi", "ass",
                                     "srt", "ffmetadata", "svg_pipe", "sdp", "rtsp"])
def test_bytes_libmagic_cannot_name_are_never_probed_as_what_opens_or_renders_more(
        demuxer: str) -> None:
    assert demuxer not in PROBE_DEMUXERS


def test_every_probed_container_has_a_type_of_its_own() -> None:
    from media_pipeline.analysis import FFPROBE_FORMAT_TYPES
    names = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm"}
    for demuxer in PROBE_DEMUXERS:
        assert FFPROBE_FORMAT_TYPES[names.get(demuxer, demuxer)].split("/")[0] in ("video", "audio")


def test_sniffing_normalises_aliases() -> None:
    wav = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
    assert sniff_mime(wav + b"data" + b"\0" * 8) == "audio/wav"


def ffprobe_json(streams: list[dict], fmt: dict | None = None) -> str:
    return json.dumps({"streams": streams, "format": fmt or {}})


@pytest.mark.parametrize(("output", "expected"), [
    (ffprobe_json([{"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240},
                   {"codec_type": "audio", "codec_name": "aac"}],
                  {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "3.000000"}),
     MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 3.0, 320, 240, "h264", "aac")),
    (ffprobe_json([{"codec_type": "audio", "codec_name": "mp3"}], {"format_name": "mp3", "duration": "N/A"}),
     MediaInfo("mp3", None, None, None, "", "mp3")),
    (ffprobe_json([{"codec_type": "video", "codec_name": "h264", "width": "junk", "height": None,
                    "duration": "2.5"}], {"format_name": None}),
     MediaInfo("", 2.5, None, None, "h264", "")),
    (ffprobe_json([{"codec_type": "audio", "codec_name": "mp3"},
                   {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}],
                  {"format_name": "mp3", "duration": "1.0"}),
     MediaInfo("mp3", 1.0, None, None, "", "mp3")),
])
def test_ffprobe_output_is_read_defensively(output: str, expected: MediaInfo) -> None:
    assert parse_ffprobe(output) == expected


@pytest.mark.parametrize("output", ["", "not json", "[]", ffprobe_json([{"codec_type": "data"}])])
def test_ffprobe_output_without_media_streams_is_unacceptable(output: str) -> None:
    with pytest.raises(Unacceptable):
        parse_ffprobe(output)


@pytest.mark.parametrize(("sniffed", "info", "expected"), [
    ("application/octet-stream", MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 1, 2, 2, "h264", "aac"), "video/mp4"),
    ("application/octet-stream", MediaInfo("mp3", 1, None, None, "", "mp3"), "audio/mpeg"),
    ("video/webm", MediaInfo("matroska,webm", 1, None, None, "", "opus"), "audio/webm"),
    ("video/x-matroska", MediaInfo("matroska,webm", 1, 2, 2, "h264", "aac"), "video/x-matroska"),
    ("video/mp4", MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 1, None, None, "", "aac"), "audio/mp4"),
    ("application/octet-stream", MediaInfo("nut", 1, 2, 2, "ffv1", "flac"), "video/x-nut"),
    ("application/octet-stream", MediaInfo("caf", 1, None, None, "", "alac"), "audio/x-caf"),
    ("application/octet-stream", MediaInfo("rm", 1, None, None, "", "cook"),
     "audio/vnd.rn-realaudio"),
    ("audio/x-unknown", MediaInfo("voc", 1, None, None, "", "pcm_u8"), "audio/x-voc"),
    ("application/octet-stream", MediaInfo("tty", 1, 640, 400, "ansi", ""),
     "application/octet-stream"),  # not a media container: stays unknown, and is refused
])
def test_container_types_are_settled_by_what_ffprobe_finds(sniffed: str, info: MediaInfo, expected: str) -> None:
    assert refine_mime(sniffed, info) == expected


@pytest.mark.parametrize(("stream", "rotation", "displayed"), [
    ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 90, (720, 1280)),
    ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}, 270, (720, 1280)),
    ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 180}]}, 180, (1280, 720)),
    ({"tags": {"rotate": "90"}}, 90, (720, 1280)),
    ({"side_data_list": [{"rotation": "nonsense"}]}, 0, (1280, 720)),
    ({}, 0, (1280, 720)),
])
def test_a_phones_display_matrix_gives_the_displayed_size(stream: dict, rotation: int,
                                                          displayed: tuple[int, int]) -> None:
    info = parse_ffprobe(ffprobe_json([{"codec_type": "video", "codec_name": "h264",
                                        "width": 1280, "height": 720, **stream}]))
    assert info.rotation == rotation and info.displayed_size == displayed


def test_stream_details_for_the_playback_decision_are_read() -> None:
    info = parse_ffprobe(ffprobe_json([
        {"codec_type": "video", "codec_name": "hevc", "profile": "Main 10", "level": 153,
         "pix_fmt": "yuv420p10le", "color_transfer": "smpte2084", "field_order": "tt",
         "avg_frame_rate": "30000/1001"},
        {"codec_type": "audio", "codec_name": "aac", "profile": "LC", "channels": 6,
         "sample_rate": "48000"},
    ], {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}))
    assert (info.video_profile, info.level, info.pix_fmt) == ("Main 10", 153, "yuv420p10le")
    assert info.is_hdr and info.is_interlaced and round(info.frame_rate, 3) == 29.97
    assert (info.audio_profile, info.audio_channels, info.audio_sample_rate) == ("LC", 6, 48000)


@pytest.mark.parametrize("rate", ["0/0", "junk", "1/0", None, "100000/1"])
def test_a_nonsense_frame_rate_is_unknown(rate: object) -> None:
    info = parse_ffprobe(ffprobe_json([{"codec_type": "video", "codec_name": "h264",
                                        "avg_frame_rate": rate, "r_frame_rate": rate}]))
    assert info.frame_rate is None
