"""The region's TUF repository: writes of its signed metadata (python-tuf's `tuf.api.metadata`).

Four top-level roles with their own keys and thresholds. Root and targets are signed only by the
offline keys (fleet_init, release_publish); snapshot and timestamp by the online keys, renewed
by `metadata_refresh` (a beat task) well before they expire. Snapshots are consistent: every
version of snapshot and targets stays served under `<version>.<role>.json`, and targets under
`<sha256>.<name>`, so a device mid-update never meets a file replaced under its feet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from junction.fleet.keys import signers_create, signers_load, signers_retire
from junction.fleet.models import RepoMetadata, Role, TargetBlob
from junction.residency.planes import served_alias

EXPIRY = {
    Role.ROOT: timedelta(days=365),
    Role.TARGETS: timedelta(days=90),
    Role.SNAPSHOT: timedelta(days=7),
    Role.TIMESTAMP: timedelta(days=1),
}
# Online roles are re-signed once less than this is left; beat runs hourly, so several missed
# runs in a row still leave devices valid metadata.
REFRESH_WITHIN = {Role.SNAPSHOT: timedelta(days=3), Role.TIMESTAMP: timedelta(hours=12)}


@dataclass(frozen=True)
class NewTarget:
    path: str
    content: bytes
    custom: dict[str, Any]


def _expiry(role: str, now: datetime) -> datetime:
    return (now + EXPIRY[Role(role)]).replace(microsecond=0)


def metadata_latest(region: str, role: str) -> Metadata:
    row = (
        RepoMetadata.objects.in_region(region)
        .filter(role=role)
        .order_by("-version")
        .only("data")
        .first()
    )
    if row is None:
        raise ValidationError(f"region {region!r} has no fleet repository yet: run fleet_init")
    return Metadata.from_bytes(bytes(row.data))


def _store(region: str, role: str, metadata: Metadata, signers: Iterable[Signer]) -> int:
    for signer in signers:
        metadata.sign(signer, append=True)
    RepoMetadata(
        region=region,
        role=role,
        version=metadata.signed.version,
        expires=metadata.signed.expires,
        data=metadata.to_bytes(),
    ).save(using=served_alias(region))
    return metadata.signed.version


def repository_init(
    *,
    region: str,
    keys: Mapping[Role, int] | None = None,
    thresholds: Mapping[Role, int] | None = None,
) -> dict:
    """Keys for the four roles (unless already on this machine) and version 1 of each role.

    `keys` and `thresholds` per role default to one: a threshold above one means a stolen key
    alone cannot sign that role, so a release (targets) or a new root needs several operators'
    key files. Every key of a role on this machine signs, so the repository meets its own
    thresholds."""
    counts = {role: (keys or {}).get(role, 1) for role in Role}
    needed = {role: (thresholds or {}).get(role, 1) for role in Role}
    for role in Role:
        if not 1 <= needed[role] <= counts[role]:
            raise ValidationError(
                f"the {role.value} threshold {needed[role]} must be between 1 and "
                f"the number of {role.value} keys {counts[role]}"
            )
    alias = served_alias(region)
    if RepoMetadata.objects.in_region(region).exists():
        raise ValidationError(f"region {region!r} already has a fleet repository")
    signers = {role: signers_create(region, role, counts[role]) for role in Role}
    now = timezone.now()
    root = Root(expires=_expiry(Role.ROOT, now), consistent_snapshot=True)
    for role, role_signers in signers.items():
        for signer in role_signers:
            root.add_key(signer.public_key, role)
        root.roles[role].threshold = needed[role]
    with transaction.atomic(using=alias):
        _store(region, Role.ROOT, Metadata(root), signers[Role.ROOT])
        _store(
            region,
            Role.TARGETS,
            Metadata(Targets(expires=_expiry(Role.TARGETS, now))),
            signers[Role.TARGETS],
        )
        _online_sign(region, now, snapshot=True)
    return {
        "region": region,
        "root_version": 1,
        "keys": {role: [s.public_key.keyid for s in found] for role, found in signers.items()},
        "thresholds": {role.value: needed[role] for role in Role},
    }


def targets_add(*, region: str, targets: list[NewTarget]) -> int:
    """Sign a new targets version holding `targets` besides the earlier ones (offline key),
    then a new snapshot and timestamp; returns the new targets version."""
    alias = served_alias(region)
    signers = signers_load(region, Role.TARGETS)
    now = timezone.now()
    with transaction.atomic(using=alias):
        metadata = metadata_latest(region, Role.TARGETS)
        signed: Targets = metadata.signed
        for target in targets:
            if TargetBlob.objects.in_region(region).filter(path=target.path).exists():
                raise ValidationError(f"target {target.path!r} is already published")
            info = TargetFile.from_data(target.path, target.content, ["sha256"])
            info.unrecognized_fields["custom"] = target.custom
            signed.targets[target.path] = info
            TargetBlob(
                region=region,
                path=target.path,
                sha256=info.hashes["sha256"],
                length=info.length,
                content=target.content,
            ).save(using=alias)
        return _targets_resign(region, metadata, signers, now)


def key_rotate(*, region: str, role: str) -> dict:
    """Replace the key of `role` (a lost or leaked one, or routine): a new root version trusts
    the new key instead of the old, signed by the old root keys (and, for root, the new ones
    too, so both the chain and the new root verify), then the role is re-signed with it."""
    role = Role(role)
    alias = served_alias(region)
    now = timezone.now()
    old_root_signers = signers_load(region, Role.ROOT)
    with transaction.atomic(using=alias):
        metadata = metadata_latest(region, Role.ROOT)
        root: Root = metadata.signed
        old_keyids = set(root.roles[role].keyids)
        new_signers = signers_create(region, role, len(old_keyids))
        for keyid in old_keyids:
            root.revoke_key(keyid, role)
        for signer in new_signers:
            root.add_key(signer.public_key, role)
        root.version += 1
        root.expires = _expiry(Role.ROOT, now)
        metadata.signatures.clear()
        signers = [*old_root_signers, *(new_signers if role == Role.ROOT else [])]
        version = _store(region, Role.ROOT, metadata, signers)
        signers_retire(region, role, old_keyids)
        if role == Role.TARGETS:
            _targets_resign(
                region,
                metadata_latest(region, Role.TARGETS),
                signers_load(region, Role.TARGETS),
                now,
            )
        elif role in (Role.SNAPSHOT, Role.TIMESTAMP):
            _online_sign(region, now, snapshot=True)
    return {
        "region": region,
        "role": role.value,
        "root_version": version,
        "keys": [signer.public_key.keyid for signer in new_signers],
    }


def _targets_resign(
    region: str, metadata: Metadata, signers: list[CryptoSigner], now: datetime
) -> int:
    """The next targets version (after any change to `metadata`), then snapshot and timestamp."""
    metadata.signed.version += 1
    metadata.signed.expires = _expiry(Role.TARGETS, now)
    metadata.signatures.clear()
    version = _store(region, Role.TARGETS, metadata, signers)
    _online_sign(region, now, snapshot=True)
    return version


def metadata_refresh(*, region: str) -> list[str]:
    """Re-sign snapshot and timestamp if they expire soon; the roles renewed (online keys)."""
    now = timezone.now()
    renewed = []
    with transaction.atomic(using=served_alias(region)):
        snapshot = metadata_latest(region, Role.SNAPSHOT).signed
        timestamp = metadata_latest(region, Role.TIMESTAMP).signed
        if snapshot.expires - now < REFRESH_WITHIN[Role.SNAPSHOT]:
            renewed.append(Role.SNAPSHOT.value)
        if renewed or timestamp.expires - now < REFRESH_WITHIN[Role.TIMESTAMP]:
            renewed.append(Role.TIMESTAMP.value)
        if renewed:
            _online_sign(region, now, snapshot=Role.SNAPSHOT in renewed)
    return renewed


def _online_sign(region: str, now: datetime, *, snapshot: bool) -> None:
    """A new timestamp (and first a new snapshot naming the latest targets, if asked)."""
    if snapshot:
        targets_version = metadata_latest(region, Role.TARGETS).signed.version
        try:
            previous = metadata_latest(region, Role.SNAPSHOT).signed.version
        except ValidationError:
            previous = 0
        new_snapshot = Snapshot(
            version=previous + 1,
            expires=_expiry(Role.SNAPSHOT, now),
            meta={"targets.json": MetaFile(version=targets_version)},
        )
        _store(region, Role.SNAPSHOT, Metadata(new_snapshot), signers_load(region, Role.SNAPSHOT))
    snapshot_version = metadata_latest(region, Role.SNAPSHOT).signed.version
    try:
        previous = metadata_latest(region, Role.TIMESTAMP).signed.version
    except ValidationError:
        previous = 0
    _store(
        region,
        Role.TIMESTAMP,
        Metadata(
            Timestamp(
                version=previous + 1,
                expires=_expiry(Role.TIMESTAMP, now),
                snapshot_meta=MetaFile(version=snapshot_version),
            )
        ),
        signers_load(region, Role.TIMESTAMP),
    )
