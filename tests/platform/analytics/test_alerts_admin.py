"""The alert-subscription admin: operators see and change only their regions' subscriptions,
and a webhook secret can be set or replaced but never read back, by anyone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from junction.analytics.models import AlertSubscription

EU_SECRET = "whsec-eu-0f3a9c"
US_SECRET = "whsec-us-7b21de"


@pytest.fixture
def subscriptions(eu_west, us_east):
    return {
        "eu": AlertSubscription.objects.create(
            region=eu_west,
            name="EU operations",
            webhook_url="https://hooks.eu.example/j",
            webhook_secret=EU_SECRET,
        ),
        "us": AlertSubscription.objects.create(
            region=us_east,
            name="US operations",
            webhook_url="https://hooks.us.example/j",
            webhook_secret=US_SECRET,
        ),
    }


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="analytics", codename__in=codenames)
    )
    return user


ALL = (
    "view_alertsubscription",
    "add_alertsubscription",
    "change_alertsubscription",
    "delete_alertsubscription",
)


def change_url(subscription) -> str:
    return reverse("admin:analytics_alertsubscription_change", args=[subscription.pk])


def form_data(subscription, **changes) -> dict:
    data = {
        "name": subscription.name,
        "region": subscription.region_id,
        "min_severity": subscription.min_severity,
        "kinds": "[]",
        "webhook_url": subscription.webhook_url,
        "emails": "[]",
        "active": "on",
    }
    return {**data, **changes}


def test_it_shows_an_operator_only_the_subscriptions_of_their_regions(
    client, eu_operator, subscriptions
):
    client.force_login(grant(eu_operator, *ALL))
    page = client.get(reverse("admin:analytics_alertsubscription_changelist")).content.decode()
    assert "EU operations" in page and "US operations" not in page
    us = subscriptions["us"]
    assert client.get(change_url(us)).status_code == 302  # "doesn't exist, perhaps deleted?"
    client.post(change_url(us), form_data(us, webhook_url="https://attacker.example/x"))
    us.refresh_from_db()
    assert (us.webhook_url, us.webhook_secret) == ("https://hooks.us.example/j", US_SECRET)


def test_it_lets_an_operator_add_subscriptions_only_in_their_regions(
    client, eu_operator, subscriptions
):
    client.force_login(grant(eu_operator, *ALL))
    add = reverse("admin:analytics_alertsubscription_add")
    form = client.get(add).content.decode()
    assert "eu-west" in form and "us-east" not in form
    answer = client.post(add, form_data(subscriptions["us"], name="Mine now"))
    assert answer.status_code == 200  # the form again, with the error
    assert not AlertSubscription.objects.filter(name="Mine now").exists()


@pytest.mark.parametrize("who", ["administrator", "operator who may only view"])
def test_it_never_shows_a_webhook_secret(client, admin_user, eu_operator, subscriptions, who):
    user = admin_user if who == "administrator" else grant(eu_operator, "view_alertsubscription")
    client.force_login(user)
    eu = subscriptions["eu"]
    for url in (reverse("admin:analytics_alertsubscription_changelist"), change_url(eu)):
        answer = client.get(url)
        assert answer.status_code == 200
        page = answer.content.decode()
        assert "EU operations" in page
        assert EU_SECRET not in page and US_SECRET not in page
    # Nor can the search be used to guess one a character at a time.
    search = client.get(
        reverse("admin:analytics_alertsubscription_changelist"), {"q": EU_SECRET[:9]}
    ).content.decode()
    assert "EU operations" not in search


def test_it_keeps_a_secret_left_blank_and_replaces_one_given(client, admin_user, subscriptions):
    client.force_login(admin_user)
    eu = subscriptions["eu"]
    assert client.post(change_url(eu), form_data(eu, name="EU ops")).status_code == 302
    eu.refresh_from_db()
    assert (eu.name, eu.webhook_secret) == ("EU ops", EU_SECRET)
    assert (
        client.post(change_url(eu), form_data(eu, new_webhook_secret="whsec-new")).status_code
        == 302
    )
    eu.refresh_from_db()
    assert eu.webhook_secret == "whsec-new"
