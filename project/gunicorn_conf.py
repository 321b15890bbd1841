"""gunicorn settings for `make run` and the docker-compose web service.

Threads, not processes, carry concurrency: a viewer holds a connection for minutes while the
kernel's sendfile moves the bytes, so a thread per connection costs little and lets a few
hundred slow streams and fresh seeks proceed at once (README, "Serving model"). gunicorn's
threaded worker is used as it ships, through its settings only.
"""

import os

import gunicorn

# The gunicorn releases these settings were measured with (pyproject.toml pins the same):
# gthread's meaning of `worker_connections` and `keepalive`, which the capacity below rests
# on, changed within earlier major releases.
TESTED_GUNICORN = ((27, 0), (28, 0))


def check_gunicorn_version(version: tuple[int, ...] = gunicorn.version_info) -> None:
    """Refuse to start on a gunicorn these settings were not measured with."""
    low, high = TESTED_GUNICORN
    if not low <= tuple(version[:2]) < high:
        raise RuntimeError(
            f"project/gunicorn_conf.py is tested with gunicorn {low[0]}.x; this is "
            f"{'.'.join(map(str, version))}. Install the version in requirements.lock.")


check_gunicorn_version()

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
# Four processes of 64 threads: a thread per viewer, and the Python work of seeks spread over
# four interpreters, each of which runs one thread at a time (README, "Serving model").
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "64"))
# A worker holds no more connections than it has threads. gthread stops accepting at
# `worker_connections`, so a connection that arrives while every thread streams stays in the
# listen queue for a worker with a thread free, instead of waiting in this one's pool behind
# streams that last minutes. With 240 slow viewers over 4 x 64 threads, a new seek's first
# byte waited 7282 ms with gthread's default of 1000 (WEB_IDLE_CONNECTIONS=936) and 8 ms with
# this (`benchmarks/bench_stream.py --quick --viewers 240`). The price is keep-alive: gthread keeps `worker_connections -
# threads` idle connections, by default none, so every request comes on a connection of its
# own (`keepalive = 0` says so and keeps gthread from warning about it). nginx in front keeps
# the clients' connections alive (deploy/nginx/).
# WEB_IDLE_CONNECTIONS=N keeps up to N idle ones per worker: seeks are cheaper (16 clients'
# 128 KiB seeks straight to gunicorn, same benchmark: 1510/s with 16, about 1070/s with none),
# and a worker whose threads all stream may then hold up to N requests in its queue behind
# them (240 viewers with 16: a new seek waited 6301 ms).
idle_connections = int(os.environ.get("WEB_IDLE_CONNECTIONS", "0"))
worker_connections = threads + idle_connections
keepalive = 5 if idle_connections else 0
# Streams last minutes: the timeout is the heartbeat of a worker process, not of a request.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
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
