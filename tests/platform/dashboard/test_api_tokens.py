"""The dashboard's API tokens page: a member of staff issues a token for themselves, sees it
in that one answer (never stored, never cached), lists and revokes only their own."""

from __future__ import annotations

import re

from django.urls import reverse

from junction.accounts.models import ApiToken
from junction.accounts.services import api_token_create
from junction.accounts.tokens import token_digest

PAGE = "/api-tokens/"


def test_it_shows_a_new_token_once_and_keeps_only_its_hash(client, eu_analyst):
    client.force_login(eu_analyst)
    answer = client.post(PAGE, {"name": "my script", "region": "eu-west", "expires_days": "30"})
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    token = re.search(r'value="(jct_[^"]+)"', answer.content.decode()).group(1)
    row = ApiToken.objects.get(user=eu_analyst)
    assert (row.digest, row.region.code, row.read_only) == (token_digest(token), "eu-west", False)
    again = client.get(PAGE).content.decode()
    assert token not in again and "my script" in again and row.key in again


def test_it_offers_only_the_users_own_regions(client, eu_analyst, us_east):
    client.force_login(eu_analyst)
    page = client.get(PAGE).content.decode()
    assert 'value="eu-west"' in page and 'value="us-east"' not in page
    refused = client.post(PAGE, {"name": "x", "region": "us-east", "expires_days": "30"})
    assert refused.status_code == 422
    assert not ApiToken.objects.exists()


def test_it_says_what_is_wrong_with_the_form(client, eu_analyst):
    client.force_login(eu_analyst)
    answer = client.post(PAGE, {"name": "", "expires_days": "9999"})
    assert answer.status_code == 422
    assert "This field is required" in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_it_revokes_only_the_users_own_tokens(client, eu_analyst, us_analyst):
    mine = api_token_create(user=eu_analyst, name="mine").api_token
    theirs = api_token_create(user=us_analyst, name="theirs").api_token
    client.force_login(eu_analyst)
    done = client.post(reverse("dashboard:api-token-revoke", args=[mine.pk]), follow=True)
    assert "revoked" in done.content.decode()
    refused = client.post(reverse("dashboard:api-token-revoke", args=[theirs.pk]), follow=True)
    assert f"no API token {theirs.pk} of yours" in refused.content.decode()
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert client.get(reverse("dashboard:api-token-revoke", args=[mine.pk])).status_code == 405


def test_it_lists_only_the_users_own_tokens(client, eu_analyst, us_analyst):
    api_token_create(user=us_analyst, name="someone else's")
    client.force_login(eu_analyst)
    assert "someone else" not in client.get(PAGE).content.decode()


def test_it_needs_a_login(client):
    assert client.get(PAGE).status_code == 302
