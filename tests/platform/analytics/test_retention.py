"""Retention deletes a region's raw buckets, rollups and ingest idempotency records past its
policy, in batches, audits what it deleted, and leaves every other region alone."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from junction.analytics import retention, rollups
from junction.analytics.models import Period, Rollup
from junction.ingest.models import IngestBatch
from junction.ingest.retention import IDEMPOTENCY_MARGIN
from junction.residency.models import AuditEvent
from junction.residency.planes import served_alias
from junction.traffic.models import CountBucket, CountRow
from tests.platform.analytics.factories import store_buckets

COUNTS = {("north-stopline", "in", "car"): 3}


def aged(days: int):
    return (timezone.now() - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def stored(region: str, site_id: int, days_ago: int, minutes: int = 10) -> None:
    start = aged(days_ago)
    store_buckets(region=region, site_id=site_id, start=start, minutes=minutes, counts=COUNTS)
    rollups.rollups_recompute(
        region=region, site_id=site_id, start=start, end=start + timedelta(hours=1)
    )


def received(region: str, site_id: int, days_ago: int) -> IngestBatch:
    """An idempotency record of a batch received `days_ago` days ago."""
    record = IngestBatch(
        region=region,
        batch_id=uuid.uuid4(),
        device_id=f"dev-{region}",
        site_id=site_id,
        body_sha256="0" * 64,
        model_name="yolox_nano",
        model_sha256="1" * 64,
        received_at=timezone.now() - timedelta(days=days_ago),
        buckets=1,
        count_rows=1,
    )
    record.save(using=served_alias(region))
    return record


def test_it_deletes_raw_data_and_rollups_past_the_regions_policy(eu_site, us_site):
    stored("eu-west", eu_site.pk, days_ago=800)  # past both raw (90 d) and rollup (730 d)
    stored("eu-west", eu_site.pk, days_ago=100)  # raw gone, rollups kept
    stored("eu-west", eu_site.pk, days_ago=10)  # everything kept

    report = retention.retention_apply(region="eu-west", batch=7)

    buckets = CountBucket.objects.in_region("eu-west")
    assert sorted({b.start for b in buckets}) == [
        aged(10) + timedelta(minutes=m) for m in range(10)
    ]
    assert CountRow.objects.in_region("eu-west").count() == 10
    hourly = Rollup.objects.in_region("eu-west").filter(period=Period.HOUR)
    assert sorted(r.start for r in hourly) == [aged(100), aged(10)]
    assert report["deleted"]["buckets"] == 20
    assert report["deleted"]["count_rows"] == 20


def test_it_writes_what_it_deleted_to_the_regions_audit_log(eu_site):
    stored("eu-west", eu_site.pk, days_ago=100, minutes=3)
    retention.retention_apply(region="eu-west")
    event = AuditEvent.objects.in_region("eu-west").get(action="retention")
    assert event.actor == "system:retention"
    assert event.detail["deleted"]["buckets"] == 3
    assert event.detail["raw_retention_days"] == 90


def test_it_never_touches_another_region(eu_site, us_site):
    stored("us-east", us_site.pk, days_ago=800)
    retention.retention_apply(region="eu-west")
    assert CountBucket.objects.in_region("us-east").count() == 10
    assert Rollup.objects.in_region("us-east").exists()
    assert not AuditEvent.objects.in_region("us-east").exists()


def test_it_follows_each_regions_own_policy(eu_site, us_site):
    us = us_site.region
    us.raw_retention_days = 7
    us.save()
    stored("us-east", us_site.pk, days_ago=10)
    stored("eu-west", eu_site.pk, days_ago=10)
    retention.retention_apply(region="us-east")
    retention.retention_apply(region="eu-west")
    assert not CountBucket.objects.in_region("us-east").exists()
    assert CountBucket.objects.in_region("eu-west").count() == 10


def test_it_deletes_idempotency_records_past_raw_retention_and_the_retry_margin(eu_site, us_site):
    margin = IDEMPOTENCY_MARGIN.days
    gone = [received("eu-west", eu_site.pk, days_ago=90 + margin + d) for d in (1, 2, 400)]
    kept = [received("eu-west", eu_site.pk, days_ago=d) for d in (0, 89, 91, 90 + margin - 1)]
    other = received("us-east", us_site.pk, days_ago=800)

    report = retention.retention_apply(region="eu-west", batch=2)

    left = IngestBatch.objects.in_region("eu-west").values_list("batch_id", flat=True)
    assert sorted(left) == sorted(r.batch_id for r in kept)
    assert report["deleted"]["ingest_batches"] == len(gone)
    assert IngestBatch.objects.in_region("us-east").get().batch_id == other.batch_id


def test_it_counts_deleted_idempotency_records_in_the_regions_audit_entry(eu_site, us_site):
    received("eu-west", eu_site.pk, days_ago=500)
    received("eu-west", eu_site.pk, days_ago=501)
    received("us-east", us_site.pk, days_ago=500)
    retention.retention_apply(region="eu-west")
    event = AuditEvent.objects.in_region("eu-west").get(action="retention")
    assert event.detail["deleted"]["ingest_batches"] == 2
    assert "ingest_batches_before" in event.detail
    assert not AuditEvent.objects.in_region("us-east").exists()
    assert IngestBatch.objects.in_region("us-east").count() == 1


def test_it_measures_the_idempotency_margin_from_each_regions_raw_retention(eu_site, us_site):
    us = us_site.region
    us.raw_retention_days = 7
    us.save()
    margin = IDEMPOTENCY_MARGIN.days
    received("us-east", us_site.pk, days_ago=7 + margin + 1)
    received("eu-west", eu_site.pk, days_ago=7 + margin + 1)
    retention.retention_apply(region="us-east")
    retention.retention_apply(region="eu-west")
    assert not IngestBatch.objects.in_region("us-east").exists()
    assert IngestBatch.objects.in_region("eu-west").count() == 1
