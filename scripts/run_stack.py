"""`make run`: migrate, then run Redis, one Celery worker and the web server until Ctrl-C.

Each child runs in its own process group, so stopping the stack (Ctrl-C, SIGTERM, or any one
child dying) signals every process it started, children of children included, and nothing is
left behind. Written by hand because the alternatives (honcho, supervisord) either leave
grandchildren running on SIGTERM or need a daemon and a config file of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()
BIN = ROOT / ".venv" / "bin"
DEV_USER = "dev"
STOP_GRACE_SECONDS = 10


def log(message: str) -> None:
    print(f"==> {message}", flush=True)


def redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return bool(client.ping())
    except redis.RedisError:
        return False


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT, env=env, check=True, text=True, capture_output=True,
    )
    return result.stdout


def ensure_dev_user(env: dict[str, str]) -> str:
    """Create the development user once; its password is kept in var/ so later runs can print it."""
    credentials = VAR / "dev-user.txt"
    if credentials.exists():
        return credentials.read_text().strip()
    password = secrets.token_urlsafe(12)
    manage("create_dev_user", "--", DEV_USER, password, env=env)  # a password may start with "-"
    credentials.write_text(password + "\n")
    credentials.chmod(0o600)
    return password


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log(f"starting {name}: {' '.join(argv)}")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
        self.children.append((name, proc))

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
            # Whatever is left in the group (a worker's pool children) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", "6379")))
    args = parser.parse_args()

    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    env["PORT"] = str(args.port)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"

    stack = Stack()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        # Once only: a service manager signals the whole process group, so make and this
        # script may each pass the same SIGTERM on, and a second KeyboardInterrupt raised in the
        # middle of `stack.stop()` would leave the rest of the stack running.
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)

    try:
        redis_url = env.get("REDIS_URL") or f"redis://127.0.0.1:{args.redis_port}/0"
        if redis_answers(redis_url):
            log(f"using the Redis that answers at {redis_url}")
        else:
            redis_dir = VAR / "redis"
            redis_dir.mkdir(exist_ok=True)
            port = int(redis_url.split(":")[-1].split("/")[0]) if "REDIS_URL" in env else args.redis_port
            stack.start("redis", [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir),
                "--appendonly", "yes", "--save", "60 1", "--daemonize", "no",
            ], env)
            deadline = time.monotonic() + 10
            while not redis_answers(redis_url):
                if time.monotonic() > deadline or stack.first_exited():
                    log(f"Redis did not come up at {redis_url}")
                    return 1
                time.sleep(0.1)
        env["REDIS_URL"] = redis_url

        log("migrating the database")
        manage("migrate", "--no-input", env=env)
        manage("collectstatic", "--no-input", env=env)
        password = ensure_dev_user(env)

        stack.start("worker", [
            str(BIN / "celery"), "-A", "worker.celery_app", "worker", "--beat",
            "--queues", "celery,transcode",
            "--loglevel", "INFO", "--concurrency", env.get("WORKER_CONCURRENCY", "2"),
            "--schedule", str(VAR / "celerybeat-schedule"),
        ], env)
        stack.start("web", [
            str(BIN / "gunicorn"), "project.wsgi", "-c", "project/gunicorn_conf.py",
            "--bind", f"127.0.0.1:{args.port}",
        ], env)

        print(
            f"\n  Open http://127.0.0.1:{args.port}/ and sign in as "
            f"'{DEV_USER}' with password '{password}'.\n"
            f"  API token: .venv/bin/python manage.py api_token {DEV_USER}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            exited = stack.first_exited()
            if exited:
                log(f"{exited[0]} exited with code {exited[1]}; stopping the stack")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr or "")
        log(f"{' '.join(exc.cmd[1:3])} failed")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
