"""membership_grant: the operator's way to give staff a region role, and the scoping it drives."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from junction.accounts.models import RegionMembership
from junction.accounts.scoping import member_regions, region_denial
from junction.residency.scoping import Action
from junction.sites.models import Site


@pytest.fixture
def ana(db):
    return get_user_model().objects.create_user(username="ana", password=None)


def run(*args: str) -> str:
    out = StringIO()
    call_command("membership_grant", *args, stdout=out)
    return out.getvalue()


def test_it_grants_and_changes_a_role(ana, eu_west):
    assert run("ana", "--region", "eu-west").strip() == "ana is analyst in eu-west"
    payload = json.loads(run("ana", "--region", "eu-west", "--role", "operator", "--json"))
    assert payload == {"username": "ana", "region": "eu-west", "role": "operator"}
    assert RegionMembership.objects.get().role == "operator"


def test_it_withdraws_a_role(ana, eu_west):
    run("ana", "--region", "eu-west")
    assert run("ana", "--region", "eu-west", "--withdraw").strip() == (
        "ana has no role in eu-west now"
    )
    assert not RegionMembership.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ghost", "--region", "eu-west"], "unknown user 'ghost'"),
        (["ana", "--region", "ap-south"], "region: unknown region 'ap-south'"),
    ],
    ids=["unknown user", "unknown region"],
)
def test_it_refuses_unknown_names(ana, eu_west, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not RegionMembership.objects.exists()


def test_it_scopes_reads_by_the_granted_roles(ana, eu_site, us_site):
    run("ana", "--region", "eu-west")
    ana = get_user_model().objects.get(pk=ana.pk)  # fresh: the role cache lives on the object
    assert [s.slug for s in Site.objects.restrict(ana)] == [eu_site.slug]
    assert list(Site.objects.restrict(ana, Action.WRITE)) == []
    assert region_denial(ana, "eu-west") is None
    assert "is 'analyst'; this needs 'operator'" in region_denial(ana, "eu-west", "operator")
    assert "not 'us-east'" in region_denial(ana, "us-east")
    assert member_regions(ana) == {"eu-west": "analyst"}
