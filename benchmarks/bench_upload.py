"""Upload and processing figures for a 1 GiB file, each against its baseline in the same run.

    .venv/bin/python benchmarks/bench_upload.py [--size-mib 1024]   (or: make bench-upload)

1. Upload through `POST /api/media/` vs Django's stock upload handling (benchmarks/stock_upload.py)
   on the same gunicorn: throughput, and peak RSS growth of the web worker (target ≤ 64 MiB).
   Then resumable (tus) uploads of the same file in 16 MiB PATCHes, as the upload page sends
   them: throughput against the POST's (target ≥ 0.9×), web RSS growth for 8 at once (target
   ≤ 64 MiB), and the bytes a client must send again after its connection drops mid-PATCH
   (target ≤ one chunk).
2. MIME detection: bytes read from the file (target ≤ 64 KiB).
3. Processing on local storage by a real Celery worker vs `sha256sum` + `cp` of the same file
   (target ≤ 1.5×), and the worker's peak RSS (target < 128 MiB).
4. What the ffmpeg box costs: a corpus processed by this tree and by the tree before the box,
   on local disk and S3 (benchmarks/box_cost.py; target ≤ 1.05×). `--skip-box` leaves it out.
Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import box_cost  # noqa: E402
from tests.services import RedisServer, wait_for  # noqa: E402
from tests.stack import AppStack  # noqa: E402

MIB = 1024 * 1024


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True,
                         check=False).stdout
    children = [int(p) for p in out.split()]
    return children + [g for c in children for g in descendants(c)]


class PeakRss:
    """Samples the RSS of each process under `root_pid` every 10 ms; reports the largest."""

    def __init__(self, root_pid: int, exclude: tuple[str, ...] = ("ffmpeg", "ffprobe")) -> None:
        self.root_pid = root_pid
        self.exclude = exclude
        self.peak: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self) -> list[int]:
        pids = [self.root_pid, *descendants(self.root_pid)]
        return [p for p in pids if not any(x in Path(f"/proc/{p}/comm").read_text(errors="ignore")
                                           for x in self.exclude if Path(f"/proc/{p}/comm").exists())]

    def _run(self) -> None:
        pids = self._pids()
        while not self.stop.is_set():
            for pid in pids:
                self.peak[pid] = max(self.peak.get(pid, 0), rss_kib(pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def make_media(path: Path, size_mib: int) -> None:
    """A real video of about `size_mib` MiB: uncompressed frames in Matroska, fast to make."""
    if path.exists() and path.stat().st_size >= size_mib * MIB * 0.95:
        return
    frame = 640 * 480 * 3 // 2
    frames = size_mib * MIB // frame
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=640x480:rate=25", "-frames:v", str(frames), "-c:v", "rawvideo",
                    "-pix_fmt", "yuv420p", str(path)], check=True)


def upload(port: int, url: str, token: str, path: Path) -> tuple[float, int, bytes]:
    """Stream a multipart upload from disk; returns (seconds, status, body)."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.putrequest("POST", url)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            conn.send(chunk)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, response.status, body


TUS_CHUNK = 16 * MIB  # MEDIA_UPLOAD_CHUNK_SIZE's default: what the upload page sends


def tus_request(port: int, method: str, url: str, token: str, headers: dict[str, str],
                path: Path | None = None, offset: int = 0, length: int = 0,
                cut_after: int | None = None) -> tuple[int, dict[str, str]]:
    """One tus request; with `path`, its body is `length` bytes of the file from `offset`,
    streamed from disk, or only `cut_after` of them before the connection is dropped."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest(method, url)
    for name, value in {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0",
                        "Content-Length": str(length), **headers}.items():
        conn.putheader(name, value)
    conn.endheaders()
    if path is not None:
        remaining = length if cut_after is None else cut_after
        with open(path, "rb") as f:
            f.seek(offset)
            while remaining and (chunk := f.read(min(MIB, remaining))):
                conn.send(chunk)
                remaining -= len(chunk)
        if cut_after is not None:
            conn.sock.shutdown(2)
            conn.close()
            return 0, {}
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, dict(response.headers)


def tus_create(port: int, token: str, size: int) -> str:
    status, headers = tus_request(port, "POST", "/api/uploads/", token,
                                  {"Upload-Length": str(size), "Upload-Metadata": "filename YmVuY2gubWt2"})
    assert status == 201, status
    return headers["Location"]


def tus_upload(port: int, token: str, path: Path) -> tuple[float, str]:
    """Create, then PATCH chunk by chunk as tus-js-client does; (seconds, upload URL)."""
    size = path.stat().st_size
    started = time.perf_counter()
    url = tus_create(port, token, size)
    offset = 0
    while offset < size:
        length = min(TUS_CHUNK, size - offset)
        status, headers = tus_request(port, "PATCH", url, token, {
            "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)},
            path, offset, length)
        assert status == 204, status
        offset = int(headers["Upload-Offset"])
    return time.perf_counter() - started, url


def tus_head(port: int, token: str, url: str) -> int:
    status, headers = tus_request(port, "HEAD", url, token, {})
    assert status == 200, status
    return int(headers["Upload-Offset"])


def measure_tus(app: AppStack, token: str, path: Path) -> tuple[float, float]:
    """(MiB/s, peak web RSS growth in MiB) of one tus upload; the upload is then deleted."""
    workers = descendants(app.web.pid)
    baseline = max(rss_kib(p) for p in workers)
    with PeakRss(app.web.pid) as peak:
        seconds, url = tus_upload(app.port, token, path)
    growth = (max(peak.peak[p] for p in workers) - baseline) / 1024
    tus_request(app.port, "DELETE", url, token, {})
    return path.stat().st_size / MIB / seconds, growth


def measure_tus_concurrent(app: AppStack, token: str, path: Path, count: int) -> tuple[float, float]:
    """(seconds for all, peak web RSS growth in MiB) of `count` tus uploads at once."""
    workers = descendants(app.web.pid)
    baseline = max(rss_kib(p) for p in workers)
    urls: list[str] = []
    started = time.perf_counter()
    with PeakRss(app.web.pid) as peak:
        threads = [threading.Thread(target=lambda: urls.append(tus_upload(app.port, token, path)[1]))
                   for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = time.perf_counter() - started
    growth = (max(peak.peak[p] for p in workers) - baseline) / 1024
    assert len(urls) == count, urls
    for url in urls:
        tus_request(app.port, "DELETE", url, token, {})
    return seconds, growth


def measure_tus_cut(app: AppStack, token: str, path: Path) -> tuple[int, int]:
    """A PATCH dropped part-way: (bytes the client sent, bytes it must send again)."""
    size = path.stat().st_size
    url = tus_create(app.port, token, size)
    sent = 5 * TUS_CHUNK + 7 * MIB + 12345  # inside the sixth chunk
    offset = 0
    while offset + TUS_CHUNK <= sent:
        _, headers = tus_request(app.port, "PATCH", url, token, {
            "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)},
            path, offset, TUS_CHUNK)
        offset = int(headers["Upload-Offset"])
    tus_request(app.port, "PATCH", url, token, {
        "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)},
        path, offset, TUS_CHUNK, cut_after=sent - offset)
    deadline = time.monotonic() + 30
    while (resume_at := tus_head(app.port, token, url)) < sent and time.monotonic() < deadline:
        time.sleep(0.05)  # the server is still reading what reached it
    tus_request(app.port, "DELETE", url, token, {})
    return sent, sent - resume_at


def measure_upload(app: AppStack, token: str, url: str, path: Path) -> tuple[float, float, bytes]:
    """(MiB/s, peak RSS growth of the web worker in MiB, response body)."""
    workers = descendants(app.web.pid)
    baseline = max(rss_kib(p) for p in workers)
    with PeakRss(app.web.pid) as peak:
        seconds, status, body = upload(app.port, url, token, path)
    assert status in (201, 202), (status, body[:300])
    growth = (max(peak.peak[p] for p in workers) - baseline) / 1024
    return path.stat().st_size / MIB / seconds, growth, body


def sniffed_bytes(path: Path) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from media_pipeline import processing

    read = 0

    class CountingCopy(processing.WorkingCopy):
        def read_at(self, offset: int, length: int) -> bytes:
            nonlocal read
            data = super().read_at(offset, length)
            read += len(data)
            return data

    processing.describe(CountingCopy(path, path.stat().st_size, ""))
    return read


def baseline_hash_and_copy(path: Path, workdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    subprocess.run(["cp", str(path), str(workdir / "copy.bin")], check=True)
    elapsed = time.perf_counter() - started
    (workdir / "copy.bin").unlink()
    return elapsed


def processing_seconds(app: AppStack, asset_id: str) -> float:
    code = ("from media_pipeline.models import MediaAsset; "
            f"a = MediaAsset.objects.get(pk='{asset_id}'); "
            "print(a.processing_started_at.isoformat(), a.ready_at.isoformat(), a.status)")
    started, ready, status = app.manage("shell", "-c", code).strip().splitlines()[-1].split()
    assert status == "ready", status
    return (datetime.fromisoformat(ready) - datetime.fromisoformat(started)).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--skip-box", action="store_true", help="leave out section 4")
    args = parser.parse_args()

    cache = ROOT / "var" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    media = cache / f"bench-{args.size_mib}MiB.mkv"
    print(f"making a {args.size_mib} MiB video at {media} …", flush=True)
    make_media(media, args.size_mib)

    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=cache))
    redis = RedisServer(work / "redis").start()
    app = AppStack(work / "app", redis.url, {
        "MEDIA_STORAGE": "local", "DJANGO_SETTINGS_MODULE": "benchmarks.stock_settings",
        # Threads for the eight concurrent resumable uploads and a HEAD beside them.
        "WEB_WORKERS": "1", "WEB_THREADS": "10", "LOG_LEVEL": "WARNING",
    })
    results: list[tuple[str, str, str, bool]] = []
    try:
        app.migrate().start_web()
        token = app.token("bench")
        runs: dict[str, list[tuple[float, float]]] = {"stock": [], "api": []}
        asset_id = ""
        for _ in range(2):  # alternate, best of two, so neither side gets a warmer cache
            for name, url in (("stock", "/stock-upload/"), ("api", "/api/media/")):
                speed, growth, body = measure_upload(app, token, url, media)
                runs[name].append((speed, growth))
                if name == "api":
                    asset_id = json.loads(body)["id"]
                print(f"  {name:5s} upload: {speed:7.1f} MiB/s, web RSS +{growth:.1f} MiB", flush=True)
        api_speed = max(s for s, _ in runs["api"])
        stock_speed = max(s for s, _ in runs["stock"])
        api_growth = max(g for _, g in runs["api"])
        results.append(("upload throughput, API / Django stock", f"{api_speed:.0f} / {stock_speed:.0f} MiB/s",
                        f"{api_speed / stock_speed:.2f}× (≥ 1.0)", api_speed >= stock_speed * 0.97))
        results.append(("upload web RSS growth", f"{api_growth:.1f} MiB", "≤ 64 MiB", api_growth <= 64))

        tus_runs = []
        for _ in range(2):
            tus_runs.append(measure_tus(app, token, media))
            print(f"  tus   upload: {tus_runs[-1][0]:7.1f} MiB/s, web RSS +{tus_runs[-1][1]:.1f} MiB",
                  flush=True)
        tus_speed = max(s for s, _ in tus_runs)
        results.append(("tus upload throughput, tus / POST API", f"{tus_speed:.0f} / {api_speed:.0f} MiB/s",
                        f"{tus_speed / api_speed:.2f}× (≥ 0.9)", tus_speed >= 0.9 * api_speed))
        seconds, growth = measure_tus_concurrent(app, token, media, 8)
        print(f"  8 tus uploads at once: {seconds:.1f} s, web RSS +{growth:.1f} MiB", flush=True)
        results.append(("tus web RSS growth, 8 uploads at once", f"{growth:.1f} MiB ({seconds:.0f} s)",
                        "≤ 64 MiB", growth <= 64))
        sent, again = measure_tus_cut(app, token, media)
        results.append(("tus bytes sent again after a dropped PATCH", f"{again} B of {sent} B sent",
                        f"≤ {TUS_CHUNK} B (one chunk)", again <= TUS_CHUNK))

        read = sniffed_bytes(media)
        results.append(("MIME detection bytes read", f"{read} B of {media.stat().st_size} B",
                        "≤ 65536 B", read <= 65536))

        # Only the last API upload is processed; the others are left pending for this run.
        code = ("from media_pipeline.models import MediaAsset as M; "
                f"M.objects.exclude(pk='{asset_id}').update(status='failed')")
        app.manage("shell", "-c", code)
        baseline = min(baseline_hash_and_copy(media, work) for _ in range(2))
        proc = app.start_worker("bench", concurrency=1)
        with PeakRss(proc.pid) as peak:
            wait_for(lambda: app.asset(token, asset_id)["status"] in ("ready", "failed"), 600,
                     "processing", interval=0.1)
        seconds = processing_seconds(app, asset_id)
        worker_peak = max(peak.peak.values()) / 1024
        results.append(("processing 1 file, worker / (sha256sum + cp)", f"{seconds:.2f} s / {baseline:.2f} s",
                        f"{seconds / baseline:.2f}× (≤ 1.5)", seconds <= 1.5 * baseline))
        results.append(("worker peak RSS (largest process)", f"{worker_peak:.1f} MiB", "< 128 MiB",
                        worker_peak < 128))
    finally:
        app.stop()
        redis.stop()
    try:
        if not args.skip_box:
            results.extend(box_cost.measure(work, cache))
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)

    print(f"\nbench_upload: {args.size_mib} MiB file, {os.cpu_count()} cores\n")
    for name, measured, target, ok in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:58s} {measured:32s} {target}")
    return 0 if all(ok for *_, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
