"""The pages people use: upload, library, player. (Built out in the browser-experience issue.)"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from media_pipeline.access import visible_asset
from media_pipeline.models import MediaAsset


@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    return render(request, "media_pipeline/upload.html", {})


@login_required
def library(request: HttpRequest) -> HttpResponse:
    assets = MediaAsset.objects.filter(owner=request.user)
    return render(request, "media_pipeline/library.html", {"assets": assets})


def player(request: HttpRequest, asset_id: str) -> HttpResponse:
    asset = visible_asset(request, asset_id)
    return render(request, "media_pipeline/player.html", {"asset": asset})
