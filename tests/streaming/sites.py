"""A throwaway site for real-server tests and the benchmark: a migrated SQLite file, a
MEDIA_ROOT, ready assets, and gunicorn / uvicorn / nginx processes on free loopback ports.

Every process is started in its own session and stopped (group SIGTERM, then SIGKILL) by the
context managers' `finally`, so a failing test leaves nothing running.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.nginx_config import MAIN_CONF, SITE_CONF, SITE_DIR, render
from tests.services import ROOT, free_port, port_open, spawn, stop_process, wait_for

VENV_BIN = Path(sys.executable).parent

# Runs inside the project's settings: creates the owner and one READY local asset per spec,
# hard-linking (or copying) the given file into MEDIA_ROOT, and prints {name: stream_url}.
_CREATE_ASSETS = r"""
import hashlib, json, os, shutil, sys, uuid
import django
django.setup()
from datetime import UTC, datetime
from django.contrib.auth.models import User
from media_pipeline import storage
from media_pipeline.models import MediaAsset
from streaming.signing import stream_url

specs = json.load(sys.stdin)
owner, _ = User.objects.get_or_create(username="streamer")
urls = {}
for spec in specs:
    if spec.get("storage") == "s3":  # already uploaded: key, size, etag given
        asset_id, key, size = uuid.UUID(spec["id"]), spec["key"], int(spec["size"])
        digest, etag, backend = spec["sha256"], spec["etag"], MediaAsset.Storage.S3
    else:
        asset_id = uuid.uuid4()
        key = storage.final_key(asset_id)
        target = storage.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(spec["path"], target)
        except OSError:
            shutil.copyfile(spec["path"], target)
        digest = spec.get("sha256") or hashlib.sha256(open(target, "rb").read()).hexdigest()
        size, etag, backend = target.stat().st_size, "", MediaAsset.Storage.LOCAL
    asset = MediaAsset.objects.create(
        id=asset_id, owner=owner, filename=spec.get("filename", "clip.mp4"),
        status=MediaAsset.Status.READY, mime_type=spec.get("mime_type", "video/mp4"),
        size=size, sha256=digest, storage=backend, etag=etag,
        storage_key=key, ready_at=datetime(2024, 5, 1, 12, tzinfo=UTC))
    urls[spec["name"]] = {"url": stream_url(asset), "key": key}
print(json.dumps(urls))
"""


def payload(size: int, seed: int = 7) -> bytes:
    """Deterministic, non-repeating bytes, so a misplaced offset is always visible."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


# The ready assets of `served_site`, by name: small, big (a non-ASCII file name), huge.
SMALL = payload(100_000, seed=1)
BIG = payload(6 * 1024 * 1024 + 3, seed=2)
HUGE_MIB = 128


@dataclass
class Site:
    """Environment for project processes that share one SQLite file and one MEDIA_ROOT."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, workdir: Path, db_options: str = "", **extra_env: str) -> Site:
        workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
               "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}{db_options}",
               "MEDIA_ROOT": str(workdir / "media"), "VAR_DIR": str(workdir / "var"),
               "MEDIA_STORAGE": "local", "LOG_LEVEL": "WARNING", **extra_env}
        (workdir / "media").mkdir(exist_ok=True)
        site = cls(workdir, env)
        site.run([str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"])
        return site

    @property
    def media_root(self) -> Path:
        return Path(self.env["MEDIA_ROOT"]).resolve()

    def run(self, argv: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(argv, cwd=ROOT, env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def add_assets(self, specs: list[dict[str, str]]) -> dict[str, dict[str, str]]:
        """Create ready assets from local files (or already-uploaded S3 objects, with
        "storage": "s3" and their id, key, size, sha256 and etag); returns {name: {url, key}}."""
        out = self.run([str(VENV_BIN / "python"), "-c", _CREATE_ASSETS], stdin=json.dumps(specs))
        return json.loads(out.strip().splitlines()[-1])


@dataclass(frozen=True)
class Server:
    port: int
    pid: int

    def process_ids(self) -> list[int]:
        """The server process and its children (gunicorn's workers)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [self.pid, *map(int, children)]

    def peak_rss_kib(self) -> int:
        """The largest VmHWM (peak resident set) among the server's processes."""
        peaks = []
        for pid in self.process_ids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]))
        return max(peaks)

    def rss_kib(self) -> int:
        total = 0
        for pid in self.process_ids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total = max(total, int(line.split()[1]))
        return total


@contextmanager
def running(argv: list[str], env: dict[str, str], port: int, log: Path,
            cwd: Path = ROOT) -> Iterator[Server]:
    """Run a server process until the block ends; yields it once its port accepts."""
    proc = spawn(argv, log, env=env, cwd=cwd)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, 60, " ".join(argv[:2]))
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited early:\n{log.read_text()[-3000:]}")
        yield Server(port, proc.pid)
    finally:
        stop_process(proc)


@contextmanager
def gunicorn(site: Site, workers: int | None = 1, threads: int | None = 16, **env: str) -> Iterator[Server]:
    """gunicorn as `make run` configures it; `workers`/`threads` None keep its defaults."""
    port = free_port()
    sizes = {"WEB_WORKERS": workers, "WEB_THREADS": threads}
    server_env = {**site.env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_ACCESS_LOG": "off", **env,
                  **{name: str(value) for name, value in sizes.items() if value is not None}}
    argv = [str(VENV_BIN / "gunicorn"), "-c", "project/gunicorn_conf.py", "project.wsgi:application"]
    with running(argv, server_env, port, site.workdir / f"gunicorn-{port}.log") as server:
        yield server


@contextmanager
def uvicorn(site: Site, **env: str) -> Iterator[Server]:
    port = free_port()
    argv = [str(VENV_BIN / "uvicorn"), "project.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning"]
    with running(argv, {**site.env, **env}, port, site.workdir / f"uvicorn-{port}.log") as server:
        yield server


def nginx_site(site: Site, listen: int, upstream: int) -> str:
    """deploy/nginx/media.conf rendered for this site, as the nginx image renders it for
    docker-compose.yml from its MEDIA_PIPELINE_* environment."""
    return render(SITE_CONF.read_text(), {
        "MEDIA_PIPELINE_LISTEN": f"127.0.0.1:{listen}",
        "MEDIA_PIPELINE_UPSTREAM": f"127.0.0.1:{upstream}",
        "MEDIA_PIPELINE_MEDIA_ROOT": str(site.media_root),
    })


@contextmanager
def nginx(site: Site, upstream: int, extra: str = "") -> Iterator[Server]:
    """Debian's nginx running the shipped configuration in front of a server on `upstream`.

    The prefix is laid out as the image lays out /etc/nginx: nginx.conf itself (a symlink, so
    its relative include finds the site beside it) and the rendered media.conf; `extra`
    (another server block) goes in the same include directory. What compose leaves to the
    image is given on the command line: no daemon, a pid file of its own, and, as root,
    workers that may read the site's files.
    """
    port = free_port()
    prefix = site.workdir / f"nginx-{port}"
    (prefix / SITE_DIR).mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.symlink_to(MAIN_CONF)
    (prefix / SITE_DIR / "media.conf").write_text(nginx_site(site, port, upstream))
    if extra:
        (prefix / SITE_DIR / "extra.conf").write_text(extra)
    main = f"daemon off; pid {prefix / 'nginx.pid'};" + (" user root;" if os.geteuid() == 0 else "")
    argv = ["/usr/sbin/nginx", "-c", str(conf), "-p", f"{prefix}/", "-g", main]
    with running(argv, site.env, port, prefix / "stdout.log") as server:
        yield server


def served_site(workdir: Path) -> tuple[Site, dict[str, dict[str, str]]]:
    """A migrated SQLite site for subprocess servers, with three ready local assets (SMALL,
    BIG and HUGE_MIB of random bytes): the site and {name: {url, key}}."""
    site = Site.create(workdir)
    (workdir / "small.bin").write_bytes(SMALL)
    (workdir / "big.bin").write_bytes(BIG)
    with open(workdir / "huge.bin", "wb") as out:
        for _ in range(HUGE_MIB):
            out.write(os.urandom(1024 * 1024))
    assets = site.add_assets([
        {"name": "small", "path": str(workdir / "small.bin")},
        {"name": "big", "path": str(workdir / "big.bin"), "filename": "Grüße film.mp4"},
        {"name": "huge", "path": str(workdir / "huge.bin")},
    ])
    return site, assets
