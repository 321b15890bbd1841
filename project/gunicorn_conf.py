"""gunicorn settings for `make run` and the docker-compose web service.

Threads, not processes, carry concurrency: a viewer holds a connection for minutes while the
kernel's sendfile moves the bytes, so a thread per connection costs little and lets a few
hundred slow streams and fresh seeks proceed at once (README, "Serving model").
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# gthread, accepting only with a free thread and keeping busy keep-alive connections on their
# thread (project/gunicorn_worker.py).
worker_class = "project.gunicorn_worker.KeepAliveThreadWorker"
# Four processes of 64 threads: a thread per viewer, and the Python work of seeks spread over
# four interpreters, each of which runs one thread at a time (README, "Serving model").
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "64"))
# Streams last minutes: the timeout is the heartbeat of a worker process, not of a request.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
keepalive = 5
# One line per request on stdout; WEB_ACCESS_LOG=off turns it off (the benchmark compares with
# an nginx that logs nothing).
accesslog = None if os.environ.get("WEB_ACCESS_LOG", "-") == "off" else os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Sendfile (what makes whole files and single ranges zero-copy, streaming/sources.py) is on by
# default and must stay unset here: gunicorn's `Config.sendfile` treats *any* value given for
# the setting, True included, as `--no-sendfile`. tests/streaming/test_servers.py checks the syscalls.
# gunicorn ≥25 opens a control socket at one fixed path per user; several servers on one
# machine (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True


if loglevel != "debug":

    def pre_request(worker, req):
        """gunicorn's default logs every request at debug level before it is handled (on top
        of the access log), which cost 1% of a worker's CPU under 128 KiB seeks even when the
        level hides it. At LOG_LEVEL=debug it stays."""
