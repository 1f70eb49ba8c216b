"""Sites, counters and devices (control plane: configuration and metadata, no traffic data)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from junction.residency.base import ControlModel
from junction.residency.locality import time_zone_check
from junction.residency.models import Region


class Site(ControlModel):
    region_path = "region__code"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="sites")
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[time_zone_check],
        help_text="IANA time zone; site_add defaults it to the region's.",
    )
    # WGS 84, for maps and open-standard exports (a FIWARE entity's `location`); optional.
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class CounterKind(models.TextChoices):
    LINE = "line", "Line"
    MOVEMENT = "movement", "Turning movement"
    ZONE = "zone", "Zone"


class Counter(ControlModel):
    """A named count location of a site: a line (with direction), a movement or a zone."""

    region_path = "site__region__code"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="counters")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=CounterKind.choices, default=CounterKind.LINE)
    geometry = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="counter_name_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.site.slug}/{self.name}"


class Device(ControlModel):
    region_path = "site__region__code"

    device_id = models.SlugField(max_length=100, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices")
    # Sealed (encrypted) secrets; see junction.sites.credentials for why not a bare hash.
    secret_sealed = models.TextField()
    secret_fingerprint = models.CharField(max_length=64)
    # During a rotation the previous secret stays valid until the operator finishes it.
    previous_secret_sealed = models.TextField(blank=True)
    rotation_started_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Health: metadata about deliveries only.
    last_batch_at = models.DateTimeField(null=True, blank=True)
    batches_received = models.PositiveBigIntegerField(default=0)
    last_model_name = models.CharField(max_length=100, blank=True)
    last_model_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["device_id"]

    def __str__(self) -> str:
        return self.device_id

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
