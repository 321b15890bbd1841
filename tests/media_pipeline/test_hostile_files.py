"""The hostile-file generators build what they claim: pure checks on bytes, no ffmpeg run.

What each file does to ffmpeg is checked by the integration tests through the worker; these only
pin the properties that attack depends on, so a generator that drifts fails here first.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from pathlib import Path

import magic
import pytest

from tests.media_pipeline import hostile

SNIFF = 64 * 1024
SECRET = "/srv/elsewhere/secret.mp4"
URL = "http://127.0.0.1:9/probe.mp4"


def sniff(path: Path) -> str:
    with open(path, "rb") as f:
        return magic.from_buffer(f.read(SNIFF), mime=True)


def text_after_disguise(path: Path) -> str:
    """What ffmpeg probes and parses: everything after the ID3 header and its 'footer'."""
    return path.read_bytes()[20:].decode()


def stco_offsets(data: bytes) -> list[int]:
    stco = hostile.find_box(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")
    (count,) = struct.unpack_from(">I", stco, 4)
    return list(struct.unpack_from(f">{count}I", stco, 8))


@pytest.fixture(scope="module")
def amplifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.make_sample_table_amplifier(tmp_path_factory.mktemp("amplifier"))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.make_png_bomb(tmp_path_factory.mktemp("bomb"))


# --- the disguise ----------------------------------------------------------------------------

DISGUISED: dict[str, Callable[[Path], Path]] = {
    **{name: (lambda d, make=make: make(d, SECRET)) for name, make in
       hostile.TARGETED_POLYGLOTS.items()},
    "sdp": lambda d: hostile.make_sdp_polyglot(d, 5004),
    "imf": hostile.make_imf_polyglot,
    "stall": hostile.make_live_hls_stall,
}


@pytest.mark.parametrize("name", sorted(DISGUISED))
def test_every_reference_polyglot_sniffs_as_quicktime(tmp_path: Path, name: str) -> None:
    assert sniff(DISGUISED[name](tmp_path)) == "video/quicktime"


@pytest.mark.parametrize("name", ["dash", "hls", "hls-map", "concat"])
def test_octet_stream_disguise_sniffs_as_unknown_bytes(tmp_path: Path, name: str) -> None:
    path = hostile.TARGETED_POLYGLOTS[name](tmp_path, SECRET, "octet-stream")
    assert sniff(path) == "application/octet-stream"


def test_undisguised_reference_files_sniff_as_text(tmp_path: Path) -> None:
    assert sniff(hostile.make_hls_polyglot(tmp_path, SECRET, "none")) == "text/plain"


def test_disguise_is_an_empty_id3v24_tag_with_the_footer_flag(tmp_path: Path) -> None:
    data = hostile.make_hls_polyglot(tmp_path, SECRET).read_bytes()

    assert data[:3] == b"ID3" and data[3] == 4
    assert data[5] & 0x10  # footer present: ffmpeg skips 10 more bytes than libmagic
    assert data[6:10] == b"\0\0\0\0"  # syncsafe size 0
    assert data[14:18] == b"moov"  # what libmagic sees at offset 4 of the tagged content


def test_ffmpeg_sees_the_playlist_right_after_the_disguise(tmp_path: Path) -> None:
    path = hostile.make_hls_polyglot(tmp_path, SECRET)
    assert text_after_disguise(path).startswith("#EXTM3U\n")


# --- each reference format names its target ------------------------------------------------


def test_dash_polyglot_opens_the_target_as_its_base_url(tmp_path: Path) -> None:
    root = ET.fromstring(text_after_disguise(hostile.make_dash_polyglot(tmp_path, URL)))
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}

    assert root.tag == "{urn:mpeg:dash:schema:mpd:2011}MPD"
    assert hostile.DASH_PROFILE in root.get("profiles", "")
    assert [e.text for e in root.iterfind(".//d:BaseURL", ns)] == [URL]


def test_dash_xml_polyglot_is_plain_xml_with_moov_at_offset_4(tmp_path: Path) -> None:
    data = hostile.make_dash_xml_polyglot(tmp_path, SECRET).read_bytes()

    assert data[4:8] == b"moov" and not data.startswith(b"ID3")
    assert ET.fromstring(data).tag.endswith("MPD")


def test_dash_xml_polyglot_carries_mov_probes_mpeg_ps_marker_at_an_even_offset(
        tmp_path: Path) -> None:
    for target in (SECRET, SECRET.replace("secret", "secret1")):  # both parities of length
        data = hostile.make_dash_xml_polyglot(tmp_path, target).read_bytes()
        at = data.index(b"hdlr")
        assert at % 2 == 0 and data[at + 8:at + 16] == b"mhlrMPEG"


def playlist_lines(path: Path) -> list[str]:
    return text_after_disguise(path).splitlines()


def test_hls_polyglot_lists_the_target_as_its_segment(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_hls_polyglot(tmp_path, URL))

    assert any(line.startswith("#EXT-X-TARGETDURATION:") for line in lines)
    assert [line for line in lines if not line.startswith("#")] == [URL]
    assert lines[-1] == "#EXT-X-ENDLIST"


def test_hls_map_polyglot_names_the_target_as_its_init_section(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_hls_map_polyglot(tmp_path, URL))
    assert f'#EXT-X-MAP:URI="{URL}"' in lines


def test_hls_key_polyglot_names_the_target_as_its_key(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_hls_key_polyglot(tmp_path, URL))
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{URL}"' in lines


def test_hls_variant_polyglot_is_a_master_playlist_pointing_at_the_target(
        tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_hls_variant_polyglot(tmp_path, URL))
    assert lines == ["#EXTM3U", "#EXT-X-STREAM-INF:BANDWIDTH=100000", URL]


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/probe", "/srv/secret.txt",
                                    'http://127.0.0.1:9/a".mp4'])
def test_targets_ffmpeg_would_skip_or_that_need_escaping_are_refused(
        tmp_path: Path, target: str) -> None:
    with pytest.raises(ValueError, match="target"):
        hostile.make_hls_polyglot(tmp_path, target)


def test_concat_polyglot_lists_the_target_as_its_file(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_concat_polyglot(tmp_path, SECRET))
    assert lines == ["ffconcat version 1.0", f"file '{SECRET}'"]


def test_sdp_polyglot_describes_rtp_on_the_given_port(tmp_path: Path) -> None:
    lines = text_after_disguise(hostile.make_sdp_polyglot(tmp_path, 5004)).split("\r\n")

    assert "c=IN IP4 127.0.0.1" in lines
    assert "m=video 5004 RTP/AVP 96" in lines


def test_imf_polyglot_has_what_imf_probe_looks_for(tmp_path: Path) -> None:
    text = text_after_disguise(hostile.make_imf_polyglot(tmp_path))
    assert "<CompositionPlaylist" in text and "<ContentTitle>" in text
    assert ET.fromstring(text.split("\n", 1)[1]).tag.endswith("CompositionPlaylist")


# --- the amplifier -------------------------------------------------------------------------


def test_amplifier_keeps_its_moov_after_its_mdat(amplifier: Path) -> None:
    assert hostile.top_level_types(amplifier.read_bytes()) == [b"ftyp", b"mdat", b"moov"]


def test_amplifier_sniffs_as_mp4(amplifier: Path) -> None:
    assert sniff(amplifier) == "video/mp4"


def test_amplifier_upload_is_about_one_megabyte(amplifier: Path) -> None:
    assert hostile.MIB < amplifier.stat().st_size < 1.1 * hostile.MIB


def test_amplifier_points_every_sample_at_the_same_megabyte(amplifier: Path) -> None:
    data = amplifier.read_bytes()
    mdat = next((start, end) for kind, start, end in hostile.iter_boxes(data) if kind == b"mdat")
    stsz = hostile.find_box(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz")
    sample_size, sample_count = struct.unpack_from(">II", stsz, 4)

    assert (sample_size, sample_count) == (hostile.MIB, 3000)
    assert set(stco_offsets(data)) == {mdat[0]}
    assert mdat[1] - mdat[0] == sample_size
    assert sample_size * sample_count == 3000 * hostile.MIB  # what a stream copy writes


def test_amplifier_sample_is_one_complete_jpeg(amplifier: Path) -> None:
    data = amplifier.read_bytes()
    start, end = next((s, e) for kind, s, e in hostile.iter_boxes(data) if kind == b"mdat")
    sample = data[start:end]

    assert sample[:2] == b"\xff\xd8" and sample[-2:] == b"\xff\xd9"
    assert sample.count(b"\xff\xda") == 1  # one scan


def test_amplifier_declares_mjpeg_through_an_esds(amplifier: Path) -> None:
    stsd = hostile.find_box(amplifier.read_bytes(), b"moov", b"trak", b"mdia", b"minf",
                            b"stbl", b"stsd")
    assert stsd[12:16] == b"mp4v" and b"esds" in stsd
    assert stsd[stsd.index(b"esds") + 4 + 4 + 5 + 2] == 0x6C  # objectTypeIndication: MJPEG


# --- the decompression bomb ------------------------------------------------------------------


def test_bomb_header_declares_16000_by_16000_rgba(bomb: Path) -> None:
    data = bomb.read_bytes()
    assert hostile.png_dimensions(data) == (16000, 16000)
    assert data[24:26] == b"\x08\x06"  # 8 bits per channel, colour type 6 (RGBA)


def test_bomb_is_about_one_megabyte_and_sniffs_as_png(bomb: Path) -> None:
    assert bomb.stat().st_size < 1.1 * hostile.MIB
    assert sniff(bomb) == "image/png"


def test_bomb_inflates_to_a_full_gigabyte_of_rows(bomb: Path) -> None:
    data = bomb.read_bytes()
    (length,) = struct.unpack_from(">I", data, 33)
    assert data[37:41] == b"IDAT"
    inflater = zlib.decompressobj()
    pending, total = data[41:41 + length], 0
    while pending:
        chunk = inflater.decompress(pending, 64 * hostile.MIB)
        assert not chunk.strip(b"\0")
        total += len(chunk)
        pending = inflater.unconsumed_tail
    assert inflater.eof and total == 16000 * (1 + 4 * 16000)


# --- the input that never ends -----------------------------------------------------------------


def test_stall_is_a_live_playlist_whose_segment_lasts_a_day(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_live_hls_stall(tmp_path))

    assert "#EXT-X-ENDLIST" not in lines
    assert f"#EXT-X-TARGETDURATION:{hostile.STALL_SECONDS}" in lines
    assert f"#EXTINF:{hostile.STALL_SECONDS}.0," in lines


def test_stall_names_no_file_and_no_host(tmp_path: Path) -> None:
    lines = playlist_lines(hostile.make_live_hls_stall(tmp_path))
    assert [line for line in lines if not line.startswith("#")] == ["data:,x.ts"]


# --- external data references ----------------------------------------------------------------


def test_dref_file_aliases_the_secret_by_absolute_path(tmp_path: Path, amplifier: Path) -> None:
    data = hostile.make_mov_dref(tmp_path, amplifier).read_bytes()
    dref = hostile.find_box(data, b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref")

    assert dref[12:16] == b"alis" and b"url " not in dref
    assert str(amplifier).encode() in dref


def test_dref_file_keeps_the_secrets_sample_table_and_no_media(tmp_path: Path,
                                                                amplifier: Path) -> None:
    data = hostile.make_mov_dref(tmp_path, amplifier).read_bytes()

    assert hostile.top_level_types(data) == [b"ftyp", b"moov", b"mdat"]
    assert hostile.find_box(data, b"mdat") == b""
    assert stco_offsets(data) == stco_offsets(amplifier.read_bytes())
    assert sniff(tmp_path / "dref.mp4") == "video/mp4"


# --- spoofed files ---------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "name", "mime"), [
    (hostile.make_html_as_video, "clip.mp4", "text/html"),
    (hostile.make_svg_as_image, "image.png", "image/svg+xml"),
    (hostile.make_zeros, "zeros.mp4", "application/octet-stream"),
])
def test_spoofed_file_has_a_media_name_and_other_content(
        tmp_path: Path, make: Callable[[Path], Path], name: str, mime: str) -> None:
    path = make(tmp_path)
    assert path.name == name and sniff(path) == mime


def test_truncated_mp4_is_a_prefix_without_the_index(tmp_path: Path, amplifier: Path) -> None:
    data = hostile.make_truncated_mp4(tmp_path, amplifier).read_bytes()

    assert amplifier.read_bytes().startswith(data) and len(data) < amplifier.stat().st_size
    assert b"moov" not in data
