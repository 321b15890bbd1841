"""What people really upload, made at test time, with ffmpeg or, where it has no encoder, by
hand: phones, cameras, editors, old desktops (issue #12). Each entry names the playback method
the pipeline must choose for it."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from pathlib import Path

PICTURE = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
SURROUND = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2,pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]

AMR_MAGIC = b"#!AMR\n"
AMR_122_HEADER = 0x3C  # F=0, FT=7 (12.2 kbit/s), Q=1 (RFC 4867 §5.3)
AMR_122_OCTETS = 31  # 244 speech bits, the last 4 bits of the last octet padding


def amr_nb(seconds: int = 10) -> bytes:
    """A phone's voice memo in AMR-NB (RFC 4867 §5 storage format), written by hand: Debian's
    ffmpeg decodes AMR-NB but has no encoder for it (no libopencore-amrnb). Any 244 bits are a
    frame its decoder reads, so these are seeded random speech bits: the same file every run,
    sounding like noise, not the tone the rest of the corpus plays."""
    bits = random.Random(4867)
    frames = []
    for _ in range(seconds * 50):  # 20 ms a frame
        speech = bytearray(bits.randbytes(AMR_122_OCTETS))
        speech[-1] &= 0xF0  # padding bits are zero
        frames.append(bytes([AMR_122_HEADER]) + speech)
    return AMR_MAGIC + b"".join(frames)


# name: (ffmpeg arguments or a function returning the bytes, the playback method it needs)
CORPUS: dict[str, tuple[list[str] | Callable[[], bytes], str]] = {
    "phone-hevc.mov": ([*PICTURE, *TONE, "-c:v", "libx265", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-c:a", "aac"], "transcode"),
    "hdr-hevc10.mp4": ([*PICTURE, *TONE, "-c:v", "libx265", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020",
                        "-color_trc", "smpte2084", "-colorspace", "bt2020nc", "-c:a", "aac"],
                       "transcode"),
    "clip-vp9.webm": ([*PICTURE, *TONE, "-c:v", "libvpx-vp9", "-deadline", "realtime",
                       "-cpu-used", "8", "-c:a", "libopus"], "transcode"),
    "clip-av1.mkv": ([*PICTURE, *TONE, "-c:v", "libaom-av1", "-cpu-used", "8", "-c:a",
                      "libopus"], "transcode"),
    "old-desktop.avi": ([*PICTURE, *TONE, "-c:v", "mpeg4", "-c:a", "libmp3lame"], "transcode"),
    "dvd.mpg": ([*PICTURE, *TONE, "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"],
                "transcode"),
    "windows.wmv": ([*PICTURE, *TONE, "-c:v", "wmv2", "-c:a", "wmav2"], "transcode"),
    "flash.flv": ([*PICTURE, *TONE, "-c:v", "flv1", "-c:a", "libmp3lame", "-ar", "44100"],
                  "transcode"),
    "editor-prores.mov": ([*PICTURE, *TONE, "-c:v", "prores_ks", "-c:a", "pcm_s16le"],
                          "transcode"),
    "broadcast.mxf": ([*PICTURE, *TONE, "-c:v", "mpeg2video", "-c:a", "pcm_s16le", "-ar",
                       "48000"], "transcode"),
    "camera-interlaced.mts": ([*PICTURE, *TONE, "-c:v", "mpeg2video", "-flags", "+ilme+ildct",
                               "-top", "1", "-c:a", "mp2", "-f", "mpegts"], "transcode"),
    "movie-ac3.mkv": ([*PICTURE, *TONE, *H264, "-c:a", "ac3"], "audio"),
    "surround.mp4": ([*PICTURE, *SURROUND, *H264, "-c:a", "aac", "-movflags", "+faststart"],
                     "audio"),
    "camera-h264.ts": ([*PICTURE, *TONE, *H264, "-c:a", "aac", "-f", "mpegts"], "remux"),
    "phone.3gp": ([*PICTURE, *TONE, *H264, "-c:a", "aac", "-ar", "44100"], "remux"),
    "portrait.mp4": ([*PICTURE, *TONE, *H264, "-c:a", "aac", "-movflags", "+faststart"],
                     "original"),  # then given a phone's display matrix, below
    "lossless-alac.m4a": ([*TONE, "-c:a", "alac"], "audio"),
    "voice.wma": ([*TONE, "-c:a", "wmav2"], "audio"),
    "studio.aiff": ([*TONE, "-c:a", "pcm_s16be"], "audio"),
    "voice-memo.amr": (amr_nb, "audio"),
    # Containers only ffmpeg reads, some of which libmagic cannot name (NUT, CAF, WavPack are
    # application/octet-stream to it): accepted because ffmpeg decodes them.
    "camcorder.dv": ([*PICTURE, *TONE, "-s", "720x576", "-r", "25", "-pix_fmt", "yuv420p",
                      "-c:v", "dvvideo", "-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2"],
                     "transcode"),
    "archive.nut": ([*PICTURE, *TONE, "-c:v", "ffv1", "-c:a", "flac"], "transcode"),
    "mac.caf": ([*TONE, "-c:a", "pcm_s16le"], "audio"),
    "lossless.wv": ([*TONE, "-c:a", "wavpack"], "audio"),
}


def make_corpus(directory: Path) -> dict[str, Path]:
    """Every CORPUS file in `directory` (about 20 s of ffmpeg on two cores)."""
    def ffmpeg(*arguments: str) -> None:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments],
                       check=True, timeout=120)

    for name, (recipe, _) in CORPUS.items():
        if callable(recipe):
            (directory / name).write_bytes(recipe())
        else:
            ffmpeg(*recipe, "-shortest", str(directory / name))
    # A phone stores portrait video as landscape pixels and a 90° display matrix, which ffmpeg
    # writes from the rotate tag on a stream copy.
    landscape = directory / "portrait.mp4"
    ffmpeg("-i", str(landscape), "-c", "copy", "-metadata:s:v:0", "rotate=90", "-movflags",
           "+faststart", str(directory / "rotated.mp4"))
    (directory / "rotated.mp4").replace(landscape)
    return {name: directory / name for name in CORPUS}
