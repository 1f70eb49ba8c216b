"""Which plane a model lives in, and which database alias and task queue serve a region.

Imported by settings, so it must not import Django models.
"""

from __future__ import annotations

from enum import StrEnum

REGION_ALIAS_PREFIX = "region_"
QUEUE_PREFIX = "region."


class Plane(StrEnum):
    CONTROL = "control"  # regions, policies, users, sites, devices: no traffic data
    REGION = "region"  # count buckets, rollups, anomalies, audit: only in the region's database


def region_alias(code: str) -> str:
    return f"{REGION_ALIAS_PREFIX}{code}"


def region_queue(code: str) -> str:
    """The Celery queue whose workers run a region's tasks (and only they hold its database)."""
    return f"{QUEUE_PREFIX}{code}"


def region_of_queue(queue: str) -> str | None:
    return queue[len(QUEUE_PREFIX) :] if queue.startswith(QUEUE_PREFIX) else None


def region_of_alias(alias: str) -> str | None:
    return alias[len(REGION_ALIAS_PREFIX) :] if alias.startswith(REGION_ALIAS_PREFIX) else None


def plane_of(model: type) -> Plane:
    """The plane a model declares; Django's own models (auth, sessions...) are control plane."""
    declared = getattr(model, "residency_plane", None)
    if declared is not None:
        return Plane(declared)
    if model.__module__.startswith("junction."):
        raise TypeError(f"{model.__module__}.{model.__name__} declares no residency plane")
    return Plane.CONTROL


def served_regions() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(settings.SERVED_REGIONS)


def served_alias(code: str) -> str:
    """The database alias of a region this node serves; MisdirectedRegion for any other."""
    from junction.residency.errors import MisdirectedRegion

    if code not in served_regions():
        raise MisdirectedRegion(code, _endpoint_of(code))
    return region_alias(code)


def _endpoint_of(code: str) -> str | None:
    # The control plane knows every region's public endpoint, even on a pinned node.
    from junction.residency.models import Region

    return Region.objects.filter(code=code).values_list("endpoint", flat=True).first() or None


def region_code_check(code: str) -> None:
    """A region is only registered where this deployment has its database (JUNCTION_REGIONS):
    a region without one would accept sites whose data has nowhere lawful to land."""
    # Imported here: settings imports this module.
    from django.conf import settings
    from django.core.exceptions import ValidationError

    if code not in settings.JUNCTION_ALL_REGIONS:
        raise ValidationError(
            {
                "code": f"region {code!r} has no database in JUNCTION_REGIONS "
                f"(configured: {', '.join(settings.JUNCTION_ALL_REGIONS)})"
            }
        )
