"""`Authorization: Bearer <token>` for the JSON API, beside Django's session auth."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from media_pipeline.models import ApiToken


class BearerTokenMiddleware:
    """Authenticate API requests that carry a bearer token.

    Sits after AuthenticationMiddleware. A token request carries no cookie a third-party page
    could ride on, so the API does not ask it for a CSRF token (`api.session_csrf`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() == "bearer":
            token = (
                ApiToken.objects.select_related("user")
                .filter(key_hash=ApiToken.hash_key(key.strip()), user__is_active=True)
                .first()
            )
            if token is None:
                return JsonResponse({"error": "Invalid API token."}, status=HTTPStatus.UNAUTHORIZED)
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
            request.user = token.user
            request.api_token = token
        return self.get_response(request)


def token_authenticated(request: HttpRequest) -> bool:
    """Whether the request was signed in by a bearer token (`BearerTokenMiddleware`)."""
    return getattr(request, "api_token", None) is not None
