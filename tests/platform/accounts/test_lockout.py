"""Failed logins are limited per user name and per address: the fifth failure is answered 429
with Retry-After, and nothing a sixth guess could learn (a right password is refused too while
locked out)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

LOGIN = "/accounts/login/"


@pytest.fixture
def ana(db):
    return get_user_model().objects.create_user(username="ana", password="right horse battery")


def attempt(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_locks_a_user_name_out_after_five_failures_from_any_addresses(client, ana):
    answers = [
        attempt(client, "ana", "wrong", address=f"203.0.113.{i}").status_code for i in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]
    locked = attempt(client, "ana", "right horse battery", address="198.51.100.9")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert "Too many failed logins" in locked.content.decode()


def test_it_locks_an_address_out_after_five_failures_with_any_user_names(client, ana):
    answers = [
        attempt(client, name, "guess").status_code
        for name in ("bob", "carol", "dave", "erin", "frank")
    ]
    assert answers == [200, 200, 200, 200, 429]
    assert attempt(client, "ana", "right horse battery").status_code == 429
    assert attempt(client, "ana", "right horse battery", address="198.51.100.9").status_code == 302


def test_a_successful_login_before_the_limit_starts_the_count_again(client, ana):
    for _ in range(4):
        attempt(client, "ana", "wrong")
    assert attempt(client, "ana", "right horse battery").status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, "ana", "wrong").status_code == 200
    assert attempt(client, "ana", "right horse battery").status_code == 302
    assert reverse("dashboard:home") == "/"
