from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from media_pipeline.models import MediaAsset
from streaming.signing import SignatureCheck, check_signature
from tests.html import elements
from tests.media_pipeline.pages.conftest import MakeRow
from tests.services import use_media_storage

pytestmark = pytest.mark.django_db


def assert_signed_stream_url(url: str, asset: MediaAsset,
                             grant: SignatureCheck = SignatureCheck.OWNER) -> None:
    parts = urlsplit(url)
    assert parts.path == f"/stream/{asset.id}/"
    [signature] = parse_qs(parts.query)["sig"]
    assert check_signature(asset.id, signature) is grant


def test_video_element_streams_from_the_signed_url(owner_client: Client,
                                                   make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get(f"/media/{asset.id}/")
    assert response.status_code == 200
    [video] = elements(response.content, "video")
    assert_signed_stream_url(video["src"], asset)
    assert video["poster"] == f"/media/{asset.id}/poster.jpg"
    assert "controls" in video


def test_download_link_is_the_stream_url_with_download_1(owner_client: Client,
                                                         make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get(f"/media/{asset.id}/")
    [download] = [a for a in elements(response.content, "a") if "data-download" in a]
    assert download["href"].endswith("&download=1")
    assert_signed_stream_url(download["href"].removesuffix("&download=1"), asset)


def test_owner_is_offered_the_original_beside_a_rendition(owner_client: Client,
                                                        make_row: MakeRow) -> None:
    asset = make_row(playback_method="transcode", storage_key="media/x/playable",
                       original_key="media/x/original", original_mime_type="video/quicktime")
    [link] = [a for a in elements(owner_client.get(f"/media/{asset.id}/").content, "a")
              if "data-download-original" in a]
    parts = urlsplit(link["href"])
    assert parts.path == f"/stream/{asset.id}/original/"
    assert check_signature(asset.id, parse_qs(parts.query)["sig"][0]) is SignatureCheck.ORIGINAL
    # A viewer of the shared asset plays the rendition and is not offered the original.
    MediaAsset.objects.filter(pk=asset.pk).update(is_public=True)
    shared = Client().get(f"/media/{asset.id}/").content
    assert not [a for a in elements(shared, "a") if "data-download-original" in a]


def test_an_original_that_plays_as_it_is_is_offered_once(owner_client: Client,
                                                        make_row: MakeRow) -> None:
    asset = make_row(original_key="media/x.mp4")  # the same object the stream serves
    links = elements(owner_client.get(f"/media/{asset.id}/").content, "a")
    assert not [a for a in links if "data-download-original" in a]
    assert [a for a in links if "data-download" in a]


def test_player_shows_the_metadata(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    content = owner_client.get(f"/media/{asset.id}/").content.decode()
    for text in ("video/mp4", "5.0\xa0MB", "2:05", "320 × 240", "h264", "aac"):
        assert text in content


def test_audio_asset_gets_an_audio_element(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row(filename="tone.mp3", mime_type="audio/mpeg", video_codec="",
                       audio_codec="mp3", width=None, height=None, poster_key="")
    response = owner_client.get(f"/media/{asset.id}/")
    assert elements(response.content, "video") == []
    [audio] = elements(response.content, "audio")
    assert_signed_stream_url(audio["src"], asset)


def test_image_asset_is_shown_as_an_image(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row(filename="cat.png", mime_type="image/png", poster_key="", duration=None)
    response = owner_client.get(f"/media/{asset.id}/")
    [img] = elements(response.content, "img")
    assert_signed_stream_url(img["src"], asset)
    assert img["alt"] == "cat.png"


def test_other_kinds_are_only_offered_as_a_download(owner_client: Client,
                                                    make_row: MakeRow) -> None:
    asset = make_row(filename="notes.pdf", mime_type="application/pdf", poster_key="")
    response = owner_client.get(f"/media/{asset.id}/")
    for tag in ("video", "audio", "img", "iframe", "object", "embed"):
        assert elements(response.content, tag) == [], tag
    assert [a for a in elements(response.content, "a") if "data-download" in a]


def test_pages_forbid_frames_and_plugins(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    policy = owner_client.get(f"/media/{asset.id}/")["Content-Security-Policy"]
    assert "object-src 'none'" in policy
    assert "frame-src 'none'" in policy
    assert "media-src 'self'" in policy


def test_pages_keep_their_signed_links_from_other_origins(owner_client: Client,
                                                          make_row: MakeRow) -> None:
    response = owner_client.get(f"/media/{make_row().id}/")
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_allow_the_s3_origin_when_streams_redirect_there(owner_client: Client,
                                                               make_row: MakeRow,
                                                               settings) -> None:
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    use_media_storage(settings, "s3")
    settings.STREAM_DELIVERY = "redirect"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "https://media.example.com:9000/ignored/path"
    asset = make_row()
    policy = owner_client.get(f"/media/{asset.id}/")["Content-Security-Policy"]
    assert "media-src 'self' https://media.example.com:9000;" in policy


def test_failed_asset_shows_its_reason(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row(status=MediaAsset.Status.FAILED, mime_type="text/html", poster_key="",
                       error="Files of type text/html are not accepted; upload video, audio or an image.")
    response = owner_client.get(f"/media/{asset.id}/")
    assert b"Files of type text/html are not accepted" in response.content
    assert elements(response.content, "video") == []
    assert not [a for a in elements(response.content, "a") if "data-download" in a]


@pytest.mark.parametrize("status", [MediaAsset.Status.PENDING, MediaAsset.Status.PROCESSING])
def test_unfinished_asset_has_no_stream_yet(owner_client: Client, make_row: MakeRow,
                                            status: str) -> None:
    asset = make_row(status=status, poster_key="")
    response = owner_client.get(f"/media/{asset.id}/")
    assert response.status_code == 200
    assert b"/stream/" not in response.content
    [player] = [d for d in elements(response.content, "div") if "data-player" in d]
    assert player["data-item-url"] == f"/api/media/{asset.id}/"  # the script polls it


# --- Visibility -------------------------------------------------------------------------------

def test_another_users_private_asset_is_404(stranger_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    assert stranger_client.get(f"/media/{asset.id}/").status_code == 404


def test_private_asset_is_404_when_signed_out(make_row: MakeRow) -> None:
    asset = make_row()
    assert Client().get(f"/media/{asset.id}/").status_code == 404


def test_unknown_asset_is_404(owner_client: Client) -> None:
    assert owner_client.get(f"/media/{uuid.uuid4()}/").status_code == 404


def test_public_asset_plays_signed_out_with_a_share_link(make_row: MakeRow) -> None:
    asset = make_row(is_public=True)
    response = Client().get(f"/media/{asset.id}/")
    assert response.status_code == 200
    [video] = elements(response.content, "video")
    assert_signed_stream_url(video["src"], asset, SignatureCheck.SHARE)  # stops if unshared
    [share] = [i for i in elements(response.content, "input") if "data-share-url" in i]
    assert share["value"] == f"http://testserver/media/{asset.id}/"
    # A visitor sees no owner controls.
    assert not [b for b in elements(response.content, "button") if "data-visibility-toggle" in b]


def test_private_asset_has_no_share_link(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.get(f"/media/{asset.id}/")
    assert not [i for i in elements(response.content, "input") if "data-share-url" in i]


def test_owner_makes_an_asset_public_and_private_again(owner_client: Client,
                                                       make_row: MakeRow) -> None:
    asset = make_row()
    response = owner_client.post(f"/media/{asset.id}/", {"is_public": "1"})
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.is_public
    assert b"data-share-url" in owner_client.get(f"/media/{asset.id}/").content
    owner_client.post(f"/media/{asset.id}/", {"is_public": "0"})
    asset.refresh_from_db()
    assert not asset.is_public


def test_visibility_change_without_csrf_token_is_refused(owner, make_row: MakeRow) -> None:
    asset = make_row()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/media/{asset.id}/", {"is_public": "1"}).status_code == 403
    asset.refresh_from_db()
    assert not asset.is_public


def test_visitors_cannot_change_a_public_assets_visibility(stranger_client: Client,
                                                            make_row: MakeRow) -> None:
    asset = make_row(is_public=True)
    assert stranger_client.post(f"/media/{asset.id}/", {"is_public": "0"}).status_code == 404
    assert Client().post(f"/media/{asset.id}/", {"is_public": "0"}).status_code == 404
    asset.refresh_from_db()
    assert asset.is_public


def test_visibility_value_must_be_0_or_1(owner_client: Client, make_row: MakeRow) -> None:
    asset = make_row()
    assert owner_client.post(f"/media/{asset.id}/", {"is_public": "yes"}).status_code == 400
