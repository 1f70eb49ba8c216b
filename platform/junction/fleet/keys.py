"""The fleet repository's signing keys: PEM files, one folder per region, never in the database.

Root and targets keys are offline: they live under JUNCTION_FLEET_OFFLINE_KEYS, on the signing
machine only, where the operator's commands (fleet_init, release_publish) read them. Snapshot and
timestamp keys are online: under JUNCTION_FLEET_ONLINE_KEYS, read by the Celery worker that
refreshes them. The web process imports none of this and needs neither folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.core.exceptions import ValidationError
from securesystemslib.signer import CryptoSigner

from junction.fleet.models import Role

OFFLINE_ROLES = (Role.ROOT, Role.TARGETS)


def key_folder(region: str, role: str) -> Path:
    base = (
        settings.JUNCTION_FLEET_OFFLINE_KEYS
        if role in OFFLINE_ROLES
        else settings.JUNCTION_FLEET_ONLINE_KEYS
    )
    return Path(base) / region


def signers_load(region: str, role: str) -> list[CryptoSigner]:
    """Every key of `role` in the region's folder (several for a threshold above one)."""
    files = sorted(key_folder(region, role).glob(f"{role}-*.pem"))
    if not files:
        raise ValidationError(
            f"no {role} key of region {region!r} in {key_folder(region, role)}: sign on the "
            "machine that holds it, or run fleet_init there first"
        )
    return [CryptoSigner(load_pem_private_key(path.read_bytes(), password=None)) for path in files]


def signers_create(region: str, role: str, count: int) -> list[CryptoSigner]:
    """New ed25519 keys written as owner-only files; an existing key file is never replaced."""
    folder = key_folder(region, role)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    used = [
        int(p.stem.rpartition("-")[2])
        for p in (*folder.glob(f"{role}-*.pem"), *folder.glob(f"retired/{role}-*.pem"))
    ]
    first = max(used, default=0) + 1
    signers = []
    for number in range(first, first + count):
        signer = CryptoSigner.generate_ed25519()
        path = folder / f"{role}-{number}.pem"
        # O_EXCL: two inits racing, or a second init, cannot overwrite a key already trusted.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(signer.private_bytes)
        signers.append(signer)
    return signers


def signers_retire(region: str, role: str, keyids: set[str]) -> None:
    """Move the key files of `keyids` aside (kept, never signed with again)."""
    folder = key_folder(region, role)
    retired = folder / "retired"
    retired.mkdir(exist_ok=True, mode=0o700)
    for path in sorted(folder.glob(f"{role}-*.pem")):
        signer = CryptoSigner(load_pem_private_key(path.read_bytes(), password=None))
        if signer.public_key.keyid in keyids:
            os.replace(path, retired / path.name)
