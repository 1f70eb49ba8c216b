"""api_token_create and api_token_revoke (DESIGN.md section 9), and the admin's token pages:
the token is printed once, the JSON is the contract's, bad input is one line and writes
nothing; only the deployment's administrators see tokens in the admin."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from junction.accounts.models import ApiToken
from junction.accounts.services import api_token_create
from junction.accounts.tokens import token_digest


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_token_once_as_the_contract_says(eu_analyst):
    answer = json.loads(
        run(
            "api_token_create",
            "eu-analyst",
            "--name",
            "signal vendor",
            "--region",
            "eu-west",
            "--read-only",
            "--expires-days",
            "30",
            "--json",
        )
    )
    assert {"id", "token", "expires"} <= set(answer)
    row = ApiToken.objects.get(pk=answer["id"])
    assert row.digest == token_digest(answer["token"])
    assert (row.name, row.region.code, row.read_only) == ("signal vendor", "eu-west", True)
    expires = datetime.fromisoformat(answer["expires"])
    assert abs(expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_its_plain_output_says_the_token_is_shown_once(eu_analyst):
    out = run("api_token_create", "eu-analyst", "--name", "data team")
    assert re.search(r"^jct_[0-9a-f]{8}_\S{43}$", out, re.MULTILINE)
    assert "shown once" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--name", "x"], "username: unknown user 'nobody'"),
        (["eu-analyst", "--name", " "], "--name: give the token a name"),
        (
            ["eu-analyst", "--name", "x", "--region", "us-east"],
            "--region: eu-analyst is not a member of region 'us-east'",
        ),
        (["eu-analyst", "--name", "x", "--region", "mars"], "--region: unknown region 'mars'"),
        (["eu-analyst", "--name", "x", "--expires-days", "0"], "--expires-days: must be from 1"),
    ],
)
def test_it_refuses_bad_input_in_one_line_and_writes_nothing(eu_analyst, us_east, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("api_token_create", *args)
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token_once(eu_analyst):
    issued = api_token_create(user=eu_analyst, name="leaked")
    first = json.loads(run("api_token_revoke", str(issued.api_token.pk), "--json"))
    again = json.loads(run("api_token_revoke", str(issued.api_token.pk), "--json"))
    assert first["revoked"] is not None and again["revoked"] == first["revoked"]
    with pytest.raises(CommandError, match="id: no API token 999"):
        run("api_token_revoke", "999")


def test_an_administrator_issues_a_token_in_the_admin_and_sees_it_once(
    client, admin_user, eu_analyst
):
    client.force_login(admin_user)
    answer = client.post(
        reverse("admin:accounts_apitoken_add"),
        {
            "user": eu_analyst.pk,
            "name": "from the admin",
            "region": "",
            "expires_days": "7",
        },
        follow=True,
    )
    assert answer.status_code == 200
    [shown] = [str(m) for m in answer.context["messages"] if "shown this once" in str(m)]
    token = shown.rsplit(" ", 1)[-1]
    row = ApiToken.objects.get()
    assert (row.user, row.digest) == (eu_analyst, token_digest(token))
    assert (
        token
        not in client.get(reverse("admin:accounts_apitoken_change", args=[row.pk])).content.decode()
    )


def test_the_admin_refuses_a_region_the_user_does_not_hold(client, admin_user, eu_analyst, us_east):
    client.force_login(admin_user)
    answer = client.post(
        reverse("admin:accounts_apitoken_add"),
        {"user": eu_analyst.pk, "name": "x", "region": us_east.pk, "expires_days": "7"},
    )
    assert answer.status_code == 200
    assert "is not a member of region" in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_the_admin_revokes_by_action(client, admin_user, eu_analyst):
    issued = api_token_create(user=eu_analyst, name="x")
    client.force_login(admin_user)
    client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [issued.api_token.pk]},
    )
    assert ApiToken.objects.get().revoked_at is not None


def test_region_operators_do_not_see_tokens_in_the_admin(client, eu_operator):
    client.force_login(eu_operator)
    assert client.get(reverse("admin:accounts_apitoken_changelist")).status_code == 403
