"""What running ffmpeg in its box costs: the same files processed by this tree and by the tree
before the box, each by a real Celery worker, on local disk and on the S3 server, in one run.

    .venv/bin/python benchmarks/box_cost.py [--baseline REF] [--rounds 3]
    (also the last section of `make bench-upload`)

The baseline is a git worktree of REF (default: the commit before the box, where ffprobe read
S3 objects through a presigned URL and nothing was limited). Rounds alternate which tree goes
first; each round ingests the whole corpus through `manage.py ingest` and sums the assets'
processing time (processing_started_at to ready_at, as each worker recorded it). The figure is
the median round of this tree over the median round of the baseline (target ≤ 1.05).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import RedisServer, S3Server  # noqa: E402
from tests.stack import AppStack  # noqa: E402

# The parent of the commit that put ffmpeg in its box.
BEFORE_THE_BOX = "c761eff~1"
MIB = 1024 * 1024


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_corpus(directory: Path) -> list[Path]:
    """Files that both trees handle alike, so the difference is the box: a large MP4 stored as
    it is, an MP4 with its index at the end (remuxed by both), MP3 and PNG. Nothing that the
    later tree would transcode and the earlier one stored as it came (VP8, raw video). Made
    once and kept."""
    directory.mkdir(parents=True, exist_ok=True)
    video = ["-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25:duration=20",
             "-f", "lavfi", "-i", "sine=frequency=440:duration=20"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-shortest"]
    recipes = {
        "large.mp4": ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=40",
                      "-f", "lavfi", "-i", "sine=frequency=440:duration=40", *h264,
                      "-b:v", "50M", "-movflags", "+faststart"],  # about 240 MiB
        "late-index.mp4": [*video, *h264, "-b:v", "8M"],
        "tone.mp3": ["-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-c:a", "libmp3lame"],
        "frame.png": ["-f", "lavfi", "-i", "testsrc=size=1920x1080", "-frames:v", "1"],
    }
    paths = []
    for name, recipe in recipes.items():
        path = directory / name
        if not path.exists():
            ffmpeg(*recipe, str(path))
        paths.append(path)
    return paths


def worktree(ref: str, directory: Path) -> Path:
    """A checkout of `ref` beside this one (git worktree), made once per commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    path = directory / f"tree-{commit}"
    if not (path / "manage.py").exists():
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(path), commit],
                       cwd=ROOT, check=True, capture_output=True)
    return path


def processing_seconds(app: AppStack, asset_ids: list[str]) -> float:
    """The sum of the assets' processing times, from the rows their worker wrote."""
    code = ("import json; from media_pipeline.models import MediaAsset as M\n"
            f"for a in M.objects.filter(pk__in={asset_ids!r}):\n"
            "    print(json.dumps([a.status, a.error, (a.ready_at - a.processing_started_at)"
            ".total_seconds() if a.ready_at else None]))")
    total = 0.0
    rows = [line for line in app.manage("shell", "-c", code).splitlines() if line.startswith("[")]
    for line in rows:  # (Django's shell may say first what it imported)
        status, error, seconds = json.loads(line)
        if status != "ready":
            raise RuntimeError(f"an asset ended {status}: {error}")
        total += seconds
    return total


def one_round(app: AppStack, corpus: list[Path]) -> float:
    out = app.manage("ingest", *map(str, corpus), "--user", "bench", timeout=600)
    asset_ids = [line.split("\t")[0] for line in out.strip().splitlines() if "\t" in line]
    code = ("from media_pipeline.models import MediaAsset as M; "
            f"print(M.objects.filter(pk__in={asset_ids!r}, status__in=['ready', 'failed']).count())")
    deadline = time.monotonic() + 900
    while int(app.manage("shell", "-c", code).strip().splitlines()[-1]) < len(asset_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("the corpus was not processed within 15 minutes")
        time.sleep(0.5)
    return processing_seconds(app, asset_ids)


def compare(backend: str, trees: dict[str, Path], corpus: list[Path], rounds: int,
            redis: RedisServer, s3: S3Server, work: Path) -> dict[str, list[float]]:
    env = s3.env() if backend == "s3" else {"MEDIA_STORAGE": "local"}
    # A Redis database each: workers of one stack must never take the other's tasks.
    base = redis.url.rsplit("/", 1)[0]
    apps = {name: AppStack(work / f"{backend}-{name}", f"{base}/{number + (backend == 's3') * 4}",
                           {**env, "LOG_LEVEL": "WARNING"}, root=tree)
            for number, (name, tree) in enumerate(trees.items(), start=1)}
    seconds: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for app in apps.values():
            app.migrate()
            app.token("bench")  # creates the user
            app.start_worker("bench", concurrency=1)
        names = list(apps)
        for number in range(rounds):
            for name in names if number % 2 == 0 else reversed(names):
                seconds[name].append(one_round(apps[name], corpus))
                print(f"  {backend:5s} {name:6s} round {number + 1}: {seconds[name][-1]:.2f} s",
                      flush=True)
    finally:
        for app in apps.values():
            app.stop()
    return seconds


def measure(work: Path, cache: Path, baseline: str = BEFORE_THE_BOX,
            rounds: int = 3) -> list[tuple[str, str, str, bool]]:
    """Rows for bench_upload's table: (name, measured, target, ok) per backend."""
    corpus = make_corpus(cache / "box-corpus-2")
    trees = {"box": ROOT, "before": worktree(baseline, cache)}
    redis = RedisServer(work / "box-redis").start()
    s3 = S3Server(work / "box-s3").start()
    rows = []
    try:
        for backend in ("local", "s3"):
            seconds = compare(backend, trees, corpus, rounds, redis, s3, work)
            box, before = (statistics.median(seconds[name]) for name in ("box", "before"))
            size = sum(p.stat().st_size for p in corpus) / MIB
            rows.append((f"processing {len(corpus)} files ({size:.0f} MiB), {backend}: box / before",
                         f"{box:.2f} s / {before:.2f} s", f"{box / before:.2f}× (≤ 1.05)",
                         box <= 1.05 * before))
    finally:
        s3.stop()
        redis.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BEFORE_THE_BOX, help="git ref to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cache = ROOT / "var" / "bench"
    work = cache / f"box-{int(time.time())}"
    try:
        rows = measure(work, cache, args.baseline, args.rounds)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    print()
    for name, measured, target, ok in rows:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:58s} {measured:24s} {target}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
