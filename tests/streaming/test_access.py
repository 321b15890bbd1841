"""Who may stream: a valid signature, the owner's session, or anyone for a public asset."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core import signing as django_signing
from django.test import Client

from media_pipeline.models import MediaAsset
from streaming import signing
from streaming.conf import stream_settings
from streaming.signing import Grant, original_url, sign_asset_id, stream_url
from tests.streaming.conftest import MakeAsset


def unsigned_url(asset: MediaAsset) -> str:
    return stream_url(asset).partition("?")[0]


def test_valid_signature_needs_no_session(client: Client, make_asset: MakeAsset) -> None:
    assert client.get(stream_url(make_asset())).status_code == HTTPStatus.OK


def test_stream_url_is_relative_and_names_only_the_asset_id(make_asset: MakeAsset) -> None:
    asset = make_asset()
    assert stream_url(asset).startswith(f"/stream/{asset.id}/?sig=")


@pytest.mark.parametrize("tamper", ["flip-last", "drop-timestamp", "empty", "garbage"])
def test_tampered_signature_is_403(client: Client, make_asset: MakeAsset, tamper: str) -> None:
    asset = make_asset()
    signature = sign_asset_id(asset.id)
    bad = {"flip-last": signature[:-1] + ("A" if signature[-1] != "A" else "B"),
           "drop-timestamp": signature.partition(":")[2], "empty": "", "garbage": "x:y"}[tamper]
    response = client.get(f"{unsigned_url(asset)}?sig={bad}")
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_signature_of_another_asset_is_403(client: Client, make_asset: MakeAsset) -> None:
    asset, other = make_asset(), make_asset()
    response = client.get(f"{unsigned_url(asset)}?sig={sign_asset_id(other.id)}")
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_expired_signature_is_403(client: Client, make_asset: MakeAsset, settings) -> None:
    url = stream_url(make_asset())
    settings.STREAM_URL_TTL = -1  # every signature is now older than the TTL
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


def test_a_signature_dated_in_the_future_is_403(client: Client, make_asset: MakeAsset,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    asset = make_asset()
    ahead = time.time() + 10 * 365 * 86400
    monkeypatch.setattr(django_signing, "time", SimpleNamespace(time=lambda: ahead))
    url = stream_url(asset)
    monkeypatch.undo()
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


def test_a_signature_within_the_clock_skew_is_accepted(client: Client, make_asset: MakeAsset,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    asset = make_asset()
    ahead = time.time() + signing.CLOCK_SKEW_SECONDS / 2
    monkeypatch.setattr(django_signing, "time", SimpleNamespace(time=lambda: ahead))
    url = stream_url(asset)
    monkeypatch.undo()
    assert client.get(url).status_code == HTTPStatus.OK


def test_a_shared_url_stops_when_the_share_is_withdrawn(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(is_public=True)
    url = stream_url(asset, Grant.SHARE)
    assert client.get(url).status_code == HTTPStatus.OK
    MediaAsset.objects.filter(pk=asset.pk).update(is_public=False)
    assert client.get(url).status_code == HTTPStatus.NOT_FOUND


def test_an_owners_url_keeps_playing_after_unsharing(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(is_public=True)
    url = stream_url(asset, Grant.OWNER)
    MediaAsset.objects.filter(pk=asset.pk).update(is_public=False)
    assert client.get(url).status_code == HTTPStatus.OK


def test_a_shared_grant_cannot_be_rewritten_into_an_owners(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset(is_public=True)
    grant, _, rest = sign_asset_id(asset.id, Grant.SHARE).partition(":")
    assert grant == "s"
    assert client.get(f"{unsigned_url(asset)}?sig=o:{rest}").status_code == HTTPStatus.FORBIDDEN


def test_a_deleted_assets_url_is_404(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset()
    url = stream_url(asset)
    asset.delete()
    assert client.get(url).status_code == HTTPStatus.NOT_FOUND


def test_a_url_in_the_old_format_without_a_grant_is_403(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset()
    old = django_signing.TimestampSigner(salt="streaming.stream-url").sign(str(asset.id))
    response = client.get(f"{unsigned_url(asset)}?sig={old.partition(':')[2]}")
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_owner_session_streams_without_signature(client: Client, make_asset: MakeAsset, owner: User) -> None:
    client.force_login(owner)
    assert client.get(unsigned_url(make_asset())).status_code == HTTPStatus.OK


def test_other_user_without_signature_gets_404(client: Client, make_asset: MakeAsset, stranger: User) -> None:
    client.force_login(stranger)
    assert client.get(unsigned_url(make_asset())).status_code == HTTPStatus.NOT_FOUND


def test_anonymous_without_signature_gets_404(client: Client, make_asset: MakeAsset) -> None:
    assert client.get(unsigned_url(make_asset())).status_code == HTTPStatus.NOT_FOUND


def test_public_asset_streams_to_anyone_and_may_be_cached(client: Client, make_asset: MakeAsset) -> None:
    response = client.get(unsigned_url(make_asset(is_public=True)))
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize("status", [MediaAsset.Status.PENDING, MediaAsset.Status.PROCESSING,
                                    MediaAsset.Status.FAILED])
def test_assets_that_are_not_ready_are_404_even_when_signed(client: Client, make_asset: MakeAsset,
                                                            status: str) -> None:
    assert client.get(stream_url(make_asset(status=status))).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("path", ["/stream/../../etc/passwd/", "/stream/%2e%2e%2fsettings.py/",
                                  "/stream/media%2Fx%2Foriginal/", "/stream/not-a-uuid/"])
def test_url_paths_never_reach_the_filesystem(client: Client, path: str, db) -> None:
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND


def test_storage_key_escaping_media_root_is_refused(client: Client, make_asset: MakeAsset,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    asset = make_asset(storage_key="../outside", original_key="../outside")
    # A corrupt row: nothing to serve, to the owner as to anyone else, and an error logged.
    assert client.get(stream_url(asset)).status_code == HTTPStatus.NOT_FOUND
    assert client.get(unsigned_url(asset)).status_code == HTTPStatus.NOT_FOUND
    assert client.get(original_url(asset)).status_code == HTTPStatus.NOT_FOUND
    assert "names no stored object" in caplog.text


def test_a_remembered_signature_still_expires(client: Client, make_asset: MakeAsset,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = stream_url(make_asset())
    assert client.get(url).status_code == HTTPStatus.OK  # its MAC is now remembered
    later = time.time() + stream_settings().url_ttl + 60
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: later))
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


def test_a_signature_is_checked_once_and_forged_ones_every_time(
        client: Client, make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch) -> None:
    macs: list[str] = []
    unsign = django_signing.Signer.unsign

    def counted(self: django_signing.Signer, value: str) -> str:
        macs.append(value)
        return unsign(self, value)

    monkeypatch.setattr(django_signing.Signer, "unsign", counted)
    asset = make_asset()
    url = stream_url(asset)
    for _ in range(3):  # a player's seeks, all with one URL
        assert client.get(url).status_code == HTTPStatus.OK
    assert len(macs) == 1
    forged = sign_asset_id(uuid.uuid4())  # right for another asset, wrong for this one
    for _ in range(3):
        assert client.get(f"{unsigned_url(asset)}?sig={forged}").status_code == HTTPStatus.FORBIDDEN
    assert len(macs) == 4  # each one computed again: a forgery never takes a place in the memo


def test_an_edited_asset_is_answered_from_its_new_row(client: Client, make_asset: MakeAsset) -> None:
    asset = make_asset()
    url = stream_url(asset)
    assert client.get(url)["Content-Disposition"] == 'inline; filename="clip.mp4"'
    MediaAsset.objects.filter(pk=asset.pk).update(filename="renamed.mp3", mime_type="audio/mpeg",
                                                  is_public=True)
    response = client.get(url)
    assert response["Content-Disposition"] == 'inline; filename="renamed.mp3"'
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Cache-Control"] == "public, max-age=300"


def test_a_new_media_root_is_read_at_once(client: Client, make_asset: MakeAsset, settings,
                                          tmp_path) -> None:
    asset = make_asset(b"old bytes")
    url = stream_url(asset)
    assert client.get(url).getvalue() == b"old bytes"
    moved = tmp_path / "moved"
    (moved / asset.storage_key).parent.mkdir(parents=True)
    (moved / asset.storage_key).write_bytes(b"new bytes")
    settings.MEDIA_ROOT = moved
    assert client.get(url).getvalue() == b"new bytes"


def test_a_refused_signature_is_logged_without_a_traceback(client: Client, make_asset: MakeAsset,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    asset = make_asset()
    response = client.get(f"{unsigned_url(asset)}?sig=o:forged")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not [record for record in caplog.records if record.exc_info]
