"""`manage.py demo_history`: six weeks of demo traffic through the ingest service, rolled up
and judged, so the dashboard's pages have content; run twice, it leaves the history alone.
One test: seeding takes most of a minute on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from junction.analytics.models import Anomaly, Rollup
from junction.dashboard.demo import INCIDENTS, WEEKS
from junction.traffic.models import CountBucket


@pytest.fixture
def seeded(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_seed")
    call_command("demo_history")


def test_it_seeds_six_weeks_with_incidents_the_analytics_find(seeded, capsys):
    from django.contrib.auth import get_user_model

    buckets = CountBucket.objects.in_region("eu-west")
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert buckets.filter(start__lt=today).count() == WEEKS * 7 * 96
    # Today so far, in whole quarters (one more may have ended since the seeding).
    quarters = (now - today) // timedelta(minutes=15)
    assert buckets.filter(start__gte=today).count() in (quarters, quarters - 1)
    outage = INCIDENTS["camera outage"]
    dark_hours = outage.last_hour - outage.first_hour
    assert buckets.filter(uptime=0).count() == dark_hours * 4
    assert Rollup.objects.in_region("eu-west").filter(period="1d").exists()
    kinds = set(Anomaly.objects.in_region("eu-west").values_list("kind", flat=True))
    assert "outage" in kinds and kinds & {"drop", "spike"}
    client = Client()
    client.force_login(get_user_model().objects.get(username="analyst-eu"))
    answer = client.get(reverse("dashboard:site", args=["main-and-5th"]), {"period": "28d"})
    study = answer.context["study"]
    assert study.total > 0 and any(p.normal for p in study.points)
    day = study.points[-1].start.date() - timedelta(days=outage.days_ago)
    assert any(p.status != "complete" for p in study.points if p.start.date() == day)
    [(card, _)] = client.get(reverse("dashboard:region", args=["eu-west"])).context["cards"]
    assert card.days[-2].count and card.days[-2].normal
    # Run again (make demo twice): the history is kept as it is.
    before = buckets.count()
    call_command("demo_history")
    assert "history kept" in capsys.readouterr().out
    assert CountBucket.objects.in_region("eu-west").count() == before
