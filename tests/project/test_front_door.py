"""The front door: gunicorn behind Debian's nginx running the shipped deploy/nginx/ config keeps
answering while a thousand slow clients hang on to nginx (slowloris), and nginx lets go of
each of them at its client_header_timeout.

gunicorn alone gives every connection whose header is still arriving a thread, so a few
hundred such clients take all of them; nginx holds them for a few hundred bytes each.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.nginx_config import SITE_CONF, only, parse, placeholders, render, seconds
from tests.services import RedisServer
from tests.slow_clients import SlowHeaderClients, SwarmStats, open_file_limit
from tests.streaming.sites import Server, Site, gunicorn, nginx

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SLOW_CLIENTS = 1000
LINE_INTERVAL = 2.0  # one header line per slow client every 2 s
SAMPLE_EVERY = 1.5
HEALTHZ_BUDGET = 1.0  # what a load balancer's health check would allow
# The watch outlasts the header timeout by 2 s; a timeout longer than this is too lenient
# for a front door, and the test says so rather than run for minutes.
MAX_WATCH_SECONDS = 20.0


@dataclass(frozen=True)
class Sample:
    status: int  # 0: no answer within the client's timeout
    seconds: float
    slow_clients_open: int


@dataclass(frozen=True)
class Attack:
    samples: tuple[Sample, ...]
    swarm: SwarmStats
    header_timeout: float


def shipped_header_timeout() -> float:
    """client_header_timeout as media.conf sets it (its placeholders do not touch it)."""
    template = SITE_CONF.read_text()
    site = render(template, dict.fromkeys(placeholders(template), "x"))
    (value,) = only(parse(site), "client_header_timeout")
    return seconds(value)


def healthz(port: int, timeout: float = 2.0) -> tuple[int, float]:
    """GET /healthz on a new connection: (status, seconds until the whole body was read)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return 0, time.monotonic() - started
    finally:
        connection.close()


def watch(port: int, swarm: SlowHeaderClients, duration: float) -> tuple[Sample, ...]:
    """/healthz every SAMPLE_EVERY seconds for `duration`, with the swarm's size at each."""
    samples = []
    started = time.monotonic()
    for index in range(int(duration // SAMPLE_EVERY) + 1):
        time.sleep(max(0.0, started + index * SAMPLE_EVERY - time.monotonic()))
        status, elapsed = healthz(port)
        samples.append(Sample(status, elapsed, swarm.stats().open_now))
    return tuple(samples)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Server]:
    site = Site.create(tmp_path_factory.mktemp("front-door"), REDIS_URL=redis_server.url)
    with gunicorn(site) as app, nginx(site, app.port) as server:
        # Healthy before the attack, and past the first request's one-off set-up.
        assert healthz(server.port, timeout=10)[0] == 200
        yield server


@pytest.fixture(scope="module")
def attack(front: Server) -> Attack:
    """A thousand slow clients on nginx for a little longer than its header timeout, so the
    first of them are let go (and come back) while /healthz is watched."""
    header_timeout = shipped_header_timeout()
    duration = min(header_timeout + 2, MAX_WATCH_SECONDS)
    with ExitStack() as stack:
        stack.enter_context(open_file_limit(SLOW_CLIENTS + 256))
        swarm = stack.enter_context(SlowHeaderClients(front.port, SLOW_CLIENTS, LINE_INTERVAL,
                                                      max_seconds=duration + 10))
        samples = watch(front.port, swarm, duration)
        stats = swarm.stats()
    held = stats.held_seconds
    print(f"\n/healthz through nginx under {SLOW_CLIENTS} slow clients (ms):",
          " ".join(f"{s.status}:{s.seconds * 1000:.0f}" for s in samples),
          f"\nslow clients: {stats.opened} opened, {stats.peak_open} at once, {len(held)} let go"
          f" after {min(held, default=0):.1f}-{max(held, default=0):.1f} s")
    return Attack(samples, stats, header_timeout)


def test_healthz_answers_within_a_second_while_a_thousand_slow_clients_hang(attack: Attack) -> None:
    assert len(attack.samples) >= 5
    answered = [s.status == 200 and s.seconds < HEALTHZ_BUDGET for s in attack.samples]
    assert all(answered), attack.samples
    assert attack.swarm.error is None, attack.swarm


def test_nginx_holds_every_slow_client_until_its_header_timeout(attack: Attack) -> None:
    swarm = attack.swarm
    assert swarm.peak_open == SLOW_CLIENTS
    # Each one that was let go had been held to the timeout (the timer runs for the whole
    # header, however often a line arrives), and never much longer.
    assert len(swarm.held_seconds) >= SLOW_CLIENTS, (
        f"nginx let go of {len(swarm.held_seconds)} in {MAX_WATCH_SECONDS} s "
        f"(client_header_timeout {attack.header_timeout} s)")
    assert all(attack.header_timeout - 0.5 <= held <= attack.header_timeout + 2.5
               for held in swarm.held_seconds), sorted(swarm.held_seconds)[::50]


SLOW_BODIES = 64  # four times the test gunicorn's 16 threads
SLOW_LOGIN = (b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Cookie: csrftoken=" + b"a" * 32 + b"\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 100000\r\n\r\n")


def test_healthz_answers_while_clients_drip_form_bodies(front: Server) -> None:
    # A whole header, then one byte of body every 2 s: nginx buffers such bodies, so Django
    # never waits on them with a thread.
    with open_file_limit(SLOW_BODIES + 256), SlowHeaderClients(
            front.port, SLOW_BODIES, LINE_INTERVAL, max_seconds=20, opening=SLOW_LOGIN,
            drip=b"a") as swarm:
        samples = watch(front.port, swarm, 8)
    assert all(s.status == 200 and s.seconds < HEALTHZ_BUDGET for s in samples), samples
