"""The streaming app's view of the settings: one typed accessor.

Settings are read through `django.conf.settings` only (house style rule 6). The result is
built once and kept, because every seek asks for it; Django's `setting_changed` signal
(sent by `override_settings`) drops it, so tests still see their overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

DELIVERY_MODES = ("proxy", "x-accel", "redirect")


@dataclass(frozen=True)
class StreamSettings:
    delivery: str
    url_ttl: int
    max_ranges: int
    xaccel_prefix: str
    presign_ttl: int
    media_root: Path


@cache
def stream_settings() -> StreamSettings:
    """The STREAM_* settings with their defaults; an unknown delivery mode is refused."""
    delivery = getattr(settings, "STREAM_DELIVERY", "proxy")
    if delivery not in DELIVERY_MODES:
        raise ImproperlyConfigured(f"STREAM_DELIVERY must be one of {DELIVERY_MODES}")
    prefix = getattr(settings, "STREAM_XACCEL_PREFIX", "/_protected/")
    return StreamSettings(
        delivery=delivery,
        url_ttl=int(getattr(settings, "STREAM_URL_TTL", 6 * 3600)),
        max_ranges=int(getattr(settings, "STREAM_MAX_RANGES", 16)),
        xaccel_prefix=prefix if prefix.endswith("/") else prefix + "/",
        presign_ttl=int(getattr(settings, "STREAM_PRESIGN_TTL", 300)),
        media_root=Path(settings.MEDIA_ROOT),
    )


@receiver(setting_changed)
def _forget_settings(**_: object) -> None:
    stream_settings.cache_clear()
