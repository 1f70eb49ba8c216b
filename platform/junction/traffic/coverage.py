"""Coverage, defined once: how much of a window the site's cameras analysed.

A camera's coverage of a window is its analysed seconds (bucket length x uptime) over the
window's length. A site's coverage is the mean over its cameras (junction.sites.selectors
.site_cameras) and any camera that delivered in the window; a counter's is the mean over the
cameras that count it. Rollups store these figures; the API, the dashboard and anomaly
detection read them or compute them here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Expression, F, FloatField, QuerySet, Sum

from junction.traffic.models import CountBucket


@dataclass(frozen=True)
class Watch:
    """Who watched a site in one window: each camera's analysed share, and who counts what."""

    covered: dict[str, float]  # device id -> share of the window it analysed (0..1)
    feeds: Mapping[str, Collection[str]]  # counter -> the cameras that count it

    @classmethod
    def of(
        cls,
        *,
        analysed: Mapping[str, float],
        window_seconds: float,
        cameras: set[str],
        feeds: Mapping[str, Collection[str]] | None = None,
    ) -> Watch:
        """From each camera's analysed seconds. A camera that delivered in the window counts
        even if revoked since; a camera of the site that delivered nothing counts as 0."""
        return cls(
            covered={
                device: min(1.0, analysed.get(device, 0.0) / window_seconds)
                for device in cameras | set(analysed)
            },
            feeds=feeds or {},
        )

    def site_coverage(self) -> float:
        covered = self.covered
        return sum(covered.values()) / len(covered) if covered else 0.0

    def counter_coverage(self, counter: str) -> float:
        """The coverage of the cameras that count it: one dark camera of two leaves the other
        camera's counters fully measured, and its own unmeasured."""
        cameras = counter_cameras(counter, feeds=self.feeds, present=self.covered)
        return sum(self.covered[d] for d in cameras) / len(cameras) if cameras else 0.0


def counter_cameras(
    counter: str, *, feeds: Mapping[str, Collection[str]], present: Collection[str]
) -> list[str]:
    """The cameras whose coverage is a counter's: of those present, the ones known to count
    it, or every one present when none of them is known to."""
    counting = [device for device in feeds.get(counter, ()) if device in present]
    return counting or list(present)


def analysed_seconds(
    *, region: str, site_id: int, start: datetime, end: datetime, window: Expression
) -> QuerySet:
    """{"window", "device_id", "analysed"} per window (`window`: an expression of "start" that
    cuts it) and camera, over the buckets of `site_id` starting in [start, end). A window or
    camera missing from the answer delivered no bucket; one at 0.0 was an announced outage."""
    return (
        CountBucket.objects.in_region(region)
        .filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(window=window)
        .values("window", "device_id")
        .annotate(analysed=Sum(F("seconds") * F("uptime"), output_field=FloatField()))
        .order_by()
    )
