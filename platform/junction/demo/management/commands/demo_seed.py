"""manage.py demo_seed: two regions with a site and a device each, demo staff accounts, and six
weeks of each site's history sent through ingest and analysed (junction.demo.backfill).

Idempotent: records that exist are left alone, and history already stored is not sent again.
Device secrets and staff passwords are printed when issued and kept in var/demo-devices.json
and var/demo-users.json (mode 600) so a newcomer can sign a sample batch and log in. A demo
device or user whose secret is missing from those files (say, they were deleted) gets a fresh
one, since the old one cannot be recovered.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from edge_worker.contract import ROAD_USER_CLASSES
from junction.accounts import services as account_services
from junction.accounts.models import Role
from junction.analytics.holidays import public_holidays
from junction.commands import JunctionCommand
from junction.demo.backfill import analytics_run, history_send
from junction.demo.history import DemoSite
from junction.residency.models import Region
from junction.sites import services
from junction.sites.credentials import CredentialError
from junction.sites.management.base import SECRET_WARNING
from junction.sites.models import CounterKind, Device, Site

DEMO_ENDPOINT = "http://127.0.0.1:8000"  # one demo process serves both regions
INGEST_PATH = "/api/v1/ingest/batches"

DEMO_REGIONS: list[dict[str, Any]] = [
    {
        "code": "eu-west",
        "name": "Europe West",
        "locality": {"timezone": "Europe/Dublin", "country": "IE", "subdivision": ""},
        "site": {
            "slug": "main-and-5th",
            "name": "Main St & 5th Ave",
            "latitude": 53.3438,
            "longitude": -6.2546,
            "counters": {
                "north-stopline": {"line": [100, 200, 500, 200]},
                "south-stopline": {"line": [500, 600, 100, 600]},
            },
        },
        # Zones (occupancy, and the arms a turn leaves by) and turning movements.
        "zones": {
            "crosswalk-north": {"polygon": [[100, 150], [500, 150], [500, 190], [100, 190]]},
            "east-arm": {"polygon": [[560, 250], [700, 250], [700, 550], [560, 550]]},
            "west-arm": {"polygon": [[0, 250], [40, 250], [40, 550], [0, 550]]},
        },
        "movements": {
            "N>S": {"entry": "north-stopline", "exit": "south-stopline"},
            "N>E": {"entry": "north-stopline", "exit": "east-arm"},
            "N>W": {"entry": "north-stopline", "exit": "west-arm"},
            "S>N": {"entry": "south-stopline", "exit": "north-stopline"},
            "S>E": {"entry": "south-stopline", "exit": "east-arm"},
            "S>W": {"entry": "south-stopline", "exit": "west-arm"},
        },
        "occupancy_zones": ["crosswalk-north"],
        "device": "dev-main-5th-n",
        "busyness": 1.0,
    },
    {
        "code": "us-east",
        "name": "US East",
        "locality": {"timezone": "America/New_York", "country": "US", "subdivision": "NY"},
        "site": {
            "slug": "broadway-and-king",
            "name": "Broadway & King St",
            "latitude": 40.7270,
            "longitude": -74.0030,
            "counters": {
                "east-stopline": {"line": [600, 100, 600, 500]},
                "west-stopline": {"line": [100, 500, 100, 100]},
            },
        },
        "device": "dev-broadway-king-e",
        "busyness": 1.4,
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
    help = (
        "Seed the demo: regions eu-west and us-east, a site and a device in each, staff "
        "users, and six weeks of each site's traffic, ingested and analysed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-history", action="store_true", help="only the regions, sites, devices and users"
        )

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_seed refuses to run with JUNCTION_PRODUCTION=1")
        var = Path(settings.VAR_DIR)
        devices_file, users_file = var / "demo-devices.json", var / "demo-users.json"
        kept_devices = _read(devices_file).get("devices", {})
        kept_users = _read(users_file).get("users", {})
        report: dict[str, Any] = {
            "created": [],
            "issued_secrets": {},
            "issued_passwords": {},
            "devices_file": str(devices_file),
            "users_file": str(users_file),
        }
        # All or nothing: a failure half-way leaves no region without its site or device.
        with transaction.atomic(using="default"):
            devices = {
                demo["device"]: self._seed_region(demo, kept_devices, report)
                for demo in DEMO_REGIONS
            }
            users = {
                name: self._seed_user(name, superuser, roles, kept_users, report)
                for name, (superuser, roles) in DEMO_USERS.items()
            }
        _write_private(devices_file, {"devices": devices})
        _write_private(users_file, {"users": users, "login": f"{DEMO_ENDPOINT}/"})
        if not options["no_history"]:
            report["history"] = self._seed_history(devices)
        self._print(options, report)

    def _seed_history(self, devices: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Each live demo device sends its site's history; then each region is analysed."""
        now = timezone.now()
        done = []
        for demo in DEMO_REGIONS:
            entry = devices[demo["device"]]
            if entry["revoked"]:
                continue
            site = Site.objects.get(slug=demo["site"]["slug"])
            sent = history_send(site=_demo_site(demo, site, now), secret=entry["secret"], now=now)
            # Up to the history's end: judged up to now, the hours since would be an outage.
            found = analytics_run(region=demo["code"], since=sent.start, until=sent.end)
            done.append(
                {
                    "site": sent.site,
                    "since": sent.start.isoformat(),
                    "until": sent.end.isoformat(),
                    "batches_stored": sent.stored,
                    "batches_already_stored": sent.already,
                    "refused": sent.refused,
                    "anomalies": sorted(
                        f"{a.kind} {a.counter or a.device_id}" for a in found.recorded
                    ),
                }
            )
        return done

    def _seed_region(
        self, demo: dict[str, Any], kept: dict[str, Any], report: dict[str, Any]
    ) -> dict[str, Any]:
        code, site_spec, device_id = demo["code"], demo["site"], demo["device"]
        if not Region.objects.filter(code=code).exists():
            self.run(
                services.region_add,
                code=code,
                name=demo["name"],
                endpoint=DEMO_ENDPOINT,
                **demo["locality"],
            )
            report["created"].append(f"region {code}")
        if not Site.objects.filter(slug=site_spec["slug"]).exists():
            self.run(services.site_add, region=code, **site_spec)
            report["created"].append(f"site {site_spec['slug']}")
        site = Site.objects.get(slug=site_spec["slug"])
        if site.latitude is None:
            # Sites seeded before demo sites had coordinates get them, so the map shows them.
            site.latitude, site.longitude = site_spec["latitude"], site_spec["longitude"]
            site.save(update_fields=["latitude", "longitude"])
        have = set(site.counters.values_list("name", flat=True))
        for kind, specs in (
            (CounterKind.ZONE, demo.get("zones", {})),
            (CounterKind.MOVEMENT, demo.get("movements", {})),
        ):
            for name, geometry in specs.items():
                if name not in have:
                    self.run(
                        services.counter_add, site=site, name=name, kind=kind, geometry=geometry
                    )
                    report["created"].append(f"{kind} {site.slug}/{name}")
        secret = kept.get(device_id, {}).get("secret")
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            secret = self.run(
                services.device_add, device_id=device_id, site=site_spec["slug"]
            ).secret
            report["created"].append(f"device {device_id}")
            report["issued_secrets"][device_id] = secret
        elif not device.is_revoked and not _still_valid(device, secret):
            # The demo file lost this secret and it cannot be recovered: issue a new one.
            if device.previous_secret_sealed:
                self.run(services.device_rotation_finish, device_id=device_id)
            secret = self.run(services.device_rotate, device_id=device_id).secret
            self.run(services.device_rotation_finish, device_id=device_id)
            report["issued_secrets"][device_id] = secret
        return {
            "device_id": device_id,
            "site": site_spec["slug"],
            "region": code,
            "secret": secret,
            "ingest_url": f"{DEMO_ENDPOINT}{INGEST_PATH}",
            "revoked": bool(device and device.is_revoked),
        }

    def _seed_user(
        self,
        username: str,
        superuser: bool,
        roles: dict[str, str],
        kept: dict[str, Any],
        report: dict[str, Any],
    ) -> dict[str, Any]:
        User = get_user_model()
        password = kept.get(username, {}).get("password")
        user: AbstractBaseUser | None = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = self.run(
                account_services.user_add, username=username, password=password, superuser=superuser
            )
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
        for sent in report.get("history", []):
            lines.append(
                f"history of {sent['site']} {sent['since']}..{sent['until']}: "
                f"{sent['batches_stored']} batches stored, "
                f"{sent['batches_already_stored']} already stored; anomalies found "
                f"this run: {', '.join(sent['anomalies']) or 'none new'}"
            )
            lines += [f"  refused {refusal}" for refusal in sent["refused"]]
        for device_id, secret in report["issued_secrets"].items():
            lines.append(f"device {device_id} secret: {secret}")
        for username, password in report["issued_passwords"].items():
            lines.append(f"user {username} password: {password}")
        lines.append(
            f"device secrets are kept in {report['devices_file']}; "
            f"staff logins in {report['users_file']}"
        )
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


def _demo_site(demo: dict[str, Any], site: Site, now: datetime) -> DemoSite:
    kinds: dict[str, list[str]] = {kind: [] for kind in CounterKind.values}
    for name, kind in site.counters.order_by("name").values_list("name", "kind"):
        kinds[kind].append(name)
    return DemoSite(
        slug=site.slug,
        region=demo["code"],
        device_id=demo["device"],
        timezone=site.timezone,
        lines=tuple(kinds[CounterKind.LINE]),
        movements=tuple(kinds[CounterKind.MOVEMENT]),
        zones=tuple(z for z in demo.get("occupancy_zones", ()) if z in kinds[CounterKind.ZONE]),
        classes=tuple(c for c in ROAD_USER_CLASSES if c in site.region.classes),
        scale=demo["busyness"],
        holidays=frozenset(
            public_holidays(site.region, date(2000, 1, 1), now.date() + timedelta(days=1))
        ),
    )
