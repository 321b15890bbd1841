"""Real services on free loopback ports for the integration tests.

Each class starts a real process (redis-server, moto's S3 server, a throwaway PostgreSQL
cluster, gunicorn, a Celery worker) and stops it in `stop()`; the fixtures in conftest.py
call `stop()` in a `finally`, so a failing test leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Signal the process group, wait, then SIGKILL whatever is left of it."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: Path = ROOT) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - the child holds it; ours closes with the object
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = spawn([
            shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1",
            "--port", str(self.port), "--dir", str(self.workdir), "--save", "",
            "--appendonly", "yes", "--daemonize", "no",
        ], self.workdir / "redis.log")
        wait_for(self.answers, 10, "redis-server")
        return self

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.3).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def use_media_storage(settings: Any, backend: str) -> None:
    """Make MEDIA_STORAGE_BACKENDS[backend] the media storage, built anew from the settings as
    they are now: a change of STORAGES makes Django drop the storages it has built."""
    settings.MEDIA_STORAGE = backend
    settings.STORAGES = {**settings.STORAGES, "default": settings.MEDIA_STORAGE_BACKENDS[backend]}


class S3Server:
    """moto's server mode: a real S3 API over HTTP on loopback, reached through boto3."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.bucket = f"media-{uuid.uuid4().hex[:8]}"
        self.region = "us-east-1"
        self.access_key = "testing"
        self.secret_key = "testing"
        self.proc: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = spawn([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                          self.workdir / "moto.log")
        wait_for(lambda: port_open(self.port), 20, "moto_server")
        self.client.create_bucket(Bucket=self.bucket)
        return self

    @property
    def client(self):  # boto3 S3 client; boto3 has no public type for it
        return self.make_client()

    def make_client(self, **config: Any):
        """A boto3 client for this server; `config` adds botocore Config options."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=botocore.config.Config(s3={"addressing_style": "path"}, **config),
        )

    def env(self, endpoint_url: str | None = None) -> dict[str, str]:
        return {
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": endpoint_url or self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_S3_REGION_NAME": self.region,
            "AWS_S3_ADDRESSING_STYLE": "path",
        }

    def use_in(self, settings: Any, endpoint_url: str | None = None) -> None:
        """Store media on this server in this process (`settings`: pytest-django's fixture)."""
        for name, value in self.env(endpoint_url).items():
            setattr(settings, name, value)
        use_media_storage(settings, "s3")

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


class PostgresCluster:
    """A throwaway cluster from Debian's postgresql: initdb + pg_ctl in a temp directory.

    Hand-written rather than pytest-postgresql because initdb refuses to run as root, which is
    who runs CI here; this runs the server as Debian's `postgres` user when we are root.
    """

    def __init__(self) -> None:
        # Its own directory, not pytest's: those are root-only, and the server runs as postgres.
        self.workdir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.bindir = self._find_bindir()

    @staticmethod
    def _find_bindir() -> Path:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
        if not candidates:
            raise RuntimeError("Debian's postgresql is not installed (scripts/bootstrap.sh test)")
        return candidates[0].parent

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, cwd="/")

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-A", "trust",
                  "-U", "postgres", "--no-sync")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30",
                  "-l", str(self.workdir / "postgres.log"),
                  "-o", f"-p {self.port} -h 127.0.0.1 -k {self.workdir} -c fsync=off", "start")
        return self

    def create_database(self, name: str) -> str:
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.datadir.exists():
            subprocess.run(
                (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
                + [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
                capture_output=True, cwd="/", check=False,
            )
        shutil.rmtree(self.workdir, ignore_errors=True)
