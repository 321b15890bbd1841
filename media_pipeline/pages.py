"""The pages people use: sign-in lives in Django's auth views; upload, library, player here.

The pages are plain templates. The little JavaScript they carry (media_pipeline/static/) talks
to the JSON API for uploads and live status; everything else is ordinary forms with CSRF, so
sharing and deleting also work without JavaScript.

Nothing uploaded is ever rendered as a document from our origin: media are embedded only as
`<video>`, `<audio>` or `<img>` from the signed stream URL (served with `nosniff`), anything
else is offered as a download, and every page carries a Content-Security-Policy that forbids
frames, plugins and scripts other than our own static files.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from media_pipeline import storage
from media_pipeline.access import owned_asset, owned_assets, set_public, visible_asset
from media_pipeline.models import MediaAsset
from media_pipeline.removal import delete_asset
from streaming.conf import stream_settings
from streaming.signing import Grant, original_url, stream_url

View = Callable[..., HttpResponse]

# The API item URL with a placeholder id; the upload script swaps in each asset's id, so the
# URL layout stays defined once, in urls.py.
_PLACEHOLDER_ID = uuid.UUID(int=0)


# --- Content-Security-Policy ------------------------------------------------------------------

def _media_sources() -> str:
    """Where `<video>`/`<audio>`/`<img>` may load from: us, and S3 when streams redirect there.

    A CSP applies to every hop of a redirect, so STREAM_DELIVERY=redirect needs the origin the
    presigned URLs point at (the public endpoint if set, else the API endpoint, else AWS).
    """
    conf = stream_settings()
    if conf.delivery != "redirect" or storage.backend() != "s3":
        return "'self'"
    endpoint = (getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", None)
                or getattr(settings, "AWS_S3_ENDPOINT_URL", None))
    if not endpoint:
        return "'self' https://*.amazonaws.com"
    parts = urlsplit(endpoint)
    return f"'self' {parts.scheme}://{parts.netloc}"


def content_security_policy() -> str:
    media = _media_sources()
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {media} data:",
        f"media-src {media}",
        "object-src 'none'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


def with_csp(view: View) -> View:
    """Send the policy with every page: a second line of defence should a filename or other
    uploader-controlled text ever slip past template escaping."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", content_security_policy())
        return response

    return wrapper


# --- What the templates show ------------------------------------------------------------------

def format_duration(seconds: float | None) -> str:
    """'1:05', '1:02:03'; '' when unknown. Media players show time this way, so people read it."""
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class AssetView:
    """One asset as the templates need it: URLs signed once per page load, figures formatted."""

    asset: MediaAsset
    kind: str
    is_ready: bool
    stream_url: str | None
    download_url: str | None
    # The upload as it was sent, for its owner, where what plays is a rendition made from it.
    original_url: str | None
    poster_url: str | None
    thumbnail_url: str | None
    duration: str

    @classmethod
    def of(cls, asset: MediaAsset, grant: Grant = Grant.OWNER) -> AssetView:
        """`grant`: the owner's URLs, or a viewer's, which stop when the share is withdrawn."""
        ready = asset.status == MediaAsset.Status.READY
        signed = stream_url(asset, grant) if ready else None
        poster = (reverse("media_pipeline:poster", args=[asset.id])
                  if ready and asset.poster_key else None)
        # An image is its own thumbnail; `<img>` never executes what it loads.
        thumbnail = poster or (signed if asset.media_kind == "image" else None)
        return cls(
            asset=asset,
            kind=asset.media_kind,
            is_ready=ready,
            stream_url=signed,
            download_url=f"{signed}&download=1" if signed else None,
            original_url=(original_url(asset) if signed and grant is Grant.OWNER
                          and asset.original_key and asset.original_key != asset.storage_key
                          else None),
            poster_url=poster,
            thumbnail_url=thumbnail,
            duration=format_duration(asset.duration),
        )


# --- Views ------------------------------------------------------------------------------------

@require_GET
@login_required
@with_csp
def upload_page(request: HttpRequest) -> HttpResponse:
    return render(request, "media_pipeline/upload.html", {
        "max_upload_size": settings.MEDIA_MAX_UPLOAD_SIZE,
        "api_collection_url": reverse("media_pipeline:api-collection"),
        "tus_url": reverse("media_pipeline:tus-collection"),
        "chunk_size": settings.MEDIA_UPLOAD_CHUNK_SIZE,
        "api_item_url_template": reverse("media_pipeline:api-item", args=[_PLACEHOLDER_ID]),
        "placeholder_id": str(_PLACEHOLDER_ID),
    })


@require_GET
@login_required
@with_csp
def library(request: HttpRequest) -> HttpResponse:
    assets = owned_assets(request.user)
    return render(request, "media_pipeline/library.html", {
        "items": [AssetView.of(asset) for asset in assets],
        "api_item_url_template": reverse("media_pipeline:api-item", args=[_PLACEHOLDER_ID]),
        "placeholder_id": str(_PLACEHOLDER_ID),
    })


@require_http_methods(["GET", "HEAD", "POST"])
@with_csp
def player(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """The asset's page for its owner and, once public, for anyone; POST is the owner's
    share/unshare form."""
    if request.method == "POST":
        return _change_visibility(request, asset_id)
    asset = visible_asset(request, asset_id)
    is_owner = request.user.is_authenticated and asset.owner_id == request.user.pk
    page_url = reverse("media_pipeline:player", args=[asset.id])
    return render(request, "media_pipeline/player.html", {
        "item": AssetView.of(asset, Grant.OWNER if is_owner else Grant.SHARE),
        "asset": asset,
        "is_owner": is_owner,
        "share_url": request.build_absolute_uri(page_url) if asset.is_public else None,
        "api_item_url": reverse("media_pipeline:api-item", args=[asset.id]) if is_owner else None,
    })


def _change_visibility(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    # Not login_required's redirect: a signed-out POST must not learn whether the asset exists.
    if not request.user.is_authenticated:
        raise Http404("No such media.")
    asset = owned_asset(request.user, asset_id)
    wanted = request.POST.get("is_public")
    if wanted not in ("0", "1"):
        return HttpResponse("is_public must be 0 or 1.", status=HTTPStatus.BAD_REQUEST,
                            content_type="text/plain")
    set_public(asset, wanted == "1")
    messages.success(request, "Anyone with the link can now watch this." if asset.is_public
                     else "Only you can see this now.")
    return redirect("media_pipeline:player", asset_id=asset.id)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@with_csp
def delete_page(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """GET asks for confirmation (the no-JavaScript path); POST deletes every byte."""
    asset = owned_asset(request.user, asset_id)
    if request.method == "POST":
        name = asset.filename
        delete_asset(asset)
        messages.success(request, f"Deleted “{name}”.")
        return redirect("media_pipeline:library")
    return render(request, "media_pipeline/delete.html", {"item": AssetView.of(asset)})
