"""Rollups, dirty windows and anomalies live in the region's database (region plane); alert
subscriptions are configuration and live in the control plane; deliveries are region plane."""

from __future__ import annotations

from django.db import models

from junction.residency.base import ControlModel, RegionModel
from junction.residency.models import Region


class Period(models.TextChoices):
    QUARTER_HOUR = "15m", "15 minutes"
    HOUR = "1h", "Hour"
    DAY = "1d", "Day"


PERIOD_SECONDS = {Period.QUARTER_HOUR: 900, Period.HOUR: 3600, Period.DAY: 86400}


class Rollup(RegionModel):
    """Total count of one site/counter/direction/road user over one window.

    `coverage` is the fraction of the window the site's cameras were analysed; a half-covered
    hour carries 0.5 and must be read as "half measured", never as "half the traffic".
    `direction` is "" for movements (CountRow keeps NULL) so it can take part in the unique key.
    """

    site_id = models.BigIntegerField()
    period = models.CharField(max_length=3, choices=Period.choices)
    start = models.DateTimeField()
    counter = models.CharField(max_length=100)
    direction = models.CharField(max_length=8, blank=True, default="")
    road_user = models.CharField(max_length=16)
    count = models.PositiveBigIntegerField()
    coverage = models.FloatField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["site_id", "period", "start", "counter", "direction", "road_user"],
                name="one_rollup_per_window_and_key",
            ),
        ]
        indexes = [models.Index(fields=["site_id", "period", "start"])]


class WindowCoverage(RegionModel):
    """How much of a window a site was analysed, kept even when nothing was counted.

    Without it a window with no rollup rows is ambiguous: zero traffic, or no data at all.
    """

    site_id = models.BigIntegerField()
    period = models.CharField(max_length=3, choices=Period.choices)
    start = models.DateTimeField()
    analysed_seconds = models.FloatField()
    devices = models.PositiveIntegerField()
    coverage = models.FloatField()

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["site_id", "period", "start"], name="one_coverage_per_window"
            ),
        ]


class DeviceCoverage(RegionModel):
    """How much of a window each camera of a site was analysed.

    The site's own coverage averages its cameras, which is right for the site's total and wrong
    for a counter: when one of two cameras goes dark, its counters are unmeasured (an outage)
    while the other camera's counters are measured in full and must not be scaled up.
    """

    site_id = models.BigIntegerField()
    device_id = models.CharField(max_length=100)
    period = models.CharField(max_length=3, choices=Period.choices)
    start = models.DateTimeField()
    analysed_seconds = models.FloatField()
    coverage = models.FloatField()
    # When its data last changed: detection judges again the windows that late data reopened.
    computed_at = models.DateTimeField()

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["site_id", "device_id", "period", "start"],
                name="one_coverage_per_device_and_window",
            ),
        ]
        indexes = [
            models.Index(fields=["site_id", "period", "start"]),
            models.Index(fields=["site_id", "computed_at"]),
        ]


class CounterFeed(RegionModel):
    """Which camera counts a counter, learned from the rows it delivers.

    When a camera goes dark its counters deliver nothing at all, so the window itself cannot say
    whose they were; the rows it delivered before can.
    """

    site_id = models.BigIntegerField()
    counter = models.CharField(max_length=100)
    device_id = models.CharField(max_length=100)
    last_seen = models.DateTimeField()

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["site_id", "counter", "device_id"], name="one_feed_per_counter_and_device"
            ),
        ]


class DirtyWindow(RegionModel):
    """An hour of one site whose rollups must be recomputed (a late or re-sent bucket).

    Marking is an upsert that resets the state to pending and bumps `marked_at`; a run claims
    pending rows with filter().update() and removes a row only if it was not marked again
    while being recomputed, so no late bucket is ever lost between mark and recompute.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        CLAIMED = "claimed"

    site_id = models.BigIntegerField()
    start = models.DateTimeField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    marked_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["site_id", "start"], name="one_dirty_mark_per_hour"),
        ]
        indexes = [models.Index(fields=["state", "start"])]


class AnomalyKind(models.TextChoices):
    DROP = "drop", "Sudden drop (incident or closure)"
    SPIKE = "spike", "Spike (event)"
    FLATLINE = "flatline", "Flatline or stuck count"
    ERRATIC = "erratic", "Erratic counts"
    OUTAGE = "outage", "Device outage (no data)"


class Anomaly(RegionModel):
    """Consecutive anomalous windows of one site and counter, merged into one finding."""

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    site_id = models.BigIntegerField()
    # Empty for findings that are not about one counter: an outage is about a camera.
    counter = models.CharField(max_length=100, blank=True, default="")
    # The camera that went dark, for outages; a site's other cameras keep counting.
    device_id = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=10, choices=AnomalyKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    severity = models.FloatField(help_text="Largest robust score magnitude over the anomaly.")
    expected = models.FloatField(help_text="Baseline volume over the anomaly.")
    observed = models.FloatField(help_text="Counted volume over the anomaly (coverage-scaled).")
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    detected_at = models.DateTimeField(auto_now_add=True)
    # Users live in the control plane: keep plain identifiers, never a cross-plane key.
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta(RegionModel.Meta):
        ordering = ["-start"]
        indexes = [models.Index(fields=["site_id", "counter", "kind", "end"])]


class AlertSubscription(ControlModel):
    """Where a region's anomalies are announced: configuration only, no traffic data."""

    region_path = "region__code"

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="alert_subscriptions")
    name = models.CharField(max_length=200)
    min_severity = models.FloatField(default=5.0)
    kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind.")
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    emails = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["region", "name"]

    def __str__(self) -> str:
        return f"{self.region.code}/{self.name}"


class AlertDelivery(RegionModel):
    """One announcement of one anomaly on one channel, with its attempts and outcome."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    anomaly = models.ForeignKey(Anomaly, on_delete=models.CASCADE, related_name="deliveries")
    subscription_id = models.BigIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["anomaly", "subscription_id", "channel"],
                name="one_delivery_per_anomaly_and_channel",
            ),
        ]
