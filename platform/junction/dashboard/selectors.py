"""What the dashboard pages show, read through the region scoping rule
(`restrict`, junction.residency.scoping)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, QuerySet
from django.http import Http404

from junction.accounts.scoping import member_regions
from junction.analytics import selectors as analytics
from junction.analytics.models import Anomaly
from junction.residency.models import Region
from junction.residency.scoping import Action, AnyUser, may
from junction.sites.models import Device, Site

# A device that has sent nothing for this long is flagged on the dashboard.
LATE_AFTER = timedelta(minutes=15)


def regions_for(user: AnyUser) -> QuerySet[Region]:
    return Region.objects.restrict(user)


def sites_for(user: AnyUser) -> QuerySet[Site]:
    return (
        Site.objects.select_related("region")
        .restrict(user)
        .annotate(
            counter_count=Count("counters", distinct=True),
            device_count=Count("devices", distinct=True),
        )
    )


def devices_for(user: AnyUser, site: Site | None = None) -> QuerySet[Device]:
    devices = Device.objects.select_related("site__region").restrict(user)
    return devices.filter(site=site) if site is not None else devices


def roles_for(user: AnyUser) -> dict[str, str]:
    return member_regions(user)


# --- a region's anomalies ---------------------------------------------------------------

UNRESOLVED = (Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED)
# The page's state tabs: (value of ?state=, label, states shown).
ANOMALY_TABS = (
    ("", "Unresolved", UNRESOLVED),
    ("open", "Open", (Anomaly.State.OPEN,)),
    ("acknowledged", "Acknowledged", (Anomaly.State.ACKNOWLEDGED,)),
    ("resolved", "Resolved", (Anomaly.State.RESOLVED,)),
)


def can_triage(user: AnyUser, region: str) -> bool:
    # Acknowledge and resolve are writes (see junction.api.analytics); no query, the
    # memberships are cached on the user by the region check before it.
    return may(user, region, Action.WRITE)


def region_site(region: Region, slug: str) -> Site | None:
    """The site of `region` a page is narrowed to (None: the whole region); 404 for a site
    that is not the region's, rather than an empty list that would read as all clear."""
    if not slug:
        return None
    site = Site.objects.filter(region=region, slug=slug).first()
    if site is None:
        raise Http404(f"region {region.code!r} has no site {slug!r}")
    return site


def region_anomalies(
    region: str, states: tuple[str, ...], site: Site | None = None
) -> QuerySet[Anomaly]:
    anomalies = analytics.anomaly_list(region=region, site_id=site.pk if site else None)
    return anomalies.filter(state__in=states).order_by("-start", "site_id", "counter", "-pk")


def site_slugs(anomalies: list[Anomaly]) -> dict[int, str]:
    return analytics.site_slugs({anomaly.site_id for anomaly in anomalies})
