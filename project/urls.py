"""Top-level URLs: health, auth, the pipeline's pages and API, and the stream."""

from django.contrib import admin
from django.urls import include, path

from project.auth_views import LogoutWithConfirmView
from project.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Before Django's auth URLs, so GET /accounts/logout/ keeps working (project/auth_views.py).
    path("accounts/logout/", LogoutWithConfirmView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("stream/", include("streaming.urls")),
    path("", include("media_pipeline.urls")),
]

handler400 = "project.errors.bad_request"
handler403 = "project.errors.permission_denied"
handler500 = "project.errors.server_error"
