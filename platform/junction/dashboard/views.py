"""Dashboard pages: the user's regions, sites and device health; one site's last 24 hours;
a region's anomalies, with acknowledge and resolve for the region's operators."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from junction.analytics.anomalies import anomaly_acknowledge, anomaly_resolve
from junction.analytics.models import Anomaly
from junction.dashboard import chart, selectors
from junction.residency.models import Region
from junction.residency.scoping import Action, scoped_get
from junction.sites.models import Site

log = logging.getLogger(__name__)

ANOMALIES_PER_PAGE = 50


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
        site = scoped_get(Site.objects.select_related("region"), request.user, slug=slug)
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


@login_required
def region_anomalies(request: HttpRequest, code: str) -> HttpResponse:
    try:
        region = scoped_get(Region.objects.all(), request.user, code=code)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    tab = request.GET.get("state", "")
    tabs = {value: states for value, _, states in selectors.ANOMALY_TABS}
    if tab not in tabs:
        tab = ""
    site = selectors.region_site(region, request.GET.get("site", ""))
    page = Paginator(selectors.region_anomalies(region.code, tabs[tab], site),
                     ANOMALIES_PER_PAGE).get_page(request.GET.get("page"))
    anomalies = list(page.object_list)
    slugs = selectors.site_slugs(anomalies)
    return render(request, "dashboard/anomalies.html", {
        "region": region,
        "tab": tab,
        "site": site,
        "tabs": [(value, label) for value, label, _ in selectors.ANOMALY_TABS],
        "page": page,
        "anomalies": [(anomaly, slugs.get(anomaly.site_id)) for anomaly in anomalies],
        "can_triage": selectors.can_triage(request.user, region.code),
        "here": request.get_full_path(),
    })


TRIAGE_STEPS = {"acknowledge": (anomaly_acknowledge, "acknowledged"),
                "resolve": (anomaly_resolve, "resolved")}


@login_required
@require_POST
def anomaly_triage(request: HttpRequest, code: str, pk: int, step: str) -> HttpResponse:
    """POST only (CSRF-checked by the middleware); the service records who and when."""
    try:
        region = scoped_get(Region.objects.all(), request.user, Action.WRITE, code=code)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    service, done = TRIAGE_STEPS[step]
    try:
        service(region=region.code, anomaly_id=pk, user=request.user.get_username())
    except Anomaly.DoesNotExist:
        raise Http404(f"region {region.code!r} has no anomaly {pk}") from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.message_dict.get("state", exc.messages)))
    else:
        log.info("anomaly %s of %s %s by %s", pk, region.code, done, request.user.get_username())
        messages.success(request, f"Anomaly {pk} {done}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("dashboard:region-anomalies", args=[region.code])
    return redirect(back)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "dashboard/forbidden.html",
                  {"reason": str(exception) if exception else ""}, status=403)
