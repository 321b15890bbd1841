from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.html import elements

pytestmark = pytest.mark.django_db


def test_upload_page_requires_sign_in() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_upload_page_gives_the_script_the_size_limit(owner_client: Client, settings) -> None:
    settings.MEDIA_MAX_UPLOAD_SIZE = 123_456
    response = owner_client.get("/")
    [uploader] = [f for f in elements(response.content, "form") if "data-uploader" in f]
    assert uploader["data-max-size"] == "123456"
    assert uploader["data-tus-url"] == "/api/uploads/"
    assert b"120.6\xc2\xa0KB" in response.content  # the limit in words, as filesizeformat says it


def test_upload_page_has_a_labelled_multiple_file_input(owner_client: Client) -> None:
    response = owner_client.get("/")
    [file_input] = [i for i in elements(response.content, "input") if i.get("type") == "file"]
    assert "multiple" in file_input
    assert file_input["name"] == "file"
    assert file_input["id"] in {label.get("for") for label in elements(response.content, "label")}


def test_upload_form_carries_a_csrf_token(owner_client: Client) -> None:
    response = owner_client.get("/")
    names = [i.get("name") for i in elements(response.content, "input")]
    # One for the upload form, one for the sign-out form.
    assert names.count("csrfmiddlewaretoken") == 2


def test_upload_page_loads_its_script_from_static_files_only(owner_client: Client) -> None:
    response = owner_client.get("/")
    scripts = elements(response.content, "script")
    assert scripts == [{"src": "/static/media_pipeline/vendor/tus-js-client/tus.min.js", "defer": ""},
                       {"src": "/static/media_pipeline/upload.js", "defer": ""}]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_upload_script_and_stylesheet_are_found_by_staticfiles() -> None:
    # Served by the staticfiles finders under DEBUG (WhiteNoise in gunicorn); a broken
    # reference would leave the page without its behaviour.
    from django.contrib.staticfiles import finders

    for name in ("upload.js", "library.js", "player.js", "site.css",
                 "vendor/tus-js-client/tus.min.js"):
        assert finders.find(f"media_pipeline/{name}"), name


def test_the_vendored_tus_client_is_the_pinned_version() -> None:
    """scripts/vendor_js.sh pins it and writes VERSION beside the file it fetched."""
    root = Path(__file__).resolve().parents[3]
    [pin] = re.findall(r"^TUS_JS_CLIENT=(\S+)$", (root / "scripts/vendor_js.sh").read_text(), re.M)
    vendored = root / "media_pipeline/static/media_pipeline/vendor/tus-js-client"
    assert (vendored / "VERSION").read_text().strip() == pin
    assert (vendored / "LICENSE").is_file()
