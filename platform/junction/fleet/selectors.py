"""Reads of the fleet: the served repository files, the devices' update states and the
region's rollouts. `manage.py fleet` and the dashboard's fleet page both read through here."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from junction.fleet.models import (
    DeviceUpdate,
    RepoMetadata,
    Role,
    Rollout,
    RolloutState,
    TargetBlob,
)
from junction.sites.models import Device

_VERSIONED = re.compile(r"(\d{1,10})\.(root|snapshot|targets)\.json")
_HASHED = re.compile(r"([0-9a-f]{64})\.(.+)")


@dataclass(frozen=True)
class RepoFile:
    content: bytes
    sha256: str
    # Never replaced under its name (a version or a hash is in it): cacheable for good.
    immutable: bool


def metadata_file_get(region: str, name: str) -> RepoFile | None:
    """`timestamp.json` (the latest), `<version>.<role>.json`, or `root.json` (the latest)."""
    rows = RepoMetadata.objects.in_region(region)
    if name in ("timestamp.json", "root.json"):
        role = name.removesuffix(".json")
        row = rows.filter(role=role).order_by("-version").only("data").first()
        immutable = False
    elif match := _VERSIONED.fullmatch(name):
        row = rows.filter(role=match[2], version=int(match[1])).only("data").first()
        immutable = True
    else:
        return None
    if row is None:
        return None
    content = bytes(row.data)
    return RepoFile(
        content=content, sha256=hashlib.sha256(content).hexdigest(), immutable=immutable
    )


def target_file_get(region: str, name: str) -> RepoFile | None:
    """A target by its consistent-snapshot name: `<folder>/<sha256>.<file name>`."""
    folder, _, base = name.rpartition("/")
    match = _HASHED.fullmatch(base)
    if match is None:
        return None
    path = f"{folder}/{match[2]}" if folder else match[2]
    row = (
        TargetBlob.objects.in_region(region)
        .filter(path=path, sha256=match[1])
        .only("content", "sha256")
        .first()
    )
    if row is None:
        return None
    return RepoFile(content=bytes(row.content), sha256=row.sha256, immutable=True)


@dataclass(frozen=True)
class FleetDevice:
    device_id: str
    site: str
    installed_release: str
    desired_release: str
    state: str
    last_checkin_at: datetime | None
    reason: str
    rollout: int | None

    def as_json(self) -> dict:
        return {
            "device_id": self.device_id,
            "site": self.site,
            "installed_release": self.installed_release or None,
            "desired_release": self.desired_release or None,
            "state": self.state,
            "last_checkin_at": self.last_checkin_at.isoformat() if self.last_checkin_at else None,
            "reason": self.reason or None,
            "rollout": self.rollout,
        }


def fleet_list(region: str) -> list[FleetDevice]:
    """Every device of the region (control plane) with its update state (region database)."""
    devices = (
        Device.objects.filter(site__region__code=region)
        .order_by("device_id")
        .values_list("device_id", "site__slug")
    )
    updates = {u.device_id: u for u in DeviceUpdate.objects.in_region(region)}
    rows = []
    for device_id, site in devices:
        update = updates.get(device_id)
        rows.append(
            FleetDevice(
                device_id=device_id,
                site=site,
                installed_release=update.installed_release if update else "",
                desired_release=update.desired_release if update else "",
                state=update.state if update else "current",
                last_checkin_at=update.last_checkin_at if update else None,
                reason=update.reason if update else "",
                rollout=update.rollout_id if update else None,
            )
        )
    return rows


def rollout_list(region: str) -> QuerySet[Rollout]:
    """The region's rollouts, newest first (at most one of them is open at a time)."""
    return Rollout.objects.in_region(region).order_by("-created_at", "-pk")


def rollout_phase(rollout: Rollout) -> str:
    """The rollout's state, with a running one's first stage told apart: `canary` until its
    canaries are active, as only they are offered the release until then."""
    if rollout.state == RolloutState.RUNNING and not rollout.canary_passed:
        return "canary"
    return rollout.state


def latest_version(region: str, role: Role) -> int:
    row = RepoMetadata.objects.in_region(region).filter(role=role).order_by("-version").first()
    return row.version if row else 0
