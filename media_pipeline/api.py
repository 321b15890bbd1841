"""The JSON API: `POST/GET /api/media/`, `GET/DELETE /api/media/<id>/`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from media_pipeline.access import owned_asset, owned_assets, set_public
from media_pipeline.auth import token_authenticated
from media_pipeline.ingest import create_staged_asset
from media_pipeline.models import MediaAsset
from media_pipeline.removal import delete_asset
from media_pipeline.resumable import Busy
from media_pipeline.serializers import asset_json
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


def session_csrf(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's CSRF check (`csrf_protect`) for a request signed in by session; none for one
    with a bearer token, which carries no cookie a third-party page could ride on.

    The API's views are `csrf_exempt` and call views wrapped in this: Django's documented way
    to run something before the check (docs: "CSRF protection should be disabled for just a
    few views"), here the upload handler, which must be in place before the check reads a
    form token from the body."""
    protected = csrf_protect(view)

    @wraps(view)
    def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if token_authenticated(request):
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    return checked


@csrf_exempt  # checked by `session_csrf`, after the upload handler is installed
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
    assets = owned_assets(request.user)
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
        # The CSRF check, reading a form token if the header has none, parses the body through
        # the handler.
        response = _receive_upload(request, handler)
    except UploadTooLarge:
        response = error(f"The file is larger than the limit of {settings.MEDIA_MAX_UPLOAD_SIZE} bytes.",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    except (MultiPartParserError, UnreadablePostError, OSError) as exc:
        logger.info("upload interrupted: %s", exc)
        response = error("The upload was interrupted or malformed; nothing was kept.",
                         HTTPStatus.BAD_REQUEST)
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        response = error("Send only the field 'file' (fields beside it are limited in number "
                         "and size); nothing was kept.", HTTPStatus.BAD_REQUEST)
    if response.status_code != HTTPStatus.ACCEPTED:
        handler.discard()  # a refused upload (CSRF included) keeps nothing
    return response


@session_csrf
def _receive_upload(request: HttpRequest, handler: StagingUploadHandler) -> HttpResponse:
    upload = request.FILES.get("file")
    if not body_fully_read(request):
        logger.info("upload interrupted: body shorter than Content-Length")
        return error("The upload was interrupted; nothing was kept.", HTTPStatus.BAD_REQUEST)
    if upload is None:
        return error("No file: send it in the multipart field 'file'.", HTTPStatus.BAD_REQUEST)
    if upload.size == 0:
        return error("The file is empty.", HTTPStatus.BAD_REQUEST)
    asset = create_staged_asset(request.user, handler, upload.name)
    return JsonResponse(asset_json(asset), status=HTTPStatus.ACCEPTED)


@csrf_exempt  # changes are checked by `session_csrf`
def media_item(request: HttpRequest, asset_id: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return not_signed_in()
    asset = owned_asset(request.user, asset_id)
    if request.method == "GET":
        return JsonResponse(asset_json(asset))
    if request.method == "DELETE":
        return remove_asset(request, asset)
    if request.method == "PATCH":
        return update_asset(request, asset)
    return error("Use GET, PATCH or DELETE.", HTTPStatus.METHOD_NOT_ALLOWED)


@session_csrf
def remove_asset(request: HttpRequest, asset: MediaAsset) -> HttpResponse:
    try:
        delete_asset(asset)
    except Busy:
        return error("Bytes of this upload are arriving right now; try again in a moment.",
                     HTTPStatus.CONFLICT)
    return HttpResponse(status=HTTPStatus.NO_CONTENT)


@session_csrf
def update_asset(request: HttpRequest, asset: MediaAsset) -> HttpResponse:
    """PATCH {"is_public": bool}: the owner shares or unshares the asset."""
    try:
        changes = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…]]]]
        return error("Send a JSON object.", HTTPStatus.BAD_REQUEST)
    if not isinstance(changes, dict) or set(changes) - {"is_public"} or not isinstance(changes.get("is_public", False), bool):
        return error('Only {"is_public": true|false} can be changed.', HTTPStatus.BAD_REQUEST)
    if "is_public" in changes:
        set_public(asset, changes["is_public"])
    return JsonResponse(asset_json(asset))
