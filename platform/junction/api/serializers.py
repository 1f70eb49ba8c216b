"""Serializers of the read-only API: what staff may see, and never a device secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from rest_framework import serializers

from edge_worker.contract import ROAD_USER_CLASSES
from junction.analytics import selectors as analytics_selectors
from junction.analytics.models import Anomaly, Period
from junction.api.query_fields import QueryDateField, QueryDateTimeField
from junction.residency.models import Region
from junction.sites.models import Counter, Device, Site
from junction.traffic.selectors import INTERVALS


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = [
            "code",
            "name",
            "endpoint",
            "min_bucket_seconds",
            "raw_retention_days",
            "rollup_retention_days",
            "k_threshold",
            "classes",
            "timezone",
            "country",
            "subdivision",
        ]


class CounterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Counter
        fields = ["name", "kind", "geometry"]


class SiteSerializer(serializers.ModelSerializer):
    region: serializers.SlugRelatedField[Region] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    counters = CounterSerializer(many=True, read_only=True)

    class Meta:
        model = Site
        fields = [
            "slug",
            "name",
            "region",
            "timezone",
            "latitude",
            "longitude",
            "counters",
            "created_at",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    """Health metadata only: the sealed secrets and their fingerprint are not fields here."""

    site: serializers.SlugRelatedField[Site] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    region = serializers.CharField(source="site.region.code", read_only=True)
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)
    rotation_in_progress = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "device_id",
            "site",
            "region",
            "created_at",
            "revoked",
            "revoked_at",
            "rotation_in_progress",
            "last_batch_at",
            "batches_received",
            "last_model_name",
            "last_model_sha256",
        ]

    def get_rotation_in_progress(self, device: Device) -> bool:
        return bool(device.previous_secret_sealed)


STATUS_CHOICES = [
    ("complete", "analysed for at least 95% of the window"),
    ("partial", "analysed for part of the window: the count is that part's"),
    ("no_data", "not analysed at all: unknown traffic, not zero"),
]

# Longest range per interval, so one answer stays a sensible size.
MAX_RANGE = {"bucket": timedelta(days=7), "hour": timedelta(days=93), "day": timedelta(days=3660)}


def _validate_site_counter(site: Site, value: str) -> str:
    names = [c.name for c in site.counters.all()]
    if value not in names:
        raise serializers.ValidationError(
            f"site {site.slug!r} has no counter {value!r} (it has: {', '.join(names)})"
        )
    return value


def _validate_range(attrs: dict, grain: str, longest_by_grain: dict, hint: str) -> dict:
    """Default a query to the last 24 h and cap its length by its time grain, so one request
    cannot make the region database sum years of one-minute buckets."""
    end = attrs.setdefault("end", timezone.now())
    start = attrs.setdefault("start", end - timedelta(hours=24))
    if start >= end:
        raise serializers.ValidationError({"start": "must be before end"})
    longest = longest_by_grain[attrs[grain]]
    if end - start > longest:
        raise serializers.ValidationError(
            {"end": f"a range of at most {longest.days} days for {grain} {attrs[grain]!r}; {hint}"}
        )
    return attrs


class CountQuerySerializer(serializers.Serializer):
    """Query of /sites/{slug}/counts; `context["site"]` is the site asked about."""

    start = QueryDateTimeField(required=False, help_text="inclusive; default: 24 h before `end`")
    end = QueryDateTimeField(required=False, help_text="exclusive; default: now")
    counter = serializers.CharField(required=False, help_text="one of the site's counters")
    road_user = serializers.ChoiceField(choices=ROAD_USER_CLASSES, required=False)
    interval = serializers.ChoiceField(
        choices=INTERVALS,
        default="bucket",
        help_text="bucket: as delivered; hour/day: summed in the site's time zone",
    )

    def validate_counter(self, value: str) -> str:
        return _validate_site_counter(self.context["site"], value)

    def validate(self, attrs: dict) -> dict:
        return _validate_range(attrs, "interval", MAX_RANGE, "use a coarser interval")


class CountTotalSerializer(serializers.Serializer):
    start = serializers.DateTimeField(source="period")
    counter = serializers.CharField()
    direction = serializers.CharField(allow_null=True)
    road_user = serializers.CharField()
    count = serializers.IntegerField()


class CoverageWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    coverage = serializers.FloatField(
        help_text="share of the window (within the range) the site's active devices were analysed"
    )


class SiteCountsSerializer(serializers.Serializer):
    site = serializers.CharField()
    region = serializers.CharField()
    timezone = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    interval = serializers.CharField()
    results = CountTotalSerializer(many=True)
    coverage = CoverageWindowSerializer(
        many=True,
        help_text="every hour of the range (every local day for interval=day), "
        "so an hour without data reads as such and not as zero traffic",
    )


class SiteTotalsQuerySerializer(serializers.Serializer):
    """Whole local days only: a transfer at daily level must not be cut finer by the range."""

    start = QueryDateField(
        required=False, help_text="first local day; default: 30 days before `end`"
    )
    end = QueryDateField(
        required=False, help_text="day after the last; default: tomorrow in the site's zone"
    )

    def validate(self, attrs: dict) -> dict:
        site: Site = self.context["site"]
        today = timezone.now().astimezone(ZoneInfo(site.timezone)).date()
        end = attrs.setdefault("end", today + timedelta(days=1))
        start = attrs.setdefault("start", end - timedelta(days=30))
        if start >= end:
            raise serializers.ValidationError({"start": "must be before end"})
        if (end - start).days > 366:
            raise serializers.ValidationError({"end": "a range of at most 366 days"})
        return attrs


class SiteTotalSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField(
        allow_null=True, help_text="null when withheld (below the rule's k)"
    )
    withheld = serializers.BooleanField()


class TransferSerializer(serializers.Serializer):
    rule = serializers.IntegerField(source="pk")
    destination = serializers.CharField(source="destination.code")
    level = serializers.CharField()
    min_count = serializers.IntegerField()


class SiteTotalsSerializer(serializers.Serializer):
    site = serializers.CharField()
    region = serializers.CharField()
    timezone = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    transfer = TransferSerializer(
        allow_null=True, help_text="the transfer rule this answer crossed under"
    )
    results = SiteTotalSerializer(many=True)


# --- analytics: rollups with coverage, a day's measures, anomalies -------------------------

# Longest range per rollup period; answers are paginated by window, this bounds the scan.
ROLLUP_MAX_RANGE = {
    Period.QUARTER_HOUR: timedelta(days=31),
    Period.HOUR: timedelta(days=93),
    Period.DAY: timedelta(days=3660),
}


class RollupQuerySerializer(serializers.Serializer):
    """Query of /sites/{slug}/rollups; `context["site"]` is the site asked about."""

    period = serializers.ChoiceField(
        choices=Period.values,
        default=Period.HOUR.value,
        help_text="15m, 1h, or 1d (the site's local days)",
    )
    start = QueryDateTimeField(
        required=False, help_text="default: 24 h before `end`; widened to the start of its window"
    )
    end = QueryDateTimeField(required=False, help_text="exclusive; default: now")
    counter = serializers.CharField(required=False, help_text="one of the site's counters")
    road_user = serializers.ChoiceField(choices=ROAD_USER_CLASSES, required=False)

    def validate_counter(self, value: str) -> str:
        return _validate_site_counter(self.context["site"], value)

    def validate(self, attrs: dict) -> dict:
        return _validate_range(attrs, "period", ROLLUP_MAX_RANGE, "use a longer period")


class RollupRowSerializer(serializers.Serializer):
    counter = serializers.CharField()
    direction = serializers.CharField(allow_null=True, help_text="null for movements")
    road_user = serializers.CharField()
    count = serializers.IntegerField()


class RollupWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    coverage = serializers.FloatField(
        allow_null=True,
        help_text="share of the window the site's cameras were analysed; "
        "null when nothing was delivered for it",
    )
    pending = serializers.BooleanField(
        help_text="late buckets arrived and the window awaits its recompute"
    )
    count = serializers.IntegerField(
        allow_null=True, help_text="total of the rows; null when there is no data"
    )
    rows = RollupRowSerializer(many=True)


class SiteRollupsSerializer(serializers.Serializer):
    site = serializers.CharField()
    region = serializers.CharField()
    timezone = serializers.CharField()
    period = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    count = serializers.IntegerField(help_text="windows in the range, over all pages")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RollupWindowSerializer(many=True)


class MeasuresQuerySerializer(serializers.Serializer):
    date = QueryDateField(required=False, help_text="the site's local day; default: today there")
    counter = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="counters the peak hour is taken over (repeat the parameter); default: "
        "all, which counts a road user twice where a stop line and a movement "
        "both see it",
    )

    def validate_counter(self, value: list[str]) -> list[str]:
        return [_validate_site_counter(self.context["site"], name) for name in value]

    def validate(self, attrs: dict) -> dict:
        site: Site = self.context["site"]
        attrs.setdefault("date", timezone.now().astimezone(ZoneInfo(site.timezone)).date())
        return attrs


class PeakHourSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    volume = serializers.IntegerField()
    busiest_quarter = serializers.IntegerField(help_text="volume of its busiest 15 minutes")
    phf = serializers.FloatField(help_text="peak hour factor: volume / (4 x busiest quarter)")


class TmcQuarterSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    coverage = serializers.FloatField(allow_null=True)
    movements = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text='{"movement or counter:direction": {"road user": count}}',
    )


class HourSpeedSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    v85_kmh = serializers.FloatField(allow_null=True)


class SiteMeasuresSerializer(serializers.Serializer):
    site = serializers.CharField()
    region = serializers.CharField()
    timezone = serializers.CharField()
    date = serializers.DateField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    coverage = serializers.FloatField(allow_null=True, help_text="of the whole local day")
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    counters = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="the peak hour's counters; null: all",
    )
    peak_hour = PeakHourSerializer(
        allow_null=True,
        help_text="over fully measured quarter hours only; null when the "
        "day has no four consecutive ones",
    )
    tmc = TmcQuarterSerializer(many=True, help_text="every quarter hour of the day")
    v85 = HourSpeedSerializer(many=True, help_text="hours with speed histograms")


class BlankAsNullField(serializers.CharField):
    """A text column whose blank means "none": answered as null, not as ""."""

    def __init__(self, **kwargs) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    # DRF's stubs say a CharField answers a str, but a field may answer null (DRF itself does
    # for a None value), and null is the point of this one.
    def to_representation(self, value: str) -> str | None:  # type: ignore[override]
        return value or None


class AnomalySerializer(serializers.ModelSerializer):
    """The one representation of an anomaly: the API answers it and `manage.py anomalies
    --json` prints it (both through `anomalies_represent`). `context["site_slugs"]` maps the
    anomalies' site ids to slugs (sites are control plane)."""

    site = serializers.SerializerMethodField(help_text="the site's slug")
    counter = BlankAsNullField(
        help_text="the counter's name; null for a finding that is not about one counter, "
        "such as a camera's outage (earlier versions answered an empty string)"
    )
    device = BlankAsNullField(
        source="device_id",
        help_text="for an outage, the camera (device id) that went dark; the site's other "
        "cameras kept counting. Null for traffic findings",
    )
    acknowledged_by = BlankAsNullField(help_text="null until acknowledged")
    resolved_by = BlankAsNullField(help_text="null until resolved")

    class Meta:
        model = Anomaly
        fields = [
            "id",
            "region",
            "site",
            "counter",
            "device",
            "kind",
            "start",
            "end",
            "severity",
            "expected",
            "observed",
            "state",
            "detected_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
        ]

    def get_site(self, anomaly: Anomaly) -> str | None:
        return self.context["site_slugs"].get(anomaly.site_id)


def anomalies_represent(
    anomalies: Sequence[Anomaly], context: Mapping[str, Any] | None = None
) -> list[dict]:
    """Anomalies as the API shows them, with their sites' slugs read in one query."""
    slugs = analytics_selectors.site_slugs({anomaly.site_id for anomaly in anomalies})
    return list(
        AnomalySerializer(
            anomalies, many=True, context={**(context or {}), "site_slugs": slugs}
        ).data
    )
