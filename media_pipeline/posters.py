"""`GET`/`HEAD /media/<id>/poster.jpg`: the poster frame, to those who may see the asset.

Served through streaming's checklist (`streaming.answers.answer`), as the media are: ETag,
Last-Modified, 304s, Range, and the delivery mode (x-accel, redirect) the operator chose.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe

from media_pipeline import blobs
from media_pipeline.access import visible_asset
from media_pipeline.models import MediaAsset
from media_pipeline.storage import TransientStorageError
from media_pipeline.streams import location, strong_etag
from streaming.answers import answer
from streaming.conf import stream_settings
from streaming.objects import Streamable
from streaming.views import django_response


def _poster_size(asset: MediaAsset) -> int | None:
    """From the row. Assets processed before the row kept it ask the storage once, and keep
    the answer. None while the storage is unavailable."""
    if asset.poster_size is not None:
        return asset.poster_size
    try:
        size = blobs.stored_blob(asset.poster_key).size()
    except FileNotFoundError:  # the asset is being deleted
        raise Http404("This media has no poster.") from None
    except TransientStorageError:
        return None
    MediaAsset.objects.filter(pk=asset.pk, poster_key=asset.poster_key).update(poster_size=size)
    return size


@require_safe
def poster(request: HttpRequest, asset_id: str) -> HttpResponseBase:
    asset = visible_asset(request, asset_id)
    if not asset.poster_key or asset.status != MediaAsset.Status.READY:
        raise Http404("This media has no poster.")
    size = _poster_size(asset)
    if size is None:
        return HttpResponse(status=HTTPStatus.SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})
    picture = Streamable(
        id=asset.id, filename="poster.jpg", content_type="image/jpeg", size=size,
        etag=strong_etag(asset.id, "", "", size, asset.ready_at), last_modified=asset.ready_at,
        location=location(asset.storage, asset.poster_key), is_public=asset.is_public,
        owner_id=asset.owner_id,
    )
    reply = answer(request.method or "GET", request.headers, picture, download=False,
                   conf=stream_settings())
    if reply.status == 404:
        raise Http404("This media has no poster.")
    return django_response(request, reply)
