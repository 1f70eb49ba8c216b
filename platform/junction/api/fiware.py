"""GET /api/v1/sites/{slug}/fiware: a site's counts as FIWARE Smart Data Models
`TrafficFlowObserved` entities (NGSI-LD key-values, each with its JSON-LD `@context`), for
city platforms that speak the open standard rather than Junction's own API.

One entity per counter, direction, vehicle type and window (an entity has one `vehicleType`,
so a window's classes are separate entities). How Junction's words map to the model's:

- `intensity`: the vehicles counted in the window, read from the region's own database as
  the counts endpoint reads them (`count_totals`).
- `laneDirection`: a line's `in` is `forward` and `out` is `backward` (DESIGN.md section 5
  fixes which way `in` is); a turning movement has no lane direction, so it is left out.
- `vehicleType`: car, bus, motorcycle and bicycle are the model's own; truck is `lorry`.
  People are not vehicles, and the model has no type for them: their counts are left out.
- `occupancy` is left out: the model means the share of time a vehicle stood on the lane,
  and Junction's occupancy (junction.traffic.models.OccupancySummary) is the mean number of
  road users in a zone, which cannot be turned into that share.
- `location`: a GeoJSON point from the site's coordinates, when it has them.
- `dateObserved`: the ISO 8601 interval `from/to`, which the model allows, beside
  `dateObservedFrom` and `dateObservedTo`. A window is cut to the range asked for, so an
  entity never claims an observation time its count does not cover.
- Only windows the site's cameras analysed completely (coverage status `complete`, as the
  counts endpoint reports it) are exported. The model has no way to say "this hour was half
  measured", and a half-measured hour's count read as the hour's intensity would show a drop
  in traffic that never happened; a window left out reads as unknown, which it is.

Scoped like every site read (`ScopedView`: 403 with the reason for another region's site, 421
on a node pinned elsewhere), and audited as an export in the site's region (who, what, how many
entities), as the open-data export is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from junction.analytics.selectors import coverage_status, delivered_coverage
from junction.analytics.windows import days_touching, local_hours_touching
from junction.api.serializers import CountQuerySerializer
from junction.api.site_query import SiteQueryView
from junction.residency.services import audit_record
from junction.sites.models import Site
from junction.traffic.selectors import count_totals

ENTITY_TYPE = "TrafficFlowObserved"
# The Smart Data Models context of the Transportation subject, then the NGSI-LD core context.
CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/master/"
    "context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]
VEHICLE_TYPES = {
    "car": "car",
    "bus": "bus",
    "truck": "lorry",
    "motorcycle": "motorcycle",
    "bicycle": "bicycle",
}
LANE_DIRECTIONS = {"in": "forward", "out": "backward"}
WINDOWS = {"hour": local_hours_touching, "day": days_touching}


class JsonLdRenderer(JSONRenderer):
    """`Accept: application/ld+json` (or ?format=jsonld): the same body, as NGSI-LD serves it."""

    media_type = "application/ld+json"
    format = "jsonld"


class FiwareQuerySerializer(CountQuerySerializer):
    """The counts query, in whole windows of the site's clock; classes the model can name."""

    road_user = serializers.ChoiceField(
        choices=list(VEHICLE_TYPES),
        required=False,
        help_text="one vehicle class (people are not exported)",
    )
    interval = serializers.ChoiceField(
        choices=list(WINDOWS),
        default="hour",
        help_text="the observation window: the site's local hours or local days",
    )


_DATE_TIME = {"type": "string", "format": "date-time"}
ENTITY_SCHEMA = {
    "type": "object",
    "description": "A FIWARE Smart Data Models TrafficFlowObserved entity (NGSI-LD "
    "key-values). See the module junction.api.fiware for how counts map to it.",
    "required": [
        "id",
        "type",
        "dateObserved",
        "dateObservedFrom",
        "dateObservedTo",
        "intensity",
        "vehicleType",
        "@context",
    ],
    "properties": {
        "id": {
            "type": "string",
            "format": "uri",
            "example": "urn:ngsi-ld:TrafficFlowObserved:main-and-5th:north-stopline:in:car:"
            "20261127T060000Z",
        },
        "type": {"type": "string", "enum": [ENTITY_TYPE]},
        "name": {"type": "string", "description": "site name: counter"},
        "dateObserved": {"type": "string", "description": "ISO 8601 interval from/to"},
        "dateObservedFrom": _DATE_TIME,
        "dateObservedTo": _DATE_TIME,
        "intensity": {
            "type": "integer",
            "minimum": 0,
            "description": "vehicles counted in the window",
        },
        "vehicleType": {"type": "string", "enum": sorted(set(VEHICLE_TYPES.values()))},
        "laneDirection": {
            "type": "string",
            "enum": ["forward", "backward"],
            "description": "in: forward, out: backward; absent for movements",
        },
        "location": {
            "type": "object",
            "description": "GeoJSON Point of the site, when it has coordinates",
        },
        "@context": {"type": "array", "items": {"type": "string", "format": "uri"}},
    },
}


class SiteFiwareView(SiteQueryView):
    """A site's counts as FIWARE TrafficFlowObserved entities, one per counter, direction,
    vehicle type and window of the site's clock that its cameras analysed completely (a
    partly measured window is left out: the model cannot say so). Audited as an export in the
    site's region."""

    query_serializer_class = FiwareQuerySerializer
    # The API's own renderers (JSON first, so errors stay JSON), then JSON-LD on request.
    renderer_classes = [
        *cast(list[type[BaseRenderer]], api_settings.DEFAULT_RENDERER_CLASSES),
        JsonLdRenderer,
    ]

    @extend_schema(
        parameters=[FiwareQuerySerializer],
        responses=OpenApiResponse(
            {"type": "array", "items": ENTITY_SCHEMA}, "The entities, oldest window first."
        ),
    )
    def get(self, request: Request, slug: str) -> Response:
        site, params = self.site_and_query(request)
        start, end, interval = params["start"], params["end"], params["interval"]
        rows = count_totals(
            site=site,
            start=start,
            end=end,
            counter=params.get("counter"),
            road_user=params.get("road_user"),
            interval=interval,
        )
        zone = ZoneInfo(site.timezone)
        grid = WINDOWS[interval](start, end, zone)
        coverage = delivered_coverage(
            region=site.region.code,
            site_id=site.pk,
            windows=grid,
            start=start,
            end=end,
            interval=interval,
            tz=zone,
        )
        windows = {
            w_start: w_end
            for w_start, w_end in grid
            if coverage_status(coverage.get(w_start)) == "complete"
        }
        entities = [
            traffic_flow_observed(
                site, row, max(row["period"], start), min(windows[row["period"]], end)
            )
            for row in rows
            if row["road_user"] in VEHICLE_TYPES and row["period"] in windows
        ]
        audit_record(
            region=site.region.code,
            actor=request.user.get_username(),
            action="export",
            detail={
                "kind": "fiware",
                "site": site.slug,
                "start": _instant(start),
                "end": _instant(end),
                "interval": interval,
                "entities": len(entities),
                "windows_left_out": len(grid) - len(windows),
            },
        )
        return Response(entities)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # An error is no entity: it stays JSON (NGSI-LD brokers answer errors as JSON too),
        # so a client asking for JSON-LD gets the error body every operation documents.
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and isinstance(
            getattr(response, "accepted_renderer", None), JsonLdRenderer
        ):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


def traffic_flow_observed(
    site: Site, row: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    """One count total (`count_totals` row) observed over [start, end) as an entity."""
    direction = row["direction"]
    observed_from, observed_to = _instant(start), _instant(end)
    entity: dict[str, Any] = {
        "id": ":".join(
            [
                "urn:ngsi-ld",
                ENTITY_TYPE,
                quote(site.slug, safe=""),
                quote(row["counter"], safe=""),
                quote(direction or "movement", safe=""),
                row["road_user"],
                start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
            ]
        ),
        "type": ENTITY_TYPE,
        "name": f"{site.name}: {row['counter']}",
        "dateObserved": f"{observed_from}/{observed_to}",
        "dateObservedFrom": observed_from,
        "dateObservedTo": observed_to,
        "intensity": row["count"],
        "vehicleType": VEHICLE_TYPES[row["road_user"]],
    }
    if direction in LANE_DIRECTIONS:
        entity["laneDirection"] = LANE_DIRECTIONS[direction]
    if site.latitude is not None and site.longitude is not None:
        entity["location"] = {"type": "Point", "coordinates": [site.longitude, site.latitude]}
    entity["@context"] = CONTEXT
    return entity


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
