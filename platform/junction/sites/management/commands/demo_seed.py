"""manage.py demo_seed: two regions with a site and a device each, and demo staff accounts.

Idempotent: records that exist are left alone. Device secrets and staff passwords are printed
when issued and kept in var/demo-devices.json and var/demo-users.json (mode 600) so a newcomer
can sign a sample batch and log in. A demo device or user whose secret is missing from those
files (say, they were deleted) gets a fresh one, since the old one cannot be recovered.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError
from django.db import transaction

from junction.accounts import services as account_services
from junction.accounts.models import Role
from junction.commands import JunctionCommand
from junction.residency.models import Region
from junction.sites import services
from junction.sites.credentials import CredentialError
from junction.sites.management.base import SECRET_WARNING
from junction.sites.models import Device, Site

DEMO_ENDPOINT = "http://127.0.0.1:8000"  # one demo process serves both regions
INGEST_PATH = "/api/v1/ingest/batches"

DEMO_REGIONS = [
    {
        "code": "eu-west", "name": "Europe West",
        "locality": {"timezone": "Europe/Dublin", "country": "IE", "subdivision": ""},
        "site": {"slug": "main-and-5th", "name": "Main St & 5th Ave",
                 "counters": {"north-stopline": {"line": [100, 200, 500, 200]},
                              "south-stopline": {"line": [500, 600, 100, 600]}}},
        "device": "dev-main-5th-n",
    },
    {
        "code": "us-east", "name": "US East",
        "locality": {"timezone": "America/New_York", "country": "US", "subdivision": "NY"},
        "site": {"slug": "broadway-and-king", "name": "Broadway & King St",
                 "counters": {"east-stopline": {"line": [600, 100, 600, 500]},
                              "west-stopline": {"line": [100, 500, 100, 100]}}},
        "device": "dev-broadway-king-e",
    },
]
# username -> (superuser, {region: role})
DEMO_USERS: dict[str, tuple[bool, dict[str, str]]] = {
    "admin": (True, {}),
    "analyst-eu": (False, {"eu-west": Role.ANALYST}),
    "analyst-us": (False, {"us-east": Role.ANALYST}),
    "operator": (False, {"eu-west": Role.OPERATOR, "us-east": Role.OPERATOR}),
}


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path} cannot be read ({exc}); delete it and run again") from exc


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write a file only its owner can read, replacing the old one in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


class Command(JunctionCommand):
    help = "Seed the demo: regions eu-west and us-east, a site and a device in each, staff users."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_seed refuses to run with JUNCTION_PRODUCTION=1")
        var = Path(settings.VAR_DIR)
        devices_file, users_file = var / "demo-devices.json", var / "demo-users.json"
        kept_devices = _read(devices_file).get("devices", {})
        kept_users = _read(users_file).get("users", {})
        report: dict[str, Any] = {"created": [], "issued_secrets": {}, "issued_passwords": {},
                                  "devices_file": str(devices_file),
                                  "users_file": str(users_file)}
        # All or nothing: a failure half-way leaves no region without its site or device.
        with transaction.atomic(using="default"):
            devices = {demo["device"]: self._seed_region(demo, kept_devices, report)
                       for demo in DEMO_REGIONS}
            users = {name: self._seed_user(name, superuser, roles, kept_users, report)
                     for name, (superuser, roles) in DEMO_USERS.items()}
        _write_private(devices_file, {"devices": devices})
        _write_private(users_file, {"users": users, "login": f"{DEMO_ENDPOINT}/"})
        self._print(options, report)

    def _seed_region(self, demo: dict[str, Any], kept: dict[str, Any],
                     report: dict[str, Any]) -> dict[str, Any]:
        code, site_spec, device_id = demo["code"], demo["site"], demo["device"]
        if not Region.objects.filter(code=code).exists():
            self.run(services.region_add, code=code, name=demo["name"], endpoint=DEMO_ENDPOINT,
                     **demo["locality"])
            report["created"].append(f"region {code}")
        if not Site.objects.filter(slug=site_spec["slug"]).exists():
            self.run(services.site_add, region=code, **site_spec)
            report["created"].append(f"site {site_spec['slug']}")
        secret = kept.get(device_id, {}).get("secret")
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            secret = self.run(services.device_add, device_id=device_id,
                              site=site_spec["slug"]).secret
            report["created"].append(f"device {device_id}")
            report["issued_secrets"][device_id] = secret
        elif not device.is_revoked and not _still_valid(device, secret):
            # The demo file lost this secret and it cannot be recovered: issue a new one.
            if device.previous_secret_sealed:
                self.run(services.device_rotation_finish, device_id=device_id)
            secret = self.run(services.device_rotate, device_id=device_id).secret
            self.run(services.device_rotation_finish, device_id=device_id)
            report["issued_secrets"][device_id] = secret
        return {"device_id": device_id, "site": site_spec["slug"], "region": code,
                "secret": secret, "ingest_url": f"{DEMO_ENDPOINT}{INGEST_PATH}",
                "revoked": bool(device and device.is_revoked)}

    def _seed_user(self, username: str, superuser: bool, roles: dict[str, str],
                   kept: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
        User = get_user_model()
        password = kept.get(username, {}).get("password")
        user: AbstractBaseUser | None = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = self.run(account_services.user_add, username=username, password=password,
                            superuser=superuser)
            report["created"].append(f"user {username}")
            report["issued_passwords"][username] = password
        elif not password or not user.check_password(password):
            password = secrets.token_urlsafe(12)
            self.run(account_services.user_set_password, username=username, password=password)
            report["issued_passwords"][username] = password
        for region, role in roles.items():
            self.run(account_services.membership_grant, user=user, region=region, role=role)
        return {"password": password, "superuser": superuser, "roles": dict(roles)}

    def _print(self, options: dict[str, Any], report: dict[str, Any]) -> None:
        lines = [f"created {item}" for item in report["created"]] or ["demo already seeded"]
        for device_id, secret in report["issued_secrets"].items():
            lines.append(f"device {device_id} secret: {secret}")
        for username, password in report["issued_passwords"].items():
            lines.append(f"user {username} password: {password}")
        lines.append(f"device secrets are kept in {report['devices_file']}; "
                     f"staff logins in {report['users_file']}")
        if options["json"] and report["issued_secrets"]:
            report = {**report, "warning": SECRET_WARNING}
        self.emit(options, report, "\n".join(lines))


def _still_valid(device: Device, secret: str | None) -> bool:
    if not secret:
        return False
    try:
        return secret in services.device_secrets(device)
    except CredentialError:
        return False  # sealed under another key: the stored secret is unusable anyway
