"""Fleet updates, all in the region's own database: the region's TUF repository (signed
metadata and target files), its releases and rollouts, and each device's update state.

Devices themselves are control-plane records; rows here name them by their plain device id.
"""

from __future__ import annotations

from django.db import models

from junction.residency.base import RegionModel


class Role(models.TextChoices):
    ROOT = "root", "Root"
    TARGETS = "targets", "Targets"
    SNAPSHOT = "snapshot", "Snapshot"
    TIMESTAMP = "timestamp", "Timestamp"


class RepoMetadata(RegionModel):
    """One signed version of one top-level TUF role, stored byte for byte as it is served."""

    role = models.CharField(max_length=16, choices=Role.choices)
    version = models.PositiveIntegerField()
    expires = models.DateTimeField()
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(RegionModel.Meta):
        ordering = ["role", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["role", "version"], name="one_metadata_per_version"),
        ]


class TargetBlob(RegionModel):
    """A target file's bytes under its TUF target path (a model or a site-config patch)."""

    path = models.CharField(max_length=255, unique=True)
    sha256 = models.CharField(max_length=64)
    length = models.PositiveBigIntegerField()
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)


class Release(RegionModel):
    """A named set of targets a device installs together: a model, a config patch, or both."""

    name = models.SlugField(max_length=100, unique=True)
    model_target = models.CharField(max_length=255, blank=True)
    config_target = models.CharField(max_length=255, blank=True)
    # The custom metadata of its targets, as signed (input size, classes, min worker version).
    custom = models.JSONField(default=dict)
    published_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(RegionModel.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class RolloutState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    HALTED = "halted", "Halted (too many rollbacks)"
    ABORTED = "aborted", "Aborted"
    COMPLETED = "completed", "Completed"


OPEN_ROLLOUT_STATES = (RolloutState.RUNNING, RolloutState.PAUSED, RolloutState.HALTED)


class Rollout(RegionModel):
    """A release offered to a set of devices, canaries first."""

    release = models.CharField(max_length=100)
    state = models.CharField(
        max_length=16, choices=RolloutState.choices, default=RolloutState.RUNNING
    )
    devices = models.JSONField(default=list)
    canaries = models.JSONField(default=list)
    canary_passed = models.BooleanField(default=False)
    # Halt when more than this share of the devices offered the release rolled it back.
    halt_share = models.FloatField()
    reason = models.TextField(blank=True)
    started_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(RegionModel.Meta):
        ordering = ["-created_at"]


class UpdateState(models.TextChoices):
    CURRENT = "current", "Current"
    PENDING = "pending", "Pending"
    DOWNLOADING = "downloading", "Downloading"
    VERIFYING = "verifying", "Verifying"
    ACTIVATING = "activating", "Activating"
    ACTIVE = "active", "Active"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REFUSED = "refused", "Refused"


class DeviceUpdate(RegionModel):
    """What a device runs, what it should run, and where its update stands."""

    device_id = models.CharField(max_length=100, unique=True)
    installed_release = models.CharField(max_length=100, blank=True)
    desired_release = models.CharField(max_length=100, blank=True)
    # What to fall back to when the rollout that set `desired_release` is aborted.
    previous_release = models.CharField(max_length=100, blank=True)
    rollout_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=UpdateState.choices, default=UpdateState.CURRENT
    )
    reason = models.TextField(blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)

    class Meta(RegionModel.Meta):
        ordering = ["device_id"]
