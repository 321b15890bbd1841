"""Request hygiene Django leaves to the project."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Django makes session keys of lowercase letters and digits (SessionBase's VALID_KEY_CHARS).
_SESSION_KEY = re.compile(r"[a-z0-9]{8,64}")


class MalformedSessionCookieMiddleware:
    """Forget a session cookie that no session key could be, before SessionMiddleware looks it
    up: PostgreSQL refuses text with a NUL byte, so a crafted cookie was a 500 on every page.
    The request then simply has no session, as with an unknown key."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key is not None and not _SESSION_KEY.fullmatch(key):
            del request.COOKIES[settings.SESSION_COOKIE_NAME]
        return self.get_response(request)
