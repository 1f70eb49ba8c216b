"""Staff personas (an eu-west analyst, a us-east analyst, an operator, an admin) and a count
factory, shared by the API, dashboard and admin tests through their conftest files."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import pytest
from django.contrib.auth import get_user_model

from junction.accounts.services import membership_grant
from junction.sites.models import Site
from junction.traffic.models import CountBucket, CountRow


def staff(username: str, *, superuser: bool = False, staff_flag: bool = False, **roles: str):
    User = get_user_model()
    # No password (tests log in with force_login): hashing one costs a third of a second.
    if superuser:
        user = User.objects.create_superuser(username=username, email="", password=None)
    else:
        user = User.objects.create_user(username=username, password=None, is_staff=staff_flag)
    for region, role in roles.items():
        membership_grant(user=user, region=region.replace("_", "-"), role=role)
    return user


@pytest.fixture
def eu_analyst(eu_west):
    return staff("eu-analyst", eu_west="analyst")


@pytest.fixture
def us_analyst(us_east):
    return staff("us-analyst", us_east="analyst")


@pytest.fixture
def eu_operator(eu_west):
    return staff("eu-operator", staff_flag=True, eu_west="operator")


@pytest.fixture
def admin_user(db):
    return staff("admin", superuser=True)


@pytest.fixture
def outsider(db):
    return staff("outsider")


def counts_add(
    site: Site,
    start: datetime,
    rows: Iterable[tuple[str, str | None, str, int]],
    *,
    seconds: int = 60,
    uptime: float = 1.0,
    device_id: str = "dev-test",
) -> CountBucket:
    """One delivered bucket with its count rows, written to the site's region database."""
    region = site.region.code
    bucket = CountBucket(
        region=region,
        site_id=site.pk,
        device_id=device_id,
        batch_id=uuid.uuid4(),
        start=start,
        seconds=seconds,
        uptime=uptime,
    )
    bucket.save()
    CountRow.objects.in_region(region).bulk_create(
        [
            CountRow(
                region=region,
                bucket=bucket,
                site_id=site.pk,
                start=start,
                counter=counter,
                direction=direction,
                road_user=road_user,
                count=count,
            )
            for counter, direction, road_user, count in rows
        ]
    )
    return bucket
