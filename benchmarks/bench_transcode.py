"""What the pipeline costs beside the ffmpeg command that makes the same output (issue #12).

    make bench-transcode            (.venv/bin/python benchmarks/bench_transcode.py [--rounds 3])

For each playback path, one source made once with ffmpeg and kept under var/bench/transcode/:

- as-is: a 1 GiB H.264/AAC faststart MP4, served as uploaded. Beside `sha256sum` plus `cp` of
  it (the least any pipeline that checksums and stores it can do): target <= 2x.
- remux: 10 minutes of 1080p H.264/AAC in Matroska (900 MiB), copied into a faststart MP4.
- audio: 10 minutes of 1080p H.264 with 5.1 AC-3, the video copied and the sound made AAC
  stereo.
- transcode: 60 s of 1080p30 HEVC, made H.264 + AAC. Also: its wall time over the clip's
  duration (target <= 0.9 on this 2-core machine) and the SSIM of the result against the
  source (ffmpeg's `ssim` filter, target >= 0.95).

The pipeline is `media_pipeline.processing.process`, the function the Celery tasks call, run
in this process on an asset whose upload is already in staging (the broker hop is not timed):
checksum, libmagic, ffprobe, the rendition, the poster and the store, with every ffmpeg run in
its box. The checksum (at a lower priority), ffprobe and a copied video's poster run on the
second core beside ffmpeg, which a worker running two tasks on two cores would not have to
spare: the figures are for one task on an otherwise idle machine. On local disk the store is a
rename. The bare command is the same ffmpeg arguments the box runs (`renditions.output_args`),
without the box. Rounds alternate which goes first; the figure is the median round's ratio
(target <= 1.10), and the seconds the pipeline added. Every file costs the pipeline some fixed
CPU (ffprobe 0.18 and the poster 0.16-0.23 CPU-s on the remux source, libmagic, the
database), and its checksum ~1 CPU-s a GiB: beside the 0.2 s a stream copy of a one-minute
clip takes, the fixed part alone doubles it, so the remux and audio sources are ten minutes
long, where what is measured is what the pipeline adds per byte. Single rounds spread by
about +-0.15 on this machine: give `--rounds 5` or more when comparing. The peak memory of each
ffmpeg run comes from the box's own `ffmpeg-box ... peak_rss=` log line and is compared with
FFMPEG_MEMORY_BYTES.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "var" / "bench" / "transcode"
GIB = 1024**3

CLIP = ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=60"]
SURROUND = ["-f", "lavfi", "-i",
            "sine=frequency=440:duration=60,pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
RECIPES = {
    "remux": ("clip-h264.mkv", [*CLIP, *H264, "-b:v", "12M", "-c:a", "aac", "-shortest"]),
    "audio": ("clip-ac3.mkv", [*CLIP[:4], *SURROUND, *H264, "-b:v", "12M", "-map", "0:v",
                               "-map", "1:a", "-c:a", "ac3", "-shortest"]),
    # Film-like grain over the test pattern, so the encoder has texture to keep (a flat pattern
    # alone flatters both speed and SSIM).
    "transcode": ("clip-hevc.mov", [*CLIP, "-vf", "noise=alls=6:allf=t",
                                    "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                                    "log-level=error", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                                    "-b:v", "8M", "-c:a", "aac", "-shortest"]),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_sources() -> dict[str, Path]:
    SOURCES.mkdir(parents=True, exist_ok=True)
    paths = {}
    for path_name, (file_name, recipe) in RECIPES.items():
        path = SOURCES / file_name
        if not path.exists():
            print(f"making {file_name} (once) ...", flush=True)
            ffmpeg(*recipe, str(path.with_suffix(".part" + path.suffix)))
            path.with_suffix(".part" + path.suffix).rename(path)
        paths[path_name] = path
    for path_name in ("remux", "audio"):  # ten minutes: the minute, ten times by stream copy
        minute = paths[path_name]
        long = minute.with_name(minute.stem + "-10min" + minute.suffix)
        if not long.exists():
            print(f"making {long.name} (once) ...", flush=True)
            part = long.with_suffix(".part" + long.suffix)
            ffmpeg("-stream_loop", "9", "-i", str(minute), "-c", "copy", str(part))
            part.rename(long)
        paths[path_name] = long
    big = SOURCES / "big-h264.mp4"
    if not big.exists():
        # 10 s at 200 Mb/s, looped by stream copy to a little over 1 GiB: seconds, not an encode.
        print("making big-h264.mp4 (once) ...", flush=True)
        piece = SOURCES / "piece.mp4"
        # Level 4.1 written into the stream, as a camera would: x264 would otherwise name the
        # level this bitrate implies (6.1), which browsers need not play, and so a transcode.
        ffmpeg(*CLIP[:4], "-t", "10", *CLIP[4:], "-t", "10", *H264, "-b:v", "200M",
               "-level:v", "4.1", "-c:a", "aac", "-shortest", str(piece))
        loops = max(1, -(-GIB // piece.stat().st_size) - 1)
        ffmpeg("-stream_loop", str(loops), "-i", str(piece), "-c", "copy", "-movflags",
               "+faststart", str(big.with_suffix(".part.mp4")))
        big.with_suffix(".part.mp4").rename(big)
        piece.unlink()
    paths["as-is"] = big
    return paths


class PeakMemory(logging.Handler):
    """Collects the box's `peak_rss=` of every ffmpeg run."""

    def __init__(self) -> None:
        super().__init__()
        self.peaks: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if match := re.search(r"peak_rss=(\d+)MiB", record.getMessage()):
            self.peaks.append(int(match[1]))


def setup_django(workdir: Path) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "project.settings", "VAR_DIR": str(workdir),
        "MEDIA_ROOT": str(workdir / "media"), "MEDIA_STAGING_ROOT": str(workdir / "staging"),
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "MEDIA_STORAGE": "local",
    })
    # Scratch of its own: a worker of another site on this machine sweeps the shared temp
    # dir of scratch directories its own database does not know.
    (workdir / "tmp").mkdir()
    tempfile.tempdir = str(workdir / "tmp")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command
    django.setup()
    call_command("migrate", verbosity=0)


def run_pipeline(source: Path, owner) -> tuple[float, object]:
    """Stage a copy of `source` (not timed) and time the pipeline on it, hand-off included."""
    from media_pipeline import storage
    from media_pipeline.models import MediaAsset
    from media_pipeline.processing import HandOff, process

    asset_id = uuid.uuid4()
    key = storage.staging_key(asset_id)
    staged = storage.staging_path(key)
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staged)
    MediaAsset.objects.create(id=asset_id, owner=owner, filename=source.name, storage="local",
                              staging_key=key)
    os.sync()  # the staged copy's writeback is not the pipeline's
    started = time.perf_counter()
    try:
        asset = process(asset_id)
    except HandOff:
        asset = process(asset_id, transcode=True)
    elapsed = time.perf_counter() - started
    if asset is None or asset.status != MediaAsset.Status.READY:
        raise SystemExit(f"{source.name} did not end ready: {MediaAsset.objects.get(pk=asset_id).error}")
    return elapsed, asset


def bare_command(source: Path, target: Path) -> list[str]:
    """The ffmpeg command the box runs for this source, without the box."""
    from media_pipeline import analysis, playback, renditions
    from media_pipeline.conf import probe_limits

    with open(source, "rb") as f:
        mime = analysis.sniff_mime(f.read(analysis.SNIFF_BYTES))
    info = analysis.probe(source, mime, probe_limits())
    mime = analysis.refine_mime(mime, info)
    plan = playback.plan(mime, info, True)
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(source),
            *renditions.output_args(plan, info), "-y", str(target)]


def timed(command: list[str]) -> float:
    os.sync()  # nor the previous side's
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def ssim(rendition: Path, source: Path) -> float:
    """The rendition against the source, both at the rendition's size, all frames."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(rendition), "-i", str(source),
         "-lavfi", "[1:v][0:v]scale2ref=flags=bicubic[ref][main];[main][ref]ssim",
         "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"All:([\d.]+)", out)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paths", default="as-is,remux,audio,transcode")
    args = parser.parse_args()
    sources = make_sources()
    workdir = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    scratch = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    setup_django(workdir)
    from django.conf import settings
    from django.contrib.auth.models import User

    from media_pipeline import storage
    peaks = PeakMemory()
    logging.getLogger("media_pipeline.ffmpeg").addHandler(peaks)
    logging.getLogger("media_pipeline.ffmpeg").setLevel(logging.INFO)
    owner = User.objects.create_user("bench")
    failures = []
    try:
        for name in args.paths.split(","):
            source = sources[name]
            for _ in range(2):  # the file in the page cache for both sides
                subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)
            if name == "as-is":
                copy = scratch / "copy"
                bare = ["sh", "-c", f'sha256sum "{source}" >/dev/null && cp "{source}" "{copy}"']
                what = "sha256sum + cp"
            else:
                copy = scratch / "bare.mp4"
                bare = bare_command(source, copy)
                what = "bare ffmpeg"
            ratios, pipeline_times, bare_times, asset = [], [], [], None
            _, warm = run_pipeline(source, owner)  # libmagic, the box's first run, the database
            shutil.rmtree(storage.local_path(f"media/{warm.id}"))
            peaks.peaks.clear()
            for round_ in range(args.rounds):
                order = ("pipeline", "bare") if round_ % 2 == 0 else ("bare", "pipeline")
                for side in order:
                    if side == "pipeline":
                        seconds, asset = run_pipeline(source, owner)
                        pipeline_times.append(seconds)
                        if round_ < args.rounds - 1:
                            shutil.rmtree(storage.local_path(f"media/{asset.id}"))
                    else:
                        # The source back in the page cache: the pipeline's staged copy is.
                        subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)
                        bare_times.append(timed(bare))
                        copy.unlink()
                ratios.append(pipeline_times[-1] / bare_times[-1])
            ratio = statistics.median(ratios)
            target = 2.0 if name == "as-is" else 1.10
            added = statistics.median(p - b for p, b in
                                      zip(pipeline_times, bare_times, strict=True))
            print(f"{name:9} {source.name} ({source.stat().st_size / 2**20:.0f} MiB): pipeline "
                  f"{statistics.median(pipeline_times):.2f} s, {what} "
                  f"{statistics.median(bare_times):.2f} s (added {added:+.2f} s), "
                  f"median ratio {ratio:.2f}x "
                  f"(target <= {target:.2f}x; rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
                  f"method {asset.playback_method}; peak ffmpeg RSS {max(peaks.peaks)} MiB "
                  f"(cap {settings.FFMPEG_MEMORY_BYTES // 2**20} MiB)", flush=True)
            if ratio > target:
                failures.append(f"{name} ratio {ratio:.2f}")
            if max(peaks.peaks) * 2**20 >= settings.FFMPEG_MEMORY_BYTES:
                failures.append(f"{name} peak memory")
            if name == "transcode":
                duration = asset.duration or 60.0
                speed = statistics.median(pipeline_times) / duration
                playable = storage.local_path(asset.storage_key)
                quality = ssim(playable, source)
                rate = playable.stat().st_size * 8 / duration / 1e6
                print(f"transcode {duration:.0f} s of 1080p30 HEVC in "
                      f"{statistics.median(pipeline_times):.1f} s: {speed:.2f}x its duration "
                      f"(target <= 0.90x); SSIM {quality:.4f} (target >= 0.95); "
                      f"{rate:.1f} Mb/s", flush=True)
                if speed > 0.9:
                    failures.append(f"transcode speed {speed:.2f}")
                if quality < 0.95:
                    failures.append(f"transcode SSIM {quality:.4f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        raise SystemExit("missed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
