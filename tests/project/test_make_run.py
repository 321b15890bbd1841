"""`make run`'s supervisor: the whole stack comes up, answers, and stops without leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.services import ROOT, VENV_BIN, free_port, wait_for

pytestmark = pytest.mark.integration


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return json.loads(resp.read()) if resp.status == 200 else None
    except OSError:
        return None


def processes_mentioning(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                         check=False).stdout
    return [line for line in out.splitlines() if text in line and "ps -eo" not in line]


SUPERVISOR = [sys.executable, "scripts/run_stack.py"]
MAKE_RUN = ["make", "--no-print-directory", "run"]


@pytest.mark.parametrize(("command", "to_group", "signals"), [
    (SUPERVISOR, True, (signal.SIGTERM,)),
    (SUPERVISOR, True, (signal.SIGTERM, signal.SIGTERM, signal.SIGTERM)),
    (SUPERVISOR, True, (signal.SIGINT, signal.SIGINT)),  # Ctrl-C, pressed twice
    # `make run` itself: the group gets it from a service manager (make and the supervisor
    # both see each one), or make alone does, and passes SIGTERM on to its child.
    (MAKE_RUN, True, (signal.SIGTERM, signal.SIGTERM, signal.SIGTERM)),
    (MAKE_RUN, True, (signal.SIGINT, signal.SIGINT)),
    (MAKE_RUN, False, (signal.SIGTERM,)),
], ids=["sigterm", "sigterm-x3", "sigint-x2", "make-group-sigterm-x3", "make-group-sigint-x2",
        "make-sigterm"])
def test_run_starts_redis_worker_and_web_and_signals_stop_them_all(
        tmp_path: Path, command: list[str], to_group: bool, signals: tuple[int, ...]) -> None:
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "MEDIA_STORAGE")}
    env |= {"VAR_DIR": str(tmp_path / "var"), "WEB_THREADS": "8", "PORT": str(port),
            "REDIS_PORT": str(redis_port)}
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stderr=subprocess.STDOUT,
        stdout=open(tmp_path / "run.log", "wb"),  # noqa: SIM115 - for the process's life
        start_new_session=True,
    )
    try:
        wait_for(lambda: healthz(port) is not None, 90, "/healthz to answer 200")
        assert healthz(port) == {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}

        def worker_pongs() -> bool:
            # A ping is a broadcast, not queued: one sent before the worker listens is lost.
            ping = subprocess.run(
                [str(VENV_BIN / "celery"), "-A", "worker.celery_app", "inspect", "ping", "--timeout", "2"],
                cwd=ROOT, env={**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"},
                capture_output=True, text=True, timeout=60, check=False,
            )
            return ping.returncode == 0 and "pong" in ping.stdout

        wait_for(worker_pongs, 60, "the worker to answer celery inspect ping", interval=0.5)
        log = (tmp_path / "run.log").read_text()
        assert "sign in as 'dev' with password" in log
    finally:
        for signum in signals:
            if to_group:
                os.killpg(proc.pid, signum)  # the group, as a service manager does
            else:
                os.kill(proc.pid, signum)
            time.sleep(0.05)
        proc.wait(timeout=30)

    time.sleep(0.5)
    assert processes_mentioning(f"--port {redis_port}") == []
    assert processes_mentioning(str(tmp_path)) == []
    assert healthz(port) is None
