"""A region's fleet page: per device its installed and desired release, update state, last
check-in and reason, and the region's rollouts; each table as CSV. Read through the fleet's own
selectors (those `manage.py fleet` reads), so the page and the command cannot disagree.

Times are the region's (as on its anomalies list): devices of one region are listed together,
whatever their sites' zones; the column heading names the zone and the CSV carries the offset.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from junction.dashboard.views import forbidden
from junction.fleet.models import Rollout
from junction.fleet.selectors import FleetDevice, fleet_list, rollout_list, rollout_phase
from junction.middleware import bad_request
from junction.residency.models import Region
from junction.residency.scoping import scoped_get

# Newest first; older ones are in the region's audit log and `manage.py fleet --json`.
ROLLOUTS_SHOWN = 20


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat() if moment else ""


def device_rows(
    devices: list[FleetDevice], rollouts: list[Rollout], zone: ZoneInfo
) -> Iterable[list]:
    yield [
        "device",
        "site",
        "installed_release",
        "desired_release",
        "state",
        "last_checkin",
        "reason",
        "rollout",
    ]
    for d in devices:
        yield [
            d.device_id,
            d.site,
            d.installed_release,
            d.desired_release,
            d.state,
            _local(d.last_checkin_at, zone),
            d.reason,
            "" if d.rollout is None else d.rollout,
        ]


def rollout_rows(
    devices: list[FleetDevice], rollouts: list[Rollout], zone: ZoneInfo
) -> Iterable[list]:
    yield [
        "rollout",
        "release",
        "status",
        "devices",
        "canaries",
        "canary_passed",
        "halt_share",
        "reason",
        "started_by",
        "started",
        "updated",
    ]
    for r in rollouts:
        yield [
            r.pk,
            r.release,
            rollout_phase(r),
            len(r.devices),
            " ".join(r.canaries),
            "yes" if r.canary_passed else "no",
            f"{r.halt_share:g}",
            r.reason,
            r.started_by,
            _local(r.created_at, zone),
            _local(r.updated_at, zone),
        ]


TABLES: dict[str, Callable[[list[FleetDevice], list[Rollout], ZoneInfo], Iterable[list]]] = {
    "devices": device_rows,
    "rollouts": rollout_rows,
}


@login_required
def region_fleet(request: HttpRequest, code: str) -> HttpResponse:
    try:
        region = scoped_get(Region.objects.all(), request.user, code=code)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    wanted, table = request.GET.get("format", ""), request.GET.get("table", "devices")
    if wanted not in ("", "csv"):
        return bad_request(request, "format", "must be csv (or absent for the page)")
    if table not in TABLES:
        return bad_request(request, "table", f"must be one of {', '.join(TABLES)}")
    zone = ZoneInfo(region.timezone)
    devices = fleet_list(region.code)
    rollouts = list(rollout_list(region.code)[:ROLLOUTS_SHOWN])
    if wanted == "csv":
        now = timezone.now().astimezone(zone)
        zone_name = region.timezone.replace("/", "-")
        name = f"{region.code}_fleet-{table}_{now:%Y-%m-%dT%H%M}_{zone_name}"
        answer = HttpResponse(content_type="text/csv; charset=utf-8")
        answer["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        csv.writer(answer).writerows(TABLES[table](devices, rollouts, zone))
        return answer
    states = Counter(d.state for d in devices)
    return render(
        request,
        "dashboard/fleet.html",
        {
            "region": region,
            "devices": devices,
            "states": sorted(states.items(), key=lambda item: (-item[1], item[0])),
            "rollouts": [(r, rollout_phase(r)) for r in rollouts],
            "rollouts_shown": ROLLOUTS_SHOWN,
        },
    )
