"""Serializers of the read-only API: what staff may see, and never a device secret."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from rest_framework import serializers

from junction.residency.models import VEHICLE_CLASSES, Region
from junction.sites.models import Counter, Device, Site
from junction.traffic.selectors import INTERVALS


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "endpoint", "min_bucket_seconds", "raw_retention_days",
                  "rollup_retention_days", "k_threshold", "classes"]


class CounterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Counter
        fields = ["name", "kind", "geometry"]


class SiteSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    counters = CounterSerializer(many=True, read_only=True)

    class Meta:
        model = Site
        fields = ["slug", "name", "region", "timezone", "counters", "created_at"]


class DeviceSerializer(serializers.ModelSerializer):
    """Health metadata only: the sealed secrets and their fingerprint are not fields here."""

    site = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    region = serializers.CharField(source="site.region.code", read_only=True)
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)
    rotation_in_progress = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["device_id", "site", "region", "created_at", "revoked", "revoked_at",
                  "rotation_in_progress", "last_batch_at", "batches_received",
                  "last_model_name", "last_model_sha256"]

    def get_rotation_in_progress(self, device: Device) -> bool:
        return bool(device.previous_secret_sealed)


# Longest range per interval, so one answer stays a sensible size.
MAX_RANGE = {"bucket": timedelta(days=7), "hour": timedelta(days=93),
             "day": timedelta(days=3660)}


class CountQuerySerializer(serializers.Serializer):
    """Query of /sites/{slug}/counts; `context["site"]` is the site asked about."""

    start = serializers.DateTimeField(required=False,
                                      help_text="inclusive; default: 24 h before `end`")
    end = serializers.DateTimeField(required=False, help_text="exclusive; default: now")
    counter = serializers.CharField(required=False, help_text="one of the site's counters")
    road_user = serializers.ChoiceField(choices=VEHICLE_CLASSES, required=False)
    interval = serializers.ChoiceField(
        choices=INTERVALS, default="bucket",
        help_text="bucket: as delivered; hour/day: summed in the site's time zone",
    )

    def validate_counter(self, value: str) -> str:
        site: Site = self.context["site"]
        names = [c.name for c in site.counters.all()]
        if value not in names:
            raise serializers.ValidationError(
                f"site {site.slug!r} has no counter {value!r} (it has: {', '.join(names)})"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        end = attrs.setdefault("end", timezone.now())
        start = attrs.setdefault("start", end - timedelta(hours=24))
        if start >= end:
            raise serializers.ValidationError({"start": "must be before end"})
        longest = MAX_RANGE[attrs["interval"]]
        if end - start > longest:
            raise serializers.ValidationError(
                {"end": f"a range of at most {longest.days} days for interval "
                        f"{attrs['interval']!r}; use a coarser interval"}
            )
        return attrs


class CountTotalSerializer(serializers.Serializer):
    start = serializers.DateTimeField(source="period")
    counter = serializers.CharField()
    direction = serializers.CharField(allow_null=True)
    road_user = serializers.CharField()
    count = serializers.IntegerField()


class SiteCountsSerializer(serializers.Serializer):
    site = serializers.CharField()
    region = serializers.CharField()
    timezone = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    interval = serializers.CharField()
    results = CountTotalSerializer(many=True)


class SiteTotalsQuerySerializer(serializers.Serializer):
    """Whole local days only: a transfer at daily level must not be cut finer by the range."""

    start = serializers.DateField(required=False, help_text="first local day; default: 30 "
                                                            "days before `end`")
    end = serializers.DateField(required=False, help_text="day after the last; default: "
                                                          "tomorrow in the site's zone")

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
    count = serializers.IntegerField(allow_null=True,
                                     help_text="null when withheld (below the rule's k)")
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
    transfer = TransferSerializer(allow_null=True,
                                  help_text="the transfer rule this answer crossed under")
    results = SiteTotalSerializer(many=True)
