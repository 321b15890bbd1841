"""Input PostgreSQL refuses where SQLite would not: the real stack on a real PostgreSQL answers
it as bad input, never 500."""

from __future__ import annotations

import http.client
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.services import PostgresCluster, RedisServer
from tests.stack import AppStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
          postgres_cluster: PostgresCluster) -> Iterator[AppStack]:
    database = postgres_cluster.create_database(f"input_{uuid.uuid4().hex[:8]}")
    app = AppStack(tmp_path_factory.mktemp("pg-input"), redis_server.url,
                   {"MEDIA_STORAGE": "local", "TRUSTED_PROXY_COUNT": "1"}, database_url=database)
    try:
        yield app.migrate().start_web()
    finally:
        app.stop()


def get(stack: AppStack, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def failed_sign_in(stack: AppStack, username: str, forwarded_for: str = "203.0.113.7") -> int:
    """A wrong password through the real sign-in form, with its CSRF cookie and token."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    connection.request("GET", "/accounts/login/")
    page = connection.getresponse()
    html = page.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"])[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    body = f"csrfmiddlewaretoken={token}&username={username}&password=wrong"
    connection.request("POST", "/accounts/login/", body=body, headers={
        "Cookie": f"csrftoken={cookie}", "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": forwarded_for})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def test_a_session_cookie_with_a_nul_byte_is_an_anonymous_request(stack: AppStack) -> None:
    response = get(stack, "/media/", {"Cookie": 'sessionid="\\000aaaaaaaaaa"'})
    assert response.status == 302 and response.headers["Location"].startswith("/accounts/login/")


def test_a_username_longer_than_any_column_is_a_failed_sign_in(stack: AppStack) -> None:
    assert failed_sign_in(stack, "u" * 300) == 200


def test_a_forwarded_address_with_a_zone_is_a_failed_sign_in(stack: AppStack) -> None:
    assert failed_sign_in(stack, "zoe", forwarded_for="fe80::1%" + "a" * 40) == 200
