"""The pipeline's limits for ffmpeg and ffprobe, read from settings in one place."""

from __future__ import annotations

import os

from django.conf import settings

from media_pipeline.ffmpeg import Limits
from media_pipeline.playback import Method

# A probe prints a few KiB of JSON, a poster is a JPEG of at most 640 px: these caps only bound
# what a hostile file can make them write.
PROBE_OUTPUT_BYTES = 64 * 1024 * 1024
POSTER_OUTPUT_BYTES = 16 * 1024 * 1024


def probe_limits() -> Limits:
    """For ffprobe: its wall-clock time also caps its CPU time (it decodes on one thread)."""
    return Limits(
        wall_seconds=settings.FFPROBE_TIMEOUT_SECONDS,
        cpu_seconds=settings.FFPROBE_TIMEOUT_SECONDS,
        memory_bytes=settings.FFMPEG_MEMORY_BYTES,
        output_bytes=PROBE_OUTPUT_BYTES,
        max_pixels=settings.FFMPEG_MAX_PIXELS,
    )


def ffmpeg_limits(input_size: int) -> Limits:
    """For a stream copy (the faststart remux), which writes about what it reads: its output
    stays within FFMPEG_OUTPUT_RATIO times the input, or FFMPEG_OUTPUT_MIN_BYTES for small ones
    (a hostile sample table would make it write the same bytes thousands of times)."""
    return Limits(
        wall_seconds=settings.FFMPEG_TIMEOUT_SECONDS,
        cpu_seconds=settings.FFMPEG_CPU_SECONDS,
        memory_bytes=settings.FFMPEG_MEMORY_BYTES,
        output_bytes=max(settings.FFMPEG_OUTPUT_MIN_BYTES,
                         int(input_size * settings.FFMPEG_OUTPUT_RATIO)),
        max_pixels=settings.FFMPEG_MAX_PIXELS,
    )


def poster_limits() -> Limits:
    """For the poster frame: one small JPEG, whatever the input's size."""
    return Limits(
        wall_seconds=settings.FFMPEG_TIMEOUT_SECONDS,
        cpu_seconds=settings.FFMPEG_CPU_SECONDS,
        memory_bytes=settings.FFMPEG_MEMORY_BYTES,
        output_bytes=POSTER_OUTPUT_BYTES,
        max_pixels=settings.FFMPEG_MAX_PIXELS,
    )


def transcode_limits(input_size: int, method: Method, duration: float | None) -> Limits:
    """For making a rendition. A stream copy (remux) or a copy with new sound (audio) writes
    about what it reads, and gets the stream-copy cap; a transcode may write more than a
    well-compressed source (FFMPEG_TRANSCODE_OUTPUT_RATIO) and take longer than the usual
    deadline for a long film: FFMPEG_TRANSCODE_SECONDS_PER_SECOND of its duration, on every
    core."""
    if method is not Method.TRANSCODE:
        return ffmpeg_limits(input_size)
    wall = max(settings.FFMPEG_TIMEOUT_SECONDS,
               (duration or 0) * settings.FFMPEG_TRANSCODE_SECONDS_PER_SECOND)
    return Limits(
        wall_seconds=wall,
        cpu_seconds=int(wall * (os.cpu_count() or 1)),
        memory_bytes=settings.FFMPEG_MEMORY_BYTES,
        output_bytes=max(settings.FFMPEG_OUTPUT_MIN_BYTES,
                         int(input_size * settings.FFMPEG_TRANSCODE_OUTPUT_RATIO)),
        max_pixels=settings.FFMPEG_MAX_PIXELS,
    )


def picture_limits(pixels: int) -> Limits:
    """For a picture's PNG: at most 8 bytes a pixel (16-bit RGBA), uncompressed, for the size
    the probe read (itself within FFMPEG_MAX_PIXELS)."""
    return Limits(
        wall_seconds=settings.FFMPEG_TIMEOUT_SECONDS,
        cpu_seconds=settings.FFMPEG_CPU_SECONDS,
        memory_bytes=settings.FFMPEG_MEMORY_BYTES,
        output_bytes=max(settings.FFMPEG_OUTPUT_MIN_BYTES, 8 * pixels + 1024 * 1024),
        max_pixels=settings.FFMPEG_MAX_PIXELS,
    )
