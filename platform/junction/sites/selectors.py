"""Reads of the control plane's registry that more than one app relies on."""

from __future__ import annotations

from junction.sites.models import Device


def site_cameras(*, site_id: int) -> set[str]:
    """Device ids of the site's cameras: registered and not revoked.

    Coverage is shared among these, not among the cameras that happened to report: a site with
    two cameras and one of them dark for the hour is half covered, not fully covered.
    """
    return set(
        Device.objects.filter(site_id=site_id, revoked_at__isnull=True).values_list(
            "device_id", flat=True
        )
    )
