"""What the sites app's commands print: a region, site or device as one JSON-ready dict."""

from __future__ import annotations

from typing import Any

from junction.residency.models import Region
from junction.sites.models import Device, Site

SECRET_WARNING = (
    "Store this secret in the device's configuration now: it is shown once and cannot be "
    "shown again (only its sealed form is kept)."
)


def region_payload(region: Region) -> dict[str, Any]:
    return {
        "code": region.code,
        "name": region.name,
        "endpoint": region.endpoint,
        "min_bucket_seconds": region.min_bucket_seconds,
        "raw_retention_days": region.raw_retention_days,
        "rollup_retention_days": region.rollup_retention_days,
        "k_threshold": region.k_threshold,
        "timezone": region.timezone,
        "country": region.country,
        "subdivision": region.subdivision,
    }


def site_payload(site: Site) -> dict[str, Any]:
    return {
        "slug": site.slug,
        "name": site.name,
        "region": site.region.code,
        "timezone": site.timezone,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "counters": [
            {"name": c.name, "kind": c.kind, "geometry": c.geometry} for c in site.counters.all()
        ],
    }


def device_payload(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "site": device.site.slug,
        "region": device.site.region.code,
        "secret_fingerprint": device.secret_fingerprint,
        "rotation_in_progress": bool(device.previous_secret_sealed),
        "revoked": device.is_revoked,
        "revoked_at": device.revoked_at.isoformat() if device.revoked_at else None,
    }
