"""tus 1.0.0 at /api/uploads/: core, creation, creation-with-upload, termination, expiration and
checksum (https://tus.io/protocols/resumable-upload). The state and the bytes are
`resumable.py`'s; this module reads headers and writes answers.

Authentication is the API's: a session (with the CSRF header on POST, PATCH and DELETE) or a
bearer token. Another user's upload is 404, as any other asset is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from media_pipeline import resumable, storage
from media_pipeline.access import owned_asset
from media_pipeline.api import not_signed_in, session_csrf
from media_pipeline.models import MediaAsset, Upload
from media_pipeline.removal import delete_asset

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
OFFSET_TYPE = "application/offset+octet-stream"
CHECKSUM_MISMATCH = 460  # the checksum extension's own status


def _answer(status: int, message: str = "", **headers: str) -> HttpResponse:
    response = (JsonResponse({"error": message}, status=status) if message
                else HttpResponse(status=status))
    response["Tus-Resumable"] = TUS_VERSION
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _discovery() -> HttpResponse:
    return _answer(HTTPStatus.NO_CONTENT, **{
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(settings.MEDIA_MAX_UPLOAD_SIZE),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUMS)})


def _tus_request(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """What every tus request shares: OPTIONS is discovery (no sign-in needed: it says only
    what the server supports); anything else names our version and is signed in."""

    @csrf_exempt  # checked by `session_csrf` on the requests that change something
    def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method == "OPTIONS":
            return _discovery()
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            return _answer(HTTPStatus.PRECONDITION_FAILED, "Send Tus-Resumable: 1.0.0.",
                           Tus_Version=TUS_VERSION)
        if not request.user.is_authenticated:
            response = not_signed_in()
            response["Tus-Resumable"] = TUS_VERSION
            return response
        return view(request, *args, **kwargs)

    return checked


def _whole_number(value: str | None) -> int | None:
    """A header's non-negative decimal integer, or None (absent, signed, blank, not digits,
    or longer than any size: Python refuses to parse past 4300 digits)."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


def display_name(metadata: dict[str, str]) -> str:
    """The asset's filename from Upload-Metadata, as the multipart parser would keep it: the
    last path part, no control characters. Shown to people only, never part of a path."""
    name = metadata.get("filename", "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable()).strip()[:255] or "upload"


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent).
    ValueError for anything malformed, or a value that is not UTF-8."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        if not key or " " in encoded.strip() or key in metadata:
            raise ValueError(pair)
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(pair) from exc
    return metadata


def encode_metadata(metadata: dict[str, str]) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in metadata.items())


def parse_checksum(header: str) -> tuple[str, bytes]:
    """Upload-Checksum: `algorithm base64digest`. ValueError if malformed or unsupported."""
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise ValueError(f"Unsupported checksum algorithm {algorithm!r}; use one of "
                         f"{', '.join(CHECKSUMS)}.")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise ValueError("The Upload-Checksum digest is not base64.") from exc
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        raise ValueError(f"A {algorithm} digest is {CHECKSUMS[algorithm]().digest_size} bytes.")
    return algorithm, digest


def _progress_headers(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
               "Cache-Control": "no-store"}
    if upload.completed_at is None:
        headers["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return headers


# --- /api/uploads/ --------------------------------------------------------------------------


@_tus_request
def collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create(request)
    return _answer(HTTPStatus.METHOD_NOT_ALLOWED, "Use POST to create an upload.",
                   Allow="OPTIONS, POST")


@session_csrf
def _create(request: HttpRequest) -> HttpResponse:
    if "Upload-Defer-Length" in request.headers:
        return _answer(HTTPStatus.BAD_REQUEST, "Send Upload-Length: a deferred length is not "
                                               "supported.")
    length = _whole_number(request.headers.get("Upload-Length"))
    if length is None:
        return _answer(HTTPStatus.BAD_REQUEST, "Send Upload-Length, the file's size in bytes.")
    if length > settings.MEDIA_MAX_UPLOAD_SIZE:
        return _answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       f"The file is larger than the limit of {settings.MEDIA_MAX_UPLOAD_SIZE} "
                       "bytes.")
    if length == 0:
        return _answer(HTTPStatus.BAD_REQUEST, "The file is empty.")
    try:
        metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
    except ValueError:
        return _answer(HTTPStatus.BAD_REQUEST, "Upload-Metadata must be comma-separated "
                                               "'key base64value' pairs, each key once.")
    declared = _body_length(request)
    if declared and request.content_type != OFFSET_TYPE:
        return _answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Send the bytes as {OFFSET_TYPE}.")
    if declared > length:
        return _answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The body is longer than Upload-Length.")
    metadata["filename"] = display_name(metadata)
    try:
        upload = resumable.create(request.user, length, metadata)
    except storage.TransientStorageError as exc:
        logger.warning("upload not created: storage unavailable: %s", exc)
        return _storage_down()
    location = reverse("media_pipeline:tus-upload", args=[upload.pk])
    logger.info("upload %s created: %d bytes", upload.pk, length)
    if declared:  # creation-with-upload: the body is the first bytes
        response = _append(request, upload, 0, declared)
        if response.status_code != HTTPStatus.NO_CONTENT:
            # The upload exists whatever became of its first bytes: say where, and how far.
            logger.info("upload %s: its first bytes were refused (%s)", upload.pk,
                        response.status_code)
        upload.refresh_from_db()
    return _answer(HTTPStatus.CREATED, Location=location, **_progress_headers(upload))


def _storage_down() -> HttpResponse:
    # tus clients retry a 5xx; what was committed before stays.
    return _answer(HTTPStatus.SERVICE_UNAVAILABLE, "Storage is briefly unavailable; try again.",
                   Retry_After="5")


def _body_length(request: HttpRequest) -> int:
    return _whole_number(request.META.get("CONTENT_LENGTH") or "0") or 0


# --- /api/uploads/<id>/ ---------------------------------------------------------------------


@_tus_request
def item(request: HttpRequest, asset_id: object) -> HttpResponse:
    try:
        asset = owned_asset(request.user, asset_id)
    except Http404:  # another user's, or none: the same answer
        return _answer(HTTPStatus.NOT_FOUND, "No such upload.")
    upload = Upload.objects.filter(pk=asset.pk).select_related("asset").first()
    if upload is None:  # an asset uploaded otherwise, or whose upload was long since done
        return _answer(HTTPStatus.NOT_FOUND, "No such upload.")
    if request.method == "HEAD":
        return _head(upload)
    if request.method == "PATCH":
        return _patch(request, upload)
    if request.method == "DELETE":
        return _terminate(request, asset)
    return _answer(HTTPStatus.METHOD_NOT_ALLOWED, "Use HEAD, PATCH or DELETE.",
                   Allow="OPTIONS, HEAD, PATCH, DELETE")


def _head(upload: Upload) -> HttpResponse:
    if resumable.is_expired(upload):
        return _answer(HTTPStatus.GONE, Cache_Control="no-store")
    if resumable.is_stalled(upload):
        resumable.complete(upload)
    headers = _progress_headers(upload)
    if upload.metadata:
        headers["Upload-Metadata"] = encode_metadata(upload.metadata)
    return _answer(HTTPStatus.OK, **headers)


@session_csrf
def _patch(request: HttpRequest, upload: Upload) -> HttpResponse:
    if request.content_type != OFFSET_TYPE:
        return _answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Send the bytes as {OFFSET_TYPE}.")
    offset = _whole_number(request.headers.get("Upload-Offset"))
    if offset is None:
        return _answer(HTTPStatus.BAD_REQUEST, "Send Upload-Offset, where these bytes go.")
    if resumable.is_expired(upload):
        return _answer(HTTPStatus.GONE, "This upload expired; start it again.")
    if "Content-Length" not in request.headers and "Transfer-Encoding" in request.headers:
        return _answer(HTTPStatus.LENGTH_REQUIRED, "Send Content-Length with each PATCH.")
    return _append(request, upload, offset, _body_length(request))


def _append(request: HttpRequest, upload: Upload, offset: int, declared: int) -> HttpResponse:
    checksum = None
    if "Upload-Checksum" in request.headers:
        try:
            checksum = parse_checksum(request.headers["Upload-Checksum"])
        except ValueError as exc:
            return _answer(HTTPStatus.BAD_REQUEST, str(exc))
    try:
        new_offset = resumable.append(upload, offset, request.read, declared, checksum)
    except resumable.OffsetMismatch as exc:
        return _answer(HTTPStatus.CONFLICT, str(exc))
    except resumable.Busy as exc:
        return _answer(HTTPStatus.LOCKED, str(exc))
    except resumable.TooLarge as exc:
        return _answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc))
    except resumable.ChecksumMismatch as exc:
        return _answer(CHECKSUM_MISMATCH, str(exc))
    except resumable.Gone as exc:
        return _answer(HTTPStatus.GONE, str(exc))
    except resumable.UploadError as exc:
        return _answer(HTTPStatus.BAD_REQUEST, str(exc))
    except storage.TransientStorageError as exc:
        logger.warning("upload %s: storage unavailable: %s", upload.pk, exc)
        return _storage_down()
    upload.refresh_from_db()
    headers = _progress_headers(upload)
    headers["Upload-Offset"] = str(new_offset)
    return _answer(HTTPStatus.NO_CONTENT, **headers)


@session_csrf
def _terminate(request: HttpRequest, asset: MediaAsset) -> HttpResponse:
    """Termination: the upload and its asset go, with every byte staged or stored."""
    try:
        delete_asset(asset)
    except resumable.Busy as exc:
        return _answer(HTTPStatus.LOCKED, str(exc))
    return _answer(HTTPStatus.NO_CONTENT)
