"""The site's error pages answer what Django refused, without reading the request again."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "utf8"])
def test_a_form_in_another_charset_than_utf8_is_400_not_500(charset: str) -> None:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/accounts/login/").cookies["csrftoken"].value
    response = client.post("/accounts/login/", "username=a&password=b",
                           content_type=f"application/x-www-form-urlencoded; charset={charset}",
                           HTTP_COOKIE=f"csrftoken={token}")
    assert response.status_code == 400


def test_an_unknown_page_is_404_and_a_forbidden_one_403(client: Client) -> None:
    assert client.get("/no-such-page/").status_code == 404
    assert client.get(f"/stream/{'0' * 8}-0000-0000-0000-{'0' * 12}/?sig=x").status_code == 403
