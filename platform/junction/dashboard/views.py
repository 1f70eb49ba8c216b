"""Dashboard pages: the user's regions, sites and device health; one site's last 24 hours."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from junction.dashboard import chart, selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    devices = list(selectors.devices_for(request.user))
    roles = selectors.roles_for(request.user)
    fallback = "administrator" if request.user.is_superuser else ""
    return render(request, "dashboard/home.html", {
        "regions": [(region, roles.get(region.code, fallback))
                    for region in selectors.regions_for(request.user)],
        "sites": list(selectors.sites_for(request.user)),
        "devices": [chart.device_health(d, now) for d in devices],
    })


@login_required
def site(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        site = selectors.site_for(request.user, slug)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    now = timezone.now()
    day = selectors.site_day(site, now)
    devices = [chart.device_health(d, now) for d in selectors.devices_for(request.user, site)]
    return render(request, "dashboard/site.html", {
        "site": site,
        "day": day,
        "bars": chart.hour_bars(day.hours),
        "devices": devices,
    })


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "dashboard/forbidden.html",
                  {"reason": str(exception) if exception else ""}, status=403)
