"""The site's 400, 403 and 500 pages (`handler400`, `handler403`, `handler500`).

Django's defaults are wrapped in `requires_csrf_token`, which reads `request.POST` of a POST
again while rendering the error: for a form whose body Django refused to read (a charset other
than UTF-8), that raises the same error once more, and the 400 became a 500. These render the
same minimal pages without touching the request.
"""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseServerError,
)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBadRequest:
    return HttpResponseBadRequest("<h1>Bad Request (400)</h1>")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponseForbidden:
    return HttpResponseForbidden("<h1>403 Forbidden</h1>")


def server_error(request: HttpRequest) -> HttpResponseServerError:
    return HttpResponseServerError("<h1>Server Error (500)</h1>")
