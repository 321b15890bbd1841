"""`GET /media/<id>/poster.jpg`: the poster frame, to the asset's viewers only."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from media_pipeline import blobs
from media_pipeline.access import visible_asset


@require_GET
def poster(request: HttpRequest, asset_id: str) -> HttpResponse:
    asset = visible_asset(request, asset_id)
    if not asset.poster_key:
        raise Http404("This media has no poster.")
    blob = blobs.stored_blob(asset.poster_key)
    if isinstance(blob, blobs.LocalBlob):
        try:
            poster_file = open(blob.path, "rb")  # noqa: SIM115 - FileResponse closes it
        except FileNotFoundError:  # the asset is being deleted
            raise Http404("This media has no poster.") from None
        response: HttpResponse = FileResponse(poster_file, content_type="image/jpeg")
    else:
        response = StreamingHttpResponse(blob.iter_chunks(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response  # SecurityMiddleware adds nosniff
