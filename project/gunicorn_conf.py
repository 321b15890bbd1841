"""gunicorn settings for `make run` and the docker-compose web service.

Threads, not processes, carry concurrency: a viewer holds a connection for minutes while the
kernel's sendfile moves the bytes, so a thread per connection costs little and lets a few
hundred slow streams and fresh seeks proceed at once (README, "Serving model").
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "128"))
# Streams last minutes: the timeout is the heartbeat of a worker process, not of a request.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Sendfile is what makes whole files and single ranges zero-copy (streaming/sources.py).
sendfile = True
# gunicorn ≥25 opens a control socket at one fixed path per user; several servers on one
# machine (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True
