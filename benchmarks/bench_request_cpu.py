"""CPU per stream request inside the web process, without a server or a network.

    .venv/bin/python benchmarks/bench_request_cpu.py

Calls the WSGI application in-process for a 128 KiB range three ways and prints the mean time
per request of each: a signed range of a ready local asset answered by the stream middleware
(streaming/middleware.py, as configured), the same request with that middleware taken out (so
the whole stack and the view answer it), and WhiteNoise serving the same bytes as a static file.
The file is opened and closed but not sent, so what is timed is the Python work a seek costs the
web process; `make bench-stream` measures the served rate.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.streaming.sites import Site  # noqa: E402

REQUESTS = 6000
ROUNDS = 5


class _Wrapper:
    """A `wsgi.file_wrapper` that only closes, as a server would after sendfile."""

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike

    def close(self) -> None:
        self.filelike.close()


def per_request(app: Any, path: str, query: str, requests: int) -> float:
    def call(offset: int) -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
                   "HTTP_RANGE": f"bytes={offset}-{offset + 131071}", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
                   "wsgi.file_wrapper": _Wrapper}
        seen: list[str] = []
        body = app(environ, lambda status, headers, exc_info=None: seen.append(status))
        body.close()
        if not seen[0].startswith("206"):
            raise RuntimeError(f"{path}: {seen[0]}")

    started = time.perf_counter()
    for index in range(requests):
        call((index % 1000) * 1000)
    return (time.perf_counter() - started) / requests


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        site = Site.create(Path(tmp) / "site", DJANGO_DEBUG="false", SECRET_KEY="x" * 50,
                           ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="ERROR")
        data = Path(tmp) / "media.bin"
        data.write_bytes(os.urandom(8 * 1024 * 1024))
        url = site.add_assets([{"name": "clip", "path": str(data)}])["clip"]["url"]
        static = Path(site.env["VAR_DIR"]) / "static"
        static.mkdir(parents=True, exist_ok=True)
        os.link(data, static / "media.bin")  # before WhiteNoise lists STATIC_ROOT
        os.environ.update(site.env)
        from django.test import override_settings

        from project.wsgi import application

        path, query = url.split("?", 1)
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler

        without = [name for name in settings.MIDDLEWARE if name != "streaming.middleware.StreamMiddleware"]
        with override_settings(MIDDLEWARE=without):
            whole_stack = WSGIHandler()  # its middleware chain is built here, from the override
        cases = {"middleware": (application, path, query), "whole stack": (whole_stack, path, query),
                 "WhiteNoise": (application, "/static/media.bin", "")}
        for case in cases.values():  # warm up: imports, the database connection
            per_request(*case, requests=300)
        # Rounds alternate between the three, so that the machine's drift hits all alike.
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):
            for name, case in cases.items():
                times[name].append(per_request(*case, requests=REQUESTS // ROUNDS))
    middleware, full, whitenoise = (statistics.median(times[name]) for name in cases)
    print(f"128 KiB range, CPU in the web process per request (median of {ROUNDS} rounds of "
          f"{REQUESTS // ROUNDS}):")
    print(f"  signed, stream middleware:         {middleware * 1e6:.0f} us")
    print(f"  signed, whole stack and the view:  {full * 1e6:.0f} us  ({full / middleware:.2f}x)")
    print(f"  WhiteNoise, the same bytes static: {whitenoise * 1e6:.0f} us  ({whitenoise / middleware:.2f}x)")

if __name__ == "__main__":
    main()
