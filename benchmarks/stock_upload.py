"""The baseline for bench_upload.py: Django's stock upload handling, served beside our API.

`POST /stock-upload/` does what a plain Django view does with an upload: the default upload
handlers (memory, then a temp file), then `default_storage.save()`. Served with
`DJANGO_SETTINGS_MODULE=benchmarks.stock_settings`.
"""

from __future__ import annotations

import uuid

from django.core.files.storage import default_storage
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def stock_upload(request: HttpRequest) -> JsonResponse:
    upload = request.FILES["file"]
    name = default_storage.save(f"stock-bench/{uuid.uuid4()}", upload)
    return JsonResponse({"name": name, "size": upload.size}, status=201)


urlpatterns = [
    path("stock-upload/", stock_upload),
    path("", include("project.urls")),
]
