"""A node pinned to eu-west never reads or writes us-east data: it sends callers to us-east."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from junction.residency.errors import MisdirectedRegion
from junction.residency.middleware import ResidencyMiddleware
from junction.residency.models import AuditEvent
from junction.residency.services import audit_record
from junction.traffic.models import CountBucket, CountRow

START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
pinned_to_eu_west = override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west")


def us_bucket() -> CountBucket:
    return CountBucket(
        region="us-east",
        site_id=1,
        device_id="dev",
        batch_id=uuid.uuid4(),
        start=START,
        seconds=60,
        uptime=1.0,
    )


MISDIRECTED = {
    "read": lambda: list(CountRow.objects.in_region("us-east").all()),
    "count": lambda: CountBucket.objects.in_region("us-east").count(),
    "save": lambda: us_bucket().save(),
    "bulk_create": lambda: CountBucket.objects.in_region("us-east").bulk_create([us_bucket()]),
    "audit": lambda: audit_record(region="us-east", actor="t", action="read"),
}


@pytest.mark.parametrize("path", MISDIRECTED, ids=list(MISDIRECTED))
def test_it_sends_every_us_east_access_to_the_us_east_endpoint(us_east, eu_west, path):
    with pinned_to_eu_west, pytest.raises(MisdirectedRegion) as caught:
        MISDIRECTED[path]()
    assert caught.value.region == "us-east"
    assert caught.value.endpoint == "https://us-east.junction.example"
    assert CountBucket.objects.in_region("us-east").count() == 0
    assert AuditEvent.objects.in_region("us-east").count() == 0


def test_it_still_serves_its_own_region(eu_west):
    with pinned_to_eu_west:
        bucket = CountBucket(
            region="eu-west",
            site_id=1,
            device_id="dev",
            batch_id=uuid.uuid4(),
            start=START,
            seconds=60,
            uptime=1.0,
        )
        bucket.save()
        assert CountBucket.objects.in_region("eu-west").count() == 1


def test_it_names_no_endpoint_for_a_region_it_does_not_know(db):
    with pinned_to_eu_west, pytest.raises(MisdirectedRegion) as caught:
        CountBucket.objects.in_region("us-east").count()
    assert caught.value.endpoint is None
    assert "send it to" not in str(caught.value)


def test_it_answers_421_with_the_endpoint_through_the_middleware(us_east):
    def view(request):
        CountBucket.objects.in_region("us-east").count()
        return HttpResponse("unreachable")

    request = RequestFactory().get("/anything")
    middleware = ResidencyMiddleware(view)
    with pinned_to_eu_west, pytest.raises(MisdirectedRegion) as caught:
        view(request)
    answer = middleware.process_exception(request, caught.value)
    assert answer.status_code == 421
    assert b'"endpoint": "https://us-east.junction.example"' in answer.content
