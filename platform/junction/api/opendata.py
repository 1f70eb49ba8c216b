"""GET /api/v1/regions/{code}/opendata: a region's open-data export for its own staff.

The region comes from the path and is judged by `ScopedView.region()` (403 with the reason)
before any of its data is read; the reads go through `in_region`, so a node pinned elsewhere answers
421 with the right endpoint. Every answer is an audited export (junction.opendata.services).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from junction.api.query_fields import QueryDateField
from junction.api.scoping import ScopedView
from junction.api.serializers import STATUS_CHOICES
from junction.opendata.formats import TOTALS_RULE, as_document
from junction.opendata.publication import PERIODS, SCHEMA
from junction.opendata.services import MAX_DAYS, opendata_export
from junction.residency.models import Region
from junction.sites.models import Site


class OpenDataQuerySerializer(serializers.Serializer):
    """`context["region"]` is the region asked about."""

    start = QueryDateField(help_text="first local day of the sites")
    end = QueryDateField(help_text="the day after the last")
    period = serializers.ChoiceField(
        choices=list(PERIODS),
        default="day",
        help_text=f"day: the site's local days (at most {MAX_DAYS['day']} days); hour: "
        f"hours (at most {MAX_DAYS['hour']} days)",
    )
    site = serializers.SlugField(
        required=False, help_text="one site; default: every site of the region"
    )

    def validate_site(self, value: str) -> Site:
        region: Region = self.context["region"]
        site = Site.objects.filter(slug=value, region=region).select_related("region").first()
        if site is None:
            raise serializers.ValidationError(f"region {region.code!r} has no site {value!r}")
        return site

    def validate(self, attrs: dict) -> dict:
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"start": "must be before end"})
        if (attrs["end"] - attrs["start"]).days > MAX_DAYS[attrs["period"]]:
            raise serializers.ValidationError(
                {
                    "end": f"a range of at most {MAX_DAYS[attrs['period']]} days for period "
                    f"{attrs['period']!r}"
                }
            )
        return attrs


class CategorySerializer(serializers.Serializer):
    counter = serializers.CharField()
    direction = serializers.CharField(allow_null=True, help_text="null for movements")
    road_user = serializers.CharField()


class CellSerializer(CategorySerializer):
    count = serializers.IntegerField(
        allow_null=True,
        help_text="null when withheld, or when the window has no data; never 0 for a withheld cell",
    )
    withheld = serializers.BooleanField(
        help_text="below k, or withheld so that a small cell cannot be worked out from totals"
    )


class WindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    coverage = serializers.FloatField(
        allow_null=True, help_text="share of the window that was analysed"
    )
    pending = serializers.BooleanField(help_text="awaits a recompute; the total may grow")
    total = serializers.IntegerField(
        allow_null=True, help_text="sum of the published cells; null: no data"
    )
    complete = serializers.BooleanField(help_text="false: the total leaves out withheld cells")
    cells = CellSerializer(many=True)


class CategoryTotalSerializer(CategorySerializer):
    total = serializers.IntegerField(
        help_text="sum of its published cells over the complete windows"
    )
    complete = serializers.BooleanField(help_text="false: leaves out withheld cells")
    windows = serializers.IntegerField(help_text="complete windows summed")
    partial_windows = serializers.IntegerField(help_text="partly measured windows, not summed")


class SiteTableSerializer(serializers.Serializer):
    site = serializers.CharField()
    timezone = serializers.CharField()
    categories = CategorySerializer(many=True)
    windows = WindowSerializer(many=True)
    category_totals = CategoryTotalSerializer(many=True)


class NoiseSerializer(serializers.Serializer):
    mechanism = serializers.CharField()
    epsilon = serializers.FloatField()
    scale = serializers.FloatField(help_text="Laplace scale of each cell's noise (1/epsilon)")


class OpenDataSerializer(serializers.Serializer):
    schema = serializers.CharField(help_text=SCHEMA)
    region = serializers.CharField()
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    k = serializers.IntegerField(help_text="the region's publication threshold")
    noise = NoiseSerializer(
        allow_null=True, help_text="differential-privacy noise added; null: none"
    )
    totals = serializers.CharField(help_text=TOTALS_RULE)
    sites = SiteTableSerializer(many=True)


class RegionOpenDataView(ScopedView):
    """A region's counts as open data: per site, windows x (counter, direction, road user),
    small cells withheld with complementary suppression, Laplace noise when the region sets an
    epsilon, coverage on every window. Audited as an export in the region's log."""

    serializer_class = OpenDataSerializer

    @extend_schema(parameters=[OpenDataQuerySerializer], responses=OpenDataSerializer)
    def get(self, request: Request, code: str) -> Response:
        region = self.region()
        query = OpenDataQuerySerializer(data=request.query_params, context={"region": region})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        publication = opendata_export(
            region=region,
            actor=request.user.get_username(),
            start=params["start"],
            end=params["end"],
            period=params["period"],
            site=params.get("site"),
        )
        return Response(self.get_serializer(as_document(publication)).data)
