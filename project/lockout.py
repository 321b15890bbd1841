"""Login throttling: the three hooks django-axes' settings name, and nothing else.

django-axes counts failed sign-ins and decides who is locked out. This module tells it which
address a request comes from (AXES_CLIENT_IP_CALLABLE) and which username it names
(AXES_USERNAME_CALLABLE), and answers a locked-out sign-in with a page in the site's layout
(AXES_LOCKOUT_CALLABLE).
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta
from http import HTTPStatus

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

LOCKOUT_TEMPLATE = "registration/lockout.html"
USERNAME_MAX_LENGTH = 150  # django.contrib.auth's User.username


def client_ip_address(request: HttpRequest) -> str | None:
    """The address failures are counted against: the peer, or the one our proxies received.

    Each trusted proxy appends the address it was connected from to X-Forwarded-For (nginx's
    `$proxy_add_x_forwarded_for` in deploy/nginx/media.conf), so with TRUSTED_PROXY_COUNT=N
    the client is the N-th entry from the right; everything left of it was written by the
    client and could be anything. With no proxy configured, or a header too short or not an
    address (a request that did not come through the proxies), REMOTE_ADDR is the answer.
    This rule is the whole of what is needed, so it is written here rather than configured
    through django-ipware, which would add two dependencies to express it.
    """
    peer = request.META.get("REMOTE_ADDR")
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < proxies:
        return peer
    try:
        # axes stores the address in a GenericIPAddressField (inet on PostgreSQL), which takes
        # no IPv6 zone ("fe80::1%eth0").
        address = ipaddress.ip_address(hops[-proxies])
    except ValueError:
        return peer
    return peer if getattr(address, "scope_id", None) else str(address)


def client_username(request: HttpRequest, credentials: dict[str, object] | None) -> object:
    """The username failures are counted against, cut to the 150 characters Django's own
    username field holds: django-axes keeps it in a 255-character column, which PostgreSQL
    enforces (a longer name was a 500 there). AXES_USERNAME_CALLABLE."""
    value = credentials.get("username") if credentials else request.POST.get("username")
    return value[:USERNAME_MAX_LENGTH] if isinstance(value, str) else value


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, object] | None = None,
) -> HttpResponse:
    """What a sign-in gets once django-axes has locked its username or its address.

    429 Too Many Requests with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3), in the site's
    layout. Every attempt while locked restarts the cool-off
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so this attempt plus the cool-off is when
    the client may try again. The page does not say which of the two is locked, nor whether
    the account exists. Neither other argument is used: django-axes 8.3.1 passes them in a
    different order on its ASGI path.
    """
    cool_off = get_cool_off(request) or timedelta()  # every form AXES_COOLOFF_TIME may take
    locked_at = getattr(request, "axes_attempt_time", None) or timezone.now()
    context = {"locked_at": locked_at, "retry_at": locked_at + cool_off}
    response = render(request, LOCKOUT_TEMPLATE, context, status=HTTPStatus.TOO_MANY_REQUESTS)
    response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
