"""The JSON API: `POST/GET /api/media/`, `GET/DELETE /api/media/<id>/`."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt

from media_pipeline import storage
from media_pipeline.models import MediaAsset
from media_pipeline.removal import delete_asset
from media_pipeline.serializers import asset_json
from media_pipeline.tasks import enqueue_on_commit
from media_pipeline.upload import StagingUploadHandler, UploadTooLarge, body_fully_read

logger = logging.getLogger(__name__)

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500
# Far beyond any one user's assets, and small enough for every database's OFFSET.
LIST_OFFSET_MAX = 2**31 - 1


class PagingForm(forms.Form):
    """`?limit=&offset=`: whole numbers in range, or absent; anything else is a 400 with the
    reason (Django's own field validation, so "1e9", "-1" and 10**20 are all refused)."""

    limit = forms.IntegerField(min_value=1, max_value=LIST_LIMIT_MAX, required=False)
    offset = forms.IntegerField(min_value=0, max_value=LIST_OFFSET_MAX, required=False)

    def reason(self) -> str:
        return " ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())


def error(message: str, status: HTTPStatus) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def not_signed_in() -> JsonResponse:
    return error("Sign in or send an API token (Authorization: Bearer …).", HTTPStatus.UNAUTHORIZED)


def csrf_rejection(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check, run where the view chooses: after the upload handler is set, so
    a form token in the body is read through it (bearer-token requests are exempt)."""
    return CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})


def owned_assets(request: HttpRequest) -> QuerySet[MediaAsset]:
    return MediaAsset.objects.filter(owner=request.user)


@csrf_exempt  # CSRF is checked in `create_asset`, after the upload handler is installed
def media_collection(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return not_signed_in()
    if request.method == "POST":
        return create_asset(request)
    if request.method != "GET":
        return error("Use GET or POST.", HTTPStatus.METHOD_NOT_ALLOWED)
    paging = PagingForm(request.GET)
    if not paging.is_valid():
        return error(paging.reason(), HTTPStatus.BAD_REQUEST)
    limit = paging.cleaned_data["limit"] or LIST_LIMIT_DEFAULT
    offset = paging.cleaned_data["offset"] or 0
    assets = owned_assets(request)
    page = [asset_json(a) for a in assets[offset:offset + limit]]
    return JsonResponse({"count": assets.count(), "results": page})


def create_asset(request: HttpRequest) -> HttpResponse:
    """Stream the `file` field to staging, create the asset, and answer 202 at once."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = -1
    if declared < 0:
        return error("Invalid Content-Length.", HTTPStatus.BAD_REQUEST)
    if declared > settings.MEDIA_MAX_UPLOAD_SIZE + MULTIPART_OVERHEAD:
        # Decided before reading a byte of the body.
        return error(f"The file is larger than the limit of {settings.MEDIA_MAX_UPLOAD_SIZE} bytes.",
                     HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if not request.content_type.startswith("multipart/form-data"):
        return error("Send the file as multipart/form-data in the field 'file'.", HTTPStatus.BAD_REQUEST)

    handler = StagingUploadHandler(request)
    request.upload_handlers = [handler]
    try:
        # Reading a form token (if the header has none) parses the body through our handler.
        rejected = csrf_rejection(request)
        upload = request.FILES.get("file") if rejected is None else None
        complete = body_fully_read(request)
    except UploadTooLarge:
        return error(f"The file is larger than the limit of {settings.MEDIA_MAX_UPLOAD_SIZE} bytes.",
                     HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    except (MultiPartParserError, UnreadablePostError, OSError) as exc:
        handler.discard()
        logger.info("upload interrupted: %s", exc)
        return error("The upload was interrupted or malformed; nothing was kept.", HTTPStatus.BAD_REQUEST)
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        handler.discard()
        return error("Send only the field 'file' (fields beside it are limited in number and "
                     "size); nothing was kept.", HTTPStatus.BAD_REQUEST)
    if rejected is not None:
        handler.discard()
        return rejected
    if not complete:
        handler.discard()
        logger.info("upload interrupted: body shorter than Content-Length")
        return error("The upload was interrupted; nothing was kept.", HTTPStatus.BAD_REQUEST)
    if upload is None:
        return error("No file: send it in the multipart field 'file'.", HTTPStatus.BAD_REQUEST)
    if upload.size == 0:
        handler.discard()
        return error("The file is empty.", HTTPStatus.BAD_REQUEST)
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                id=handler.asset_id, owner=request.user, filename=(upload.name or "upload")[:255],
                storage=storage.backend(), staging_key=handler.staging_key,
            )
            enqueue_on_commit(asset.id)
    except Exception:
        handler.discard()
        raise
    return JsonResponse(asset_json(asset), status=HTTPStatus.ACCEPTED)


@csrf_exempt  # DELETE with a session is checked below; token requests need no CSRF
def media_item(request: HttpRequest, asset_id: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return not_signed_in()
    asset = get_object_or_404(owned_assets(request), pk=asset_id)
    if request.method == "GET":
        return JsonResponse(asset_json(asset))
    if request.method == "DELETE":
        rejected = csrf_rejection(request)
        if rejected is not None:
            return rejected
        delete_asset(asset)
        return HttpResponse(status=HTTPStatus.NO_CONTENT)
    if request.method == "PATCH":
        return update_asset(request, asset)
    return error("Use GET, PATCH or DELETE.", HTTPStatus.METHOD_NOT_ALLOWED)


def update_asset(request: HttpRequest, asset: MediaAsset) -> HttpResponse:
    """PATCH {"is_public": bool}: the owner shares or unshares the asset."""
    rejected = csrf_rejection(request)
    if rejected is not None:
        return rejected
    try:
        changes = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…]]]]
        return error("Send a JSON object.", HTTPStatus.BAD_REQUEST)
    if not isinstance(changes, dict) or set(changes) - {"is_public"} or not isinstance(changes.get("is_public", False), bool):
        return error('Only {"is_public": true|false} can be changed.', HTTPStatus.BAD_REQUEST)
    if "is_public" in changes:
        asset.is_public = changes["is_public"]
        asset.save(update_fields=["is_public", "updated_at"])
    return JsonResponse(asset_json(asset))
