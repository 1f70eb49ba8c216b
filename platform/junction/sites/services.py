"""Writes of the control plane's registry: regions, sites, counters, devices."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from junction.residency.models import Region
from junction.residency.planes import region_code_check
from junction.sites import credentials
from junction.sites.models import Counter, CounterKind, Device, Site


@transaction.atomic(using="default")
def region_add(
    *,
    code: str,
    name: str,
    endpoint: str = "",
    min_bucket_seconds: int = 60,
    raw_retention_days: int = 90,
    rollup_retention_days: int = 730,
    k_threshold: int = 5,
    timezone: str = "UTC",
    country: str = "",
    subdivision: str = "",
) -> Region:
    region_code_check(code)
    region = Region(
        code=code,
        name=name,
        endpoint=endpoint,
        min_bucket_seconds=min_bucket_seconds,
        raw_retention_days=raw_retention_days,
        rollup_retention_days=rollup_retention_days,
        k_threshold=k_threshold,
        timezone=timezone,
        country=country,
        subdivision=subdivision,
    )
    region.full_clean()
    region.save()
    return region


@transaction.atomic(using="default")
def site_add(
    *,
    slug: str,
    region: str,
    name: str,
    counters: dict[str, dict] | None = None,
    timezone: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Site:
    """Register a site; its time zone is the region's unless given. A position (WGS 84) needs
    both coordinates: half of one would put the site on no map at all."""
    if (latitude is None) != (longitude is None):
        raise ValidationError(
            {
                "latitude"
                if latitude is None
                else "longitude": "give both latitude and longitude, or neither"
            }
        )
    try:
        region_obj = Region.objects.get(code=region)
    except Region.DoesNotExist as exc:
        raise ValidationError({"region": f"unknown region {region!r}"}) from exc
    site = Site(
        slug=slug,
        name=name,
        region=region_obj,
        timezone=region_obj.timezone if timezone is None else timezone,
        latitude=latitude,
        longitude=longitude,
    )
    site.full_clean()
    site.save()
    for counter_name, geometry in (counters or {}).items():
        counter_add(site=site, name=counter_name, geometry=geometry)
    return site


def counter_add(
    *, site: Site, name: str, kind: str = CounterKind.LINE, geometry: dict | None = None
) -> Counter:
    counter = Counter(site=site, name=name, kind=kind, geometry=geometry or {})
    counter.full_clean()
    counter.save()
    return counter


@dataclass(frozen=True)
class IssuedSecret:
    """A device secret as handed to the operator: shown once, never retrievable again."""

    device: Device
    secret: str


@transaction.atomic(using="default")
def device_add(*, device_id: str, site: str) -> IssuedSecret:
    try:
        site_obj = Site.objects.get(slug=site)
    except Site.DoesNotExist as exc:
        raise ValidationError({"site": f"unknown site {site!r}"}) from exc
    secret = credentials.generate_secret()
    device = Device(
        device_id=device_id,
        site=site_obj,
        secret_sealed=credentials.seal(secret),
        secret_fingerprint=credentials.fingerprint(secret),
    )
    device.full_clean()
    device.save()
    return IssuedSecret(device=device, secret=secret)


def _device(device_id: str) -> Device:
    try:
        return Device.objects.select_for_update().get(device_id=device_id)
    except Device.DoesNotExist as exc:
        raise ValidationError({"device_id": f"unknown device {device_id!r}"}) from exc


@transaction.atomic(using="default")
def device_rotate(*, device_id: str) -> IssuedSecret:
    """Issue a new secret; the old one stays valid until `device_rotation_finish`."""
    device = _device(device_id)
    if device.is_revoked:
        raise ValidationError({"device_id": f"device {device_id!r} is revoked"})
    if device.previous_secret_sealed:
        # A second rotation would silently retire the secret the device may still be using.
        raise ValidationError(
            {
                "device_id": f"device {device_id!r} is already rotating (since "
                f"{device.rotation_started_at:%Y-%m-%d %H:%M} UTC): finish that "
                "rotation first"
            }
        )
    secret = credentials.generate_secret()
    device.previous_secret_sealed = device.secret_sealed
    device.secret_sealed = credentials.seal(secret)
    device.secret_fingerprint = credentials.fingerprint(secret)
    device.rotation_started_at = timezone.now()
    device.save()
    return IssuedSecret(device=device, secret=secret)


@transaction.atomic(using="default")
def device_rotation_finish(*, device_id: str) -> Device:
    device = _device(device_id)
    if not device.previous_secret_sealed:
        raise ValidationError({"device_id": f"device {device_id!r} has no rotation in progress"})
    device.previous_secret_sealed = ""
    device.rotation_started_at = None
    device.save()
    return device


@transaction.atomic(using="default")
def device_revoke(*, device_id: str) -> Device:
    device = _device(device_id)
    if not device.is_revoked:
        device.revoked_at = timezone.now()
        device.save()
    return device


def device_secrets(device: Device) -> list[str]:
    """Every secret a signature from this device may use right now (two during a rotation)."""
    sealed = [device.secret_sealed, device.previous_secret_sealed]
    return [credentials.unseal(s) for s in sealed if s]
