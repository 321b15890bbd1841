from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.html import elements

pytestmark = pytest.mark.django_db

PASSWORD = "pw-auth-123"


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("owner", password=PASSWORD)


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def test_login_page_has_labelled_username_and_password_fields() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    inputs = {attrs.get("name"): attrs for attrs in elements(response.content, "input")}
    labels = {attrs.get("for") for attrs in elements(response.content, "label")}
    assert inputs["username"]["id"] in labels
    assert inputs["password"]["id"] in labels
    assert inputs["password"]["type"] == "password"
    assert "csrfmiddlewaretoken" in inputs


def test_signing_in_leads_to_the_upload_page(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    response = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD,
                                                "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_shows_an_error_without_signing_in(owner: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"don\xe2\x80\x99t match" in response.content
    assert client.get("/").status_code == 302


def test_sign_out_is_a_post_form_with_csrf(owner_client: Client) -> None:
    response = owner_client.get("/")
    forms = [f for f in elements(response.content, "form") if f.get("action") == "/accounts/logout/"]
    assert forms and forms[0]["method"] == "post"
    signed_out = owner_client.post("/accounts/logout/")
    assert signed_out.status_code == 302
    assert owner_client.get("/").status_code == 302
