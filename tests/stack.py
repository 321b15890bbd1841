"""The whole product as real processes: gunicorn, Celery workers, over a real database.

An `AppStack` is one deployment: its own database (a SQLite file or a PostgreSQL database),
its own media root, one storage backend, and the session's Redis. Tests drive it over HTTP and
through `manage.py`, exactly as users and operators do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.services import ROOT, VENV_BIN, free_port, port_open, spawn, stop_process, wait_for


class AppStack:
    def __init__(self, workdir: Path, redis_url: str, extra_env: dict[str, str] | None = None,
                 database_url: str | None = None, root: Path = ROOT) -> None:
        """`root`: the checkout whose code runs (benchmarks compare another commit's)."""
        self.root = root
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.media_root = workdir / "media"
        self.staging_root = workdir / "staging"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MEDIA_"))},
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "VAR_DIR": str(workdir),
            "MEDIA_ROOT": str(self.media_root),
            "MEDIA_STAGING_ROOT": str(self.staging_root),
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'db.sqlite3'}",
            # Scratch of its own: a worker sweeps the temp dir of scratch directories its
            # database does not know, and another stack's database does not know this one's.
            "TMPDIR": str(workdir / "tmp"),
            "REDIS_URL": redis_url,
            "PORT": str(self.port),
            "WEB_WORKERS": "1",
            "WEB_THREADS": "16",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # A fast cadence, so crash and outage recovery is seen in seconds, not minutes.
            "MEDIA_HEARTBEAT_SECONDS": "1",
            "MEDIA_RECONCILE_EVERY_SECONDS": "2",
            "MEDIA_ENQUEUE_GRACE_SECONDS": "1",
            "MEDIA_RETRY_BACKOFF_SECONDS": "1",
            **(extra_env or {}),
        }
        self.web: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}

    # --- processes ----------------------------------------------------------------------

    def manage(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args], cwd=self.root, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def migrate(self) -> AppStack:
        self.manage("migrate", "--no-input")
        return self

    def start_web(self) -> AppStack:
        self.web = spawn([str(VENV_BIN / "gunicorn"), "project.wsgi", "-c", "project/gunicorn_conf.py",
                          "--bind", f"127.0.0.1:{self.port}"], self.workdir / "web.log", env=self.env,
                         cwd=self.root)
        wait_for(lambda: port_open(self.port), 30, "gunicorn")
        return self

    def stop_web(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop gunicorn as a service manager or a crash would, and wait until nothing listens
        on its port (a killed worker process holds the socket a moment after its master)."""
        stop_process(self.web, sig=sig, timeout=timeout)
        self.web = None
        wait_for(lambda: not port_open(self.port), 10, "gunicorn's port to close")

    def start_worker(self, name: str = "w1", concurrency: int = 1, beat: bool = False,
                     extra_env: dict[str, str] | None = None,
                     queues: str = "celery,transcode") -> subprocess.Popen:
        argv = [
            str(VENV_BIN / "celery"), "-A", "worker.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle", "--pool", "prefork", "--queues", queues,
        ]
        if beat:
            argv += ["--beat", "--schedule", str(self.workdir / f"beat-{name}")]
        proc = spawn(argv, self.workdir / f"worker-{name}.log", env={**self.env, **(extra_env or {})},
                     cwd=self.root)
        self.workers[name] = proc
        wait_for(lambda: "ready." in self.log(f"worker-{name}"), 60, f"celery worker {name}")
        return proc

    def kill_worker(self, name: str = "w1", sig: int = signal.SIGKILL) -> None:
        """Kill the whole worker (main process and pool children) as a crash would."""
        proc = self.workers.pop(name)
        stop_process(proc, sig=sig, timeout=5)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for name in list(self.workers):
            stop_process(self.workers.pop(name))
        stop_process(self.web)
        self.web = None

    # --- users and HTTP -----------------------------------------------------------------

    def token(self, username: str) -> str:
        return self.manage("api_token", username, "--create").strip().splitlines()[-1]

    def request(self, method: str, path: str, token: str | None = None, data: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=dict(headers or {}))
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def upload(self, token: str, filename: str, content: bytes | Path,
               content_type: str = "application/octet-stream") -> tuple[int, dict[str, Any]]:
        body = content.read_bytes() if isinstance(content, Path) else content
        boundary = uuid.uuid4().hex
        payload = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
        status, _headers, raw = self.request(
            "POST", "/api/media/", token=token, data=payload,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        return status, json.loads(raw) if raw else {}

    def asset(self, token: str, asset_id: str) -> dict[str, Any]:
        status, _headers, raw = self.request("GET", f"/api/media/{asset_id}/", token=token)
        assert status == 200, (status, raw[:500])
        return json.loads(raw)

    def wait_until_done(self, token: str, asset_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            asset = self.asset(token, asset_id)
            if asset["status"] in ("ready", "failed"):
                return asset
            time.sleep(0.2)
        raise TimeoutError(f"asset {asset_id} still {asset['status']} after {timeout}s")
