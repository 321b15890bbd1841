"""`/accounts/logout/`: GET answers with a sign-out button, POST signs out."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_get_logout_shows_a_sign_out_button_and_keeps_the_session(client: Client) -> None:
    user = User.objects.create_user("alice")
    client.force_login(user)

    response = client.get("/accounts/logout/")

    assert response.status_code == 200
    assert b'method="post"' in response.content and b"csrfmiddlewaretoken" in response.content
    assert client.get("/api/media/").status_code == 200


def test_post_logout_signs_out(client: Client) -> None:
    client.force_login(User.objects.create_user("alice"))

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/api/media/").status_code == 401
