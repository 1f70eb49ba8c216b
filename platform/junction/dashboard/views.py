"""Dashboard pages: the user's regions, sites and device health; one site over a period;
a region's anomalies, with acknowledge and resolve for the region's operators."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
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

from junction.analytics import selectors as analytics
from junction.analytics.anomalies import anomaly_acknowledge, anomaly_resolve
from junction.analytics.models import Anomaly
from junction.dashboard import chart, exports, periods, selectors
from junction.dashboard.overview import region_overview
from junction.dashboard.sitemap import site_map, tile_origin
from junction.dashboard.study import site_study
from junction.middleware import bad_request
from junction.residency.middleware import read_unless_unreachable
from junction.residency.models import Region
from junction.residency.planes import served_regions
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
    regions = list(selectors.regions_for(request.user))
    sites = list(selectors.sites_for(request.user))
    # The overviews of the regions this node serves (another region's data is on its node).
    overviews = [
        (
            region,
            *_overview_or_unavailable(region, [s for s in sites if s.region_id == region.pk], now),
        )
        for region in regions
        if region.code in served_regions()
    ]
    return render(
        request,
        "dashboard/home.html",
        {
            "regions": [(region, roles.get(region.code, fallback)) for region in regions],
            "overviews": overviews,
            "sites": sites,
            "devices": [chart.device_health(d, now) for d in devices],
        },
    )


def _overview_or_unavailable(region: Region, sites: list[Site], now: datetime) -> tuple[list, bool]:
    """A region's cards, or (no cards, unavailable) when its database is out of reach."""
    cards = read_unless_unreachable(region.code, lambda: region_overview(region.code, sites, now))
    if cards is None:
        return [], True
    return [(card, chart.sparkline(card.days)) for card in cards], False


@login_required
def site(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        site = scoped_get(Site.objects.select_related("region"), request.user, slug=slug)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    try:
        span = periods.span_from(request.GET, ZoneInfo(site.timezone), timezone.now())
    except periods.BadParameter as exc:
        return bad_request(request, exc.parameter, exc.reason)
    wanted, table = request.GET.get("format", ""), request.GET.get("table", "flow")
    if wanted not in ("", "csv"):
        return bad_request(request, "format", "must be csv (or absent for the page)")
    if table not in exports.WRITERS:
        return bad_request(request, "table", f"must be one of {', '.join(exports.WRITERS)}")
    study = site_study(site, span)
    if wanted == "csv":
        return exports.study_csv(study, table)
    now = timezone.now()
    devices = [chart.device_health(d, now) for d in selectors.devices_for(request.user, site)]
    return render(
        request,
        "dashboard/site.html",
        {
            "site": site,
            "study": study,
            "chart": chart.flow_chart(study, anomaly_url),
            "presets": [
                (value, label, span.query(period=value, start="", end=""))
                for value, label in periods.PRESETS
            ],
            "granularities": [
                (value, label, span.query(granularity=value))
                for value, label in periods.GRANULARITIES
                if span.days <= periods.MOST_WINDOWS[value]
            ],
            "csv": {table: span.query(format="csv", table=table) for table in exports.WRITERS},
            "week_before": span.query(compare=(span.first - timedelta(weeks=1)).isoformat()),
            "no_compare": span.query(compare=""),
            "speed_bars": (
                chart.speed_bars(study.speed.edges_kmh, study.speed.counts) if study.speed else []
            ),
            "devices": devices,
        },
    )


def anomaly_url(anomaly: Anomaly) -> str:
    return reverse("dashboard:anomaly", args=[anomaly.region, anomaly.pk])


@login_required
def region(request: HttpRequest, code: str) -> HttpResponse:
    try:
        region = scoped_get(Region.objects.all(), request.user, code=code)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    sites = list(Site.objects.filter(region=region).order_by("name"))
    cards = region_overview(region.code, sites, timezone.now())
    tile_url = settings.MAP_TILE_URL
    response = render(
        request,
        "dashboard/region.html",
        {
            "region": region,
            "cards": [(card, chart.sparkline(card.days)) for card in cards],
            "map": site_map(sites, tile_url),
            "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        },
    )
    if tile_url:
        # This page alone may load images from the operator's tile server.
        response._csp_update = {"img-src": [tile_origin(tile_url)]}  # type: ignore[attr-defined]
    return response


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
    page = Paginator(
        selectors.region_anomalies(region.code, tabs[tab], site), ANOMALIES_PER_PAGE
    ).get_page(request.GET.get("page"))
    anomalies = list(page.object_list)
    slugs = selectors.site_slugs(anomalies)
    return render(
        request,
        "dashboard/anomalies.html",
        {
            "region": region,
            "tab": tab,
            "site": site,
            "tabs": [(value, label) for value, label, _ in selectors.ANOMALY_TABS],
            "page": page,
            "anomalies": [(anomaly, slugs.get(anomaly.site_id)) for anomaly in anomalies],
            "can_triage": selectors.can_triage(request.user, region.code),
            "here": request.get_full_path(),
        },
    )


KIND_WORDS = {
    "outage": "No counts arrived while traffic was expected: the camera or its link was down, "
    "so the traffic of the gap is unknown (not zero).",
    "drop": "Far less traffic was counted than is normal for this weekday and time.",
    "spike": "Far more traffic was counted than is normal for this weekday and time.",
    "flatline": "The count stayed the same for longer than real traffic does: a stuck counter.",
    "erratic": "Counts jumped up and down far more than this site's traffic does.",
}

# What a severity number measures, per kind (junction.analytics.detector).
SEVERITY_UNITS = {
    "flatline": "-log10 of the chance of so long a run of equal counts",
    "outage": "standard deviations of traffic left unmeasured (at least 5)",
}
SCORE_UNIT = "robust standard deviations from the normal (|z|)"


@login_required
def anomaly(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    try:
        region = scoped_get(Region.objects.all(), request.user, code=code)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    found = analytics.anomaly_list(region=region.code).filter(pk=pk).first()
    if found is None:
        raise Http404(f"region {region.code!r} has no anomaly {pk}")
    site = Site.objects.filter(region=region, pk=found.site_id).first()
    zone = ZoneInfo(site.timezone if site else region.timezone)
    first, last = found.start.astimezone(zone).date(), found.end.astimezone(zone).date()
    # The anomaly's local days, drawn as the site page draws them: flow, normal band, the band.
    study = (
        site_study(
            site,
            periods.Span(
                first=first,
                last=last,
                preset="",
                zone=zone,
                granularity=periods.default_granularity((last - first).days + 1),
            ),
        )
        if site is not None and last - first < periods.LONGEST
        else None
    )
    return render(
        request,
        "dashboard/anomaly.html",
        {
            "region": region,
            "anomaly": found,
            "site": site,
            "zone": zone,
            "start": found.start.astimezone(zone),
            "end": found.end.astimezone(zone),
            "explained": KIND_WORDS.get(found.kind, found.get_kind_display()),
            "severity_unit": SEVERITY_UNITS.get(found.kind, SCORE_UNIT),
            "site_query": f"start={first}&end={last}",
            "study": study,
            "chart": chart.flow_chart(study, anomaly_url) if study else None,
            "can_triage": selectors.can_triage(request.user, region.code),
            "here": request.get_full_path(),
        },
    )


TRIAGE_STEPS = {
    "acknowledge": (anomaly_acknowledge, "acknowledged"),
    "resolve": (anomaly_resolve, "resolved"),
}


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
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("dashboard:region-anomalies", args=[region.code])
    return redirect(back)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "dashboard/forbidden.html",
        {"reason": str(exception) if exception else ""},
        status=403,
    )
