"""Regions and their policies, transfer rules (control plane), and the data-access audit log
(region plane: each region keeps its own)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from edge_worker.contract import ROAD_USER_CLASSES
from junction.residency.base import ControlModel, RegionModel
from junction.residency.locality import holiday_area_check, time_zone_check


def _default_classes() -> list[str]:
    return list(ROAD_USER_CLASSES)


class Region(ControlModel):
    region_path = "code"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    endpoint = models.URLField(
        blank=True, help_text="Public base URL of this region's node (sent with 421 answers)."
    )
    # The region's policy: what it accepts from devices and how long it keeps data.
    min_bucket_seconds = models.PositiveIntegerField(default=60)
    raw_retention_days = models.PositiveIntegerField(default=90)
    rollup_retention_days = models.PositiveIntegerField(default=730)
    k_threshold = models.PositiveIntegerField(
        default=5, help_text="Counts below k are suppressed when published."
    )
    dp_epsilon = models.FloatField(
        null=True, blank=True, help_text="Differential-privacy budget for open-data exports."
    )
    classes = models.JSONField(default=_default_classes)
    # Local time and public holidays: sites default to the region's zone, and anomaly
    # detection judges a public holiday of the region's calendar as one.
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[time_zone_check],
        help_text="IANA time zone (e.g. Europe/Paris); the default of the region's sites.",
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO 3166-1 alpha-2 code of the public-holiday calendar (blank: none).",
    )
    subdivision = models.CharField(
        max_length=32,
        blank=True,
        help_text="Subdivision of the country whose holidays also apply (e.g. NY for the US).",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        unknown = set(self.classes) - set(ROAD_USER_CLASSES)
        if unknown:
            raise ValidationError({"classes": f"unknown classes: {', '.join(sorted(unknown))}"})
        holiday_area_check(country=self.country, subdivision=self.subdivision)


class TransferLevel(models.TextChoices):
    DAILY_SITE_TOTALS = "daily_site_totals", "Daily site totals"
    HOURLY_SITE_TOTALS = "hourly_site_totals", "Hourly site totals"


class TransferRule(ControlModel):
    """The only way data crosses regions: source -> destination at an aggregate level, with k."""

    source = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="transfers_out")
    destination = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="transfers_in")
    level = models.CharField(max_length=32, choices=TransferLevel.choices)
    min_count = models.PositiveIntegerField(default=10, help_text="k: smaller cells are withheld")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "destination", "level"], name="one_rule_per_transfer"
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("destination")), name="transfer_crosses_regions"
            ),
        ]


class AuditEvent(RegionModel):
    """Who read or exported this region's data, from where, and why it was allowed."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=200)
    # read | export | transfer | retention | refused | rule_created | rule_changed | rule_deleted
    action = models.CharField(max_length=32)
    destination_region = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict)
    # A row may stand for identical refusals repeated within a window (services.audit_repeated):
    # `at` is the first, `last_at` the latest, `repeats` how many. Other rows stand for one.
    repeats = models.PositiveIntegerField(default=1)
    last_at = models.DateTimeField(null=True, blank=True)
    repeat_key = models.CharField(max_length=64, blank=True, default="")

    class Meta(RegionModel.Meta):
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["repeat_key"],
                condition=~models.Q(repeat_key=""),
                name="one_audit_row_per_repeat_window",
            ),
        ]
