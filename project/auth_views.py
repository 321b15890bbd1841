"""`/accounts/logout/` as the public interface names it, on Django 5.

Django 5 signs out only on POST (a GET that signs out can be triggered by any page). The
interface lists `GET /accounts/logout/`, so GET still answers 200: a page whose button posts
the sign-out, with CSRF. POST behaves exactly as Django's LogoutView.
"""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LogoutWithConfirmView(LogoutView):
    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return render(request, "registration/logout_confirm.html")
