"""Mounted at /stream/ by project/urls.py. Only the asset's UUID comes from the URL."""

from django.urls import path

from streaming.views import original, stream

app_name = "streaming"

urlpatterns = [
    path("<uuid:asset_id>/", stream, name="stream"),
    path("<uuid:asset_id>/original/", original, name="original"),
]
