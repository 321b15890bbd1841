"""Operators' view of the pipeline: filter by status and owner, requeue what failed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from media_pipeline.models import ApiToken, MediaAsset
from media_pipeline.tasks import requeue


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = ("filename", "owner", "status", "mime_type", "size", "duration", "attempts",
                    "storage", "created_at")
    list_filter = ("status", "storage", "owner", "is_public")
    search_fields = ("filename", "id", "owner__username")
    readonly_fields = [f.name for f in MediaAsset._meta.fields if f.name not in ("is_public",)]
    actions = ("requeue_assets",)

    @admin.action(description="Requeue selected failed or stuck assets")
    def requeue_assets(self, request: HttpRequest, queryset: QuerySet[MediaAsset]) -> None:
        eligible = queryset.exclude(status=MediaAsset.Status.READY)
        count = 0
        for asset_id in eligible.values_list("pk", flat=True):
            requeue(asset_id)
            count += 1
        self.message_user(request, f"Requeued {count} asset(s).", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "last_used_at")
    readonly_fields = ("user", "key_hash", "created_at", "last_used_at")
