"""Who may see an asset, and the owner's share toggle (media_pipeline/access.py)."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404
from django.test import RequestFactory

from media_pipeline.access import owned_asset, owned_assets, set_public, visible_asset
from media_pipeline.models import MediaAsset

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("olga")


@pytest.fixture
def asset(owner: User) -> MediaAsset:
    return MediaAsset.objects.create(owner=owner, filename="a.mp4", storage="local")


def request_by(user: User | AnonymousUser):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_the_owner_gets_their_asset(owner: User, asset: MediaAsset) -> None:
    assert owned_asset(owner, asset.id) == asset
    assert list(owned_assets(owner)) == [asset]


@pytest.mark.parametrize("asset_id", ["not-a-uuid", str(uuid.uuid4()), None, 12])
def test_a_bad_or_unknown_id_is_404(owner: User, asset: MediaAsset, asset_id: object) -> None:
    with pytest.raises(Http404):
        owned_asset(owner, asset_id)
    with pytest.raises(Http404):
        visible_asset(request_by(owner), asset_id)


def test_nobody_else_owns_it_even_when_it_is_public(asset: MediaAsset) -> None:
    stranger = User.objects.create_user("sam")
    set_public(asset, True)
    for user in (stranger, AnonymousUser()):
        with pytest.raises(Http404):
            owned_asset(user, asset.id)
        assert list(owned_assets(user)) == []


def test_anyone_sees_it_while_it_is_public_and_only_then(asset: MediaAsset) -> None:
    visitor = request_by(AnonymousUser())
    with pytest.raises(Http404):
        visible_asset(visitor, asset.id)
    set_public(asset, True)
    assert visible_asset(visitor, asset.id) == asset
    set_public(asset, False)
    assert MediaAsset.objects.get(pk=asset.pk).is_public is False
    with pytest.raises(Http404):
        visible_asset(visitor, asset.id)
