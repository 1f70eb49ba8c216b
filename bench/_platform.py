"""The platform set up for a bench: the embedded default in a temporary folder, or a bench's own
PostgreSQL databases; a region with sites; a token client. One place, so that every platform
bench measures the same configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def embedded(folder: str) -> None:
    """SQLite files in `folder`, in-process tasks, the API's rate limits lifted for the run."""
    os.environ.update(
        {
            "JUNCTION_VAR_DIR": folder,
            "JUNCTION_DEBUG": "0",
            "JUNCTION_LOG_LEVEL": "WARNING",
            "JUNCTION_API_RATE_TOKEN": "1000000/minute",
            "JUNCTION_API_RATE_USER": "1000000/minute",
            "PYTHONPATH": str(REPO / "platform"),
            "DJANGO_SETTINGS_MODULE": "junction.settings",
        }
    )
    subprocess.run([sys.executable, "manage.py", "migrate_all", "-v0"], cwd=REPO, check=True)
    _django()


def postgres(control: str, region_database: str) -> None:
    """The bench's own databases on BENCH_PG_URL, created and migrated when missing."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in (control, region_database):
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(
        DATABASE_URL=f"{PG_URL}/{control}",
        JUNCTION_REGIONS=f"{REGION}={PG_URL}/{region_database}",
        JUNCTION_TASKS_EAGER="1",
        JUNCTION_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="junction.settings",
    )
    # Not the developer's Redis nor a region pinned in their shell: the bench's own setup only.
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("JUNCTION_REGION", None)
    _django()
    from django.core.management import call_command

    call_command("migrate_all", verbosity=0)


def _django() -> None:
    if str(REPO / "platform") not in sys.path:
        sys.path.insert(0, str(REPO / "platform"))
    import django

    django.setup()


def sites(n: int, counters: dict | None = None) -> list:
    """The region and `n` bench sites (kept when an earlier run made them)."""
    from junction.residency.models import Region
    from junction.sites import services
    from junction.sites.models import Site

    if not Region.objects.filter(code=REGION).exists():
        services.region_add(code=REGION, name="Bench region")
    made = []
    for i in range(n):
        slug = f"bench-site-{i:02d}"
        site = Site.objects.filter(slug=slug).first() or services.site_add(
            slug=slug, region=REGION, name=f"Bench site {i}", counters=counters or {}
        )
        made.append(site)
    return made


def region_cursor():
    from django.db import connections

    from junction.residency.planes import region_alias

    return connections[region_alias(REGION)].cursor()


def analyst(username: str = "bench"):
    """A user with the analyst role in the bench region."""
    from django.contrib.auth import get_user_model

    from junction.accounts.services import membership_grant

    user = get_user_model().objects.create_user(username=username, password=None)
    membership_grant(user=user, region=REGION, role="analyst")
    return user


def token_client(user):
    """A test client that sends the user's new API token, as an integrator would."""
    from django.test import Client

    from junction.accounts.services import api_token_create

    token = api_token_create(user=user, name="bench").token
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")
