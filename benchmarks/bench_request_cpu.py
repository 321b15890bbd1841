"""CPU per stream request inside the web process, without a server or a network.

    .venv/bin/python benchmarks/bench_request_cpu.py

Calls the WSGI application in-process for a signed 128 KiB range of a ready local asset, once
through Django's full handler (middleware, URL resolving, the view) and once through
`project.wsgi.application` (the fast path for signed URLs, streaming/wsgi.py), and prints the
mean time per request of each. The file is opened and closed but not sent, so what is timed is
the Python work a seek costs the web process; `make bench-stream` measures the served rate.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.streaming.sites import Site  # noqa: E402

REQUESTS = 3000


class _Wrapper:
    """A `wsgi.file_wrapper` that only closes, as a server would after sendfile."""

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike

    def close(self) -> None:
        self.filelike.close()


def per_request(app: Any, path: str, query: str) -> float:
    def call(offset: int) -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
                   "HTTP_RANGE": f"bytes={offset}-{offset + 131071}", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
                   "wsgi.file_wrapper": _Wrapper}
        body = app(environ, lambda status, headers, exc_info=None: None)
        body.close()

    for offset in range(300):  # warm up: imports, the database connection
        call(offset * 1000)
    started = time.perf_counter()
    for index in range(REQUESTS):
        call((index % 1000) * 1000)
    return (time.perf_counter() - started) / REQUESTS


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        site = Site.create(Path(tmp) / "site", DJANGO_DEBUG="false", SECRET_KEY="x" * 50,
                           ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="ERROR")
        data = Path(tmp) / "media.bin"
        data.write_bytes(os.urandom(8 * 1024 * 1024))
        url = site.add_assets([{"name": "clip", "path": str(data)}])["clip"]["url"]
        os.environ.update(site.env)
        from project.wsgi import application, django_application

        path, query = url.split("?", 1)
        full = per_request(django_application, path, query)
        fast = per_request(application, path, query)
    print(f"signed 128 KiB range, CPU in the web process per request ({REQUESTS} requests):")
    print(f"  Django's full handler: {full * 1e6:.0f} us")
    print(f"  fast path:             {fast * 1e6:.0f} us  ({fast / full:.2f}x)")


if __name__ == "__main__":
    main()
