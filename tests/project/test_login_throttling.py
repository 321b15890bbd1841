"""Login throttling (django-axes): repeated failures lock a username or an address for a while.

Through Django's test client and the real sign-in view. The failure limit and cool-off are
read from the project's settings rather than assumed, so the tests hold for whatever
AXES_FAILURE_LIMIT and AXES_COOLOFF_SECONDS the environment sets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from axes.exceptions import AxesBackendRequestParameterRequired
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings as project_settings
from django.contrib.auth.models import User
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from media_pipeline.models import ApiToken
from project.lockout import client_ip_address

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
PASSWORD = "pw-throttle-123"
HOME = "192.0.2.10"
ELSEWHERE = "198.51.100.20"
LOCKED_MESSAGE = b"Too many failed sign-ins for this account or from this address"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Every sign-in hashes a password; Django's default PBKDF2 would make these tests slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", password=PASSWORD)


def sign_in(client: Client, username: str, password: str, address: str = HOME,
            **headers: Any) -> HttpResponse:
    return client.post(LOGIN, {"username": username, "password": password},
                       REMOTE_ADDR=address, **headers)


def fail(times: int, username: str, address: str = HOME, **headers: Any) -> list[int]:
    """Wrong passwords, each from a fresh client (no cookie ties the attempts together)."""
    return [sign_in(Client(), username, "wrong", address, **headers).status_code
            for _ in range(times)]


def limit() -> int:
    return int(project_settings.AXES_FAILURE_LIMIT)


def travel_forward(by: timedelta) -> None:
    """Move the clock forward by ageing every recorded failure: what django-axes compares
    against the cool-off is the time of the last failure."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


def test_the_right_password_after_too_many_wrong_ones_is_refused_with_429(alice: User) -> None:
    assert fail(limit(), "alice") == [200] * (limit() - 1) + [429]
    client = Client()

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content
    assert client.get("/").status_code == 302


def test_the_lockout_page_is_in_the_site_layout_and_says_when_to_try_again(
        alice: User, settings: Any) -> None:
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    fail(limit(), "alice")

    response = sign_in(Client(), "alice", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "base.html" in [template.name for template in response.templates]
    assert b"Try again in 15\xc2\xa0minutes" in response.content
    assert b"<time datetime=" in response.content


def test_the_lockout_page_is_served_under_asgi_too(alice: User) -> None:
    # AxesMiddleware's async path calls the lockout hook with its arguments in another order.
    post = async_to_sync(AsyncClient().post)
    for _ in range(limit()):
        post(LOGIN, {"username": "alice", "password": "wrong"})

    response = post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content


def test_a_locked_username_is_refused_from_every_address(alice: User) -> None:
    fail(limit(), "alice", HOME)

    assert sign_in(Client(), "alice", PASSWORD, ELSEWHERE).status_code == 429


def test_another_user_from_another_address_still_signs_in(alice: User, bob: User) -> None:
    fail(limit(), "alice", HOME)
    client = Client()

    response = sign_in(client, "bob", PASSWORD, ELSEWHERE)

    assert response.status_code == 302
    assert client.get("/", REMOTE_ADDR=ELSEWHERE).status_code == 200
    assert Client().get(LOGIN, REMOTE_ADDR=HOME).status_code == 200


def test_failures_by_one_address_across_many_usernames_lock_the_address(bob: User) -> None:
    for attempt in range(limit()):
        fail(1, f"guess-{attempt}", HOME)

    assert sign_in(Client(), "bob", PASSWORD, HOME).status_code == 429
    assert sign_in(Client(), "bob", PASSWORD, ELSEWHERE).status_code == 302


def test_after_the_cool_off_the_right_password_signs_in(alice: User) -> None:
    cool_off = get_cool_off()
    assert cool_off, "with no AXES_COOLOFF_TIME a lock never ends"
    fail(limit(), "alice")
    travel_forward(cool_off * 0.9)
    assert sign_in(Client(), "alice", PASSWORD).status_code == 429

    travel_forward(cool_off + timedelta(seconds=1))

    assert sign_in(Client(), "alice", PASSWORD).status_code == 302


def test_an_attempt_while_locked_starts_the_cool_off_again(alice: User) -> None:
    cool_off = get_cool_off()
    assert cool_off, "with no AXES_COOLOFF_TIME a lock never ends"
    fail(limit(), "alice")
    travel_forward(cool_off * 0.9)
    assert sign_in(Client(), "alice", PASSWORD).status_code == 429

    travel_forward(cool_off * 0.2)

    assert sign_in(Client(), "alice", PASSWORD).status_code == 429


def test_signing_in_as_someone_else_between_guesses_does_not_lift_the_lock(alice: User,
                                                                          bob: User) -> None:
    fail(limit() - 1, "bob")
    assert sign_in(Client(), "alice", PASSWORD).status_code == 302

    assert fail(1, "bob") == [429]


def test_a_forged_x_forwarded_for_does_not_escape_the_address_lock(
        bob: User, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt in range(limit()):
        fail(1, f"guess-{attempt}", HOME, HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")

    response = sign_in(Client(), "bob", PASSWORD, HOME, HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_clients_are_told_apart_by_the_address_it_forwards(
        bob: User, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "127.0.0.1"
    for attempt in range(limit()):
        # A client that writes its own X-Forwarded-For still gets its real address appended.
        forged = f"203.0.113.{attempt}, {HOME}"
        fail(1, f"guess-{attempt}", proxy, HTTP_X_FORWARDED_FOR=forged)

    assert sign_in(Client(), "bob", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=HOME).status_code == 429
    assert sign_in(Client(), "bob", PASSWORD, proxy,
                   HTTP_X_FORWARDED_FOR=ELSEWHERE).status_code == 302


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.9", "127.0.0.1"),
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
    (2, "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
    (1, "2001:db8::1", "2001:db8::1"),
    (1, "", "127.0.0.1"),
    (2, "203.0.113.9", "127.0.0.1"),
    (1, "not-an-address", "127.0.0.1"),
    (1, "fe80::1%" + "a" * 40, "127.0.0.1"),  # a zone, which PostgreSQL's inet refuses
])
def test_client_address_is_the_peer_unless_trusted_proxies_forward_one(
        proxies: int, forwarded: str, expected: str, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip_address(request) == expected


def test_the_admin_sign_in_is_throttled_too(admin_user: User) -> None:
    for _ in range(limit()):
        Client().post("/admin/login/", {"username": "admin", "password": "wrong"},
                      REMOTE_ADDR=HOME)

    response = Client().post("/admin/login/?next=/admin/",
                             {"username": "admin", "password": "password"}, REMOTE_ADDR=HOME)

    assert response.status_code == 429


def test_bearer_token_requests_do_not_go_through_the_lock(alice: User) -> None:
    token = ApiToken.issue(alice)
    fail(limit(), "alice", HOME)

    response = Client().get("/api/media/", REMOTE_ADDR=HOME, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200


def test_test_client_login_works_when_given_a_request(alice: User) -> None:
    client = Client()

    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert client.get("/").status_code == 200


def test_test_client_login_without_a_request_is_refused_by_axes(alice: User) -> None:
    with pytest.raises(AxesBackendRequestParameterRequired):
        Client().login(username="alice", password=PASSWORD)


def test_force_login_is_not_throttled(alice: User) -> None:
    fail(limit(), "alice")
    client = Client()

    client.force_login(alice)

    assert client.get("/").status_code == 200


def test_defaults_lock_after_five_failures_for_fifteen_minutes_by_remote_addr(
        tmp_path: Path) -> None:
    names = ("AXES_FAILURE_LIMIT", "AXES_COOLOFF_SECONDS", "TRUSTED_PROXY_COUNT")
    env = {k: v for k, v in os.environ.items() if k not in names}
    script = ("from project import settings as s; "
              "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME * 3600, s.TRUSTED_PROXY_COUNT)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT,
                          env={**env, "VAR_DIR": str(tmp_path)}, capture_output=True, text=True,
                          timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5", "900.0", "0"]


@pytest.mark.parametrize("env", [
    {"AXES_FAILURE_LIMIT": "0"}, {"AXES_COOLOFF_SECONDS": "0"}, {"TRUSTED_PROXY_COUNT": "-1"},
])
def test_a_throttling_setting_out_of_range_refuses_to_start(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
                          check=False)

    assert done.returncode != 0
    assert next(iter(env)) in done.stderr


def test_a_username_longer_than_djangos_is_counted_by_its_first_150_characters(db: None) -> None:
    from axes.models import AccessAttempt

    fail(1, "u" * 300)

    assert [len(a.username) for a in AccessAttempt.objects.all()] == [150]
