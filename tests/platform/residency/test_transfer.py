"""transfer_authorise is the only way data crosses regions, and it writes every decision to the
source region's audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from junction.residency.errors import MisdirectedRegion, TransferRefused
from junction.residency.models import AuditEvent, TransferLevel, TransferRule
from junction.residency.services import (
    transfer_authorise,
    transfer_rule_delete,
    transfer_rule_save,
)

DAILY = TransferLevel.DAILY_SITE_TOTALS


@pytest.fixture
def eu_to_us_daily(eu_west, us_east):
    return TransferRule.objects.create(
        source=eu_west, destination=us_east, level=DAILY, min_count=10
    )


def audit(region: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.in_region(region).all())


def authorise(source="eu-west", destination="us-east", level=DAILY):
    return transfer_authorise(
        source=source, destination=destination, level=level, actor="analyst@us-east"
    )


def test_it_refuses_a_transfer_without_a_rule_and_audits_the_refusal(eu_west, us_east):
    with pytest.raises(
        TransferRefused,
        match="no active transfer rule lets daily_site_totals data go from eu-west to us-east",
    ):
        authorise()
    [event] = audit("eu-west")
    assert (event.action, event.actor, event.destination_region) == (
        "refused",
        "analyst@us-east",
        "us-east",
    )
    assert event.detail == {"level": DAILY, "reason": "no transfer rule"}
    assert audit("us-east") == []


def test_it_allows_a_transfer_with_a_rule_and_audits_it(eu_to_us_daily):
    assert authorise() == eu_to_us_daily
    [event] = audit("eu-west")
    assert (event.action, event.destination_region) == ("transfer", "us-east")
    assert event.detail == {"level": DAILY, "rule": eu_to_us_daily.pk, "min_count": 10}
    assert audit("us-east") == []


@pytest.mark.parametrize(
    "source, destination, level",
    [
        ("us-east", "eu-west", DAILY),
        ("eu-west", "us-east", TransferLevel.HOURLY_SITE_TOTALS),
    ],
    ids=["the other direction", "a finer level"],
)
def test_it_refuses_what_the_rule_does_not_cover(eu_to_us_daily, source, destination, level):
    with pytest.raises(TransferRefused):
        authorise(source, destination, level)
    assert [e.action for e in audit(source)] == ["refused"]


def test_it_refuses_an_inactive_rule(eu_to_us_daily):
    eu_to_us_daily.active = False
    eu_to_us_daily.save()
    with pytest.raises(TransferRefused):
        authorise()
    assert [e.action for e in audit("eu-west")] == ["refused"]


def test_it_refuses_a_transfer_within_one_region_without_auditing(eu_west):
    with pytest.raises(TransferRefused, match="same region"):
        authorise("eu-west", "eu-west")
    assert audit("eu-west") == []


def test_it_refuses_a_rule_from_a_region_to_itself(eu_west):
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRule.objects.create(source=eu_west, destination=eu_west, level=DAILY)


def test_it_cannot_authorise_a_transfer_it_cannot_audit(eu_west, us_east):
    # A node serving only the destination cannot write the source's audit log, so it cannot
    # let the source's data out either: it sends the caller to the source region.
    TransferRule.objects.create(source=us_east, destination=eu_west, level=DAILY)
    with (
        override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"),
        pytest.raises(MisdirectedRegion) as caught,
    ):
        authorise("us-east", "eu-west")
    assert caught.value.endpoint == "https://us-east.junction.example"
    assert audit("us-east") == [] and audit("eu-west") == []


def test_every_rule_change_is_audited_in_the_source_region(eu_west, us_east):
    rule = transfer_rule_save(
        TransferRule(source=eu_west, destination=us_east, level=DAILY, min_count=10),
        actor="dpo@eu-west",
    )
    rule.min_count = 5
    transfer_rule_save(rule, actor="dpo@eu-west")
    pk = rule.pk
    transfer_rule_delete(rule, actor="dpo@eu-west")
    events = sorted(audit("eu-west"), key=lambda e: e.pk)
    assert [(e.action, e.actor, e.destination_region) for e in events] == [
        ("rule_created", "dpo@eu-west", "us-east"),
        ("rule_changed", "dpo@eu-west", "us-east"),
        ("rule_deleted", "dpo@eu-west", "us-east"),
    ]
    assert [e.detail["min_count"] for e in events] == [10, 5, 5]
    assert {e.detail["rule"] for e in events} == {pk}
    assert audit("us-east") == []
    assert not TransferRule.objects.exists()


def test_a_node_that_cannot_audit_the_source_cannot_change_its_rules(eu_west, us_east):
    with (
        override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"),
        pytest.raises(MisdirectedRegion),
    ):
        transfer_rule_save(
            TransferRule(source=us_east, destination=eu_west, level=DAILY), actor="dpo@eu-west"
        )
    assert not TransferRule.objects.exists()


def test_rule_changes_in_the_admin_are_audited(client, admin_user, eu_west, us_east):
    client.force_login(admin_user)
    answer = client.post(
        reverse("admin:residency_transferrule_add"),
        {
            "source": eu_west.pk,
            "destination": us_east.pk,
            "level": DAILY,
            "min_count": 10,
            "active": "on",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    rule = TransferRule.objects.get()
    client.post(reverse("admin:residency_transferrule_delete", args=[rule.pk]), {"post": "yes"})
    assert not TransferRule.objects.exists()
    assert [(e.action, e.actor) for e in sorted(audit("eu-west"), key=lambda e: e.pk)] == [
        ("rule_created", admin_user.get_username()),
        ("rule_deleted", admin_user.get_username()),
    ]


def test_it_records_repeated_refusals_as_one_row_with_their_count(eu_west, us_east, monkeypatch):
    clock = [datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    for _ in range(50):
        with pytest.raises(TransferRefused):
            authorise()
        clock[0] += timedelta(seconds=30)  # 50 refusals over 25 minutes
    [event] = audit("eu-west")
    assert (event.action, event.actor, event.destination_region) == (
        "refused",
        "analyst@us-east",
        "us-east",
    )
    assert event.repeats == 50
    assert (event.at, event.last_at) == (
        datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 24, 35, tzinfo=UTC),
    )


def test_it_starts_a_new_refusal_row_each_hour_and_for_each_actor_and_level(
    eu_west, us_east, monkeypatch
):
    clock = [datetime(2026, 12, 1, 9, 59, 0, tzinfo=UTC)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    attempts = [
        ("analyst@us-east", DAILY),
        ("analyst@us-east", DAILY),
        ("other@us-east", DAILY),
        ("analyst@us-east", TransferLevel.HOURLY_SITE_TOTALS),
    ]
    for actor, level in attempts:
        with pytest.raises(TransferRefused):
            transfer_authorise(source="eu-west", destination="us-east", level=level, actor=actor)
    clock[0] = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    with pytest.raises(TransferRefused):
        authorise()
    rows = sorted((e.at.hour, e.actor, e.detail["level"], e.repeats) for e in audit("eu-west"))
    assert rows == [
        (9, "analyst@us-east", DAILY, 2),
        (9, "analyst@us-east", TransferLevel.HOURLY_SITE_TOTALS, 1),
        (9, "other@us-east", DAILY, 1),
        (10, "analyst@us-east", DAILY, 1),
    ]


def test_it_records_every_granted_transfer_on_its_own_row(eu_to_us_daily):
    for _ in range(3):
        authorise()
    assert [(e.action, e.repeats) for e in audit("eu-west")] == [("transfer", 1)] * 3
