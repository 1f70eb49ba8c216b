"""401 for anything that does not prove the device signed this body just now; 403 for revoked."""

from __future__ import annotations

import time

import pytest

from junction.sites import services as site_services
from tests.platform.ingest.device import (
    INGEST_URL,
    assert_error,
    assert_nothing_stored,
    encode,
    example_batch,
    example_bucket,
    headers,
    minute_start,
    send,
)

FIELD_DEVICE, FIELD_STAMP, FIELD_SIG = (
    "X-Junction-Device",
    "X-Junction-Timestamp",
    "X-Junction-Signature",
)

BAD_HEADERS = {
    "no device header": ({FIELD_DEVICE: None}, "missing_device", FIELD_DEVICE),
    "unknown device": ({FIELD_DEVICE: "dev-nobody"}, "unknown_device", FIELD_DEVICE),
    "no timestamp": ({FIELD_STAMP: None}, "missing_timestamp", FIELD_STAMP),
    "timestamp not a number": ({FIELD_STAMP: "yesterday"}, "bad_timestamp", FIELD_STAMP),
    "no signature": ({FIELD_SIG: None}, "missing_signature", FIELD_SIG),
    "signature without version": ({FIELD_SIG: "0" * 64}, "bad_signature", FIELD_SIG),
    "signature of other bytes": ({FIELD_SIG: "v1=" + "0" * 64}, "bad_signature", FIELD_SIG),
}


@pytest.mark.parametrize("case", BAD_HEADERS, ids=list(BAD_HEADERS))
def test_it_refuses_a_batch_without_valid_credentials(client, eu_device, case):
    overrides, error, field = BAD_HEADERS[case]
    response = send(client, eu_device, example_batch(eu_device), header_overrides=overrides)
    assert_error(response, 401, error, field)
    assert_nothing_stored()


def test_it_refuses_a_signature_made_with_another_secret(client, eu_device, us_device):
    response = send(client, eu_device, example_batch(eu_device), secret=us_device.secret)
    assert_error(response, 401, "bad_signature", FIELD_SIG)
    assert_nothing_stored()


def test_it_refuses_a_body_changed_after_signing(client, eu_device):
    body = example_batch(eu_device)
    raw = encode(body)
    sent = headers(eu_device, raw, batch_id=body["batch_id"])
    tampered = raw.replace(b'"count":12', b'"count":99')
    response = client.post(INGEST_URL, data=tampered, content_type="application/json", headers=sent)
    assert_error(response, 401, "bad_signature", FIELD_SIG)
    assert_nothing_stored()


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_it_refuses_a_timestamp_outside_the_skew_window(client, eu_device, offset):
    response = send(client, eu_device, example_batch(eu_device), stamp=int(time.time()) + offset)
    assert_error(response, 401, "stale_timestamp", FIELD_STAMP)
    assert_nothing_stored()


@pytest.mark.parametrize("offset", [-290, 290])
def test_it_accepts_a_timestamp_inside_the_skew_window(client, eu_device, offset):
    response = send(client, eu_device, example_batch(eu_device), stamp=int(time.time()) + offset)
    assert response.status_code == 201, response.content


def test_it_refuses_a_replayed_signature_and_stores_nothing_more(client, eu_device):
    body = example_batch(eu_device)
    raw = encode(body)
    captured = headers(eu_device, raw, batch_id=body["batch_id"])
    first = client.post(INGEST_URL, data=raw, content_type="application/json", headers=captured)
    assert first.status_code == 201
    replay = client.post(INGEST_URL, data=raw, content_type="application/json", headers=captured)
    assert_error(replay, 401, "replayed_signature", FIELD_SIG)
    # A genuine retry, signed afresh, is told the batch is already stored.
    assert send(client, eu_device, body).status_code == 200


def test_it_refuses_a_replayed_signature_of_a_refused_request(client, eu_device):
    body = example_batch(eu_device, region="us-east")
    raw = encode(body)
    captured = headers(eu_device, raw, batch_id=body["batch_id"])
    for status in (403, 401):
        response = client.post(
            INGEST_URL, data=raw, content_type="application/json", headers=captured
        )
        assert response.status_code == status
    assert_nothing_stored()


def test_it_accepts_both_secrets_during_a_rotation_until_it_is_finished(client, eu_device):
    old = eu_device.secret
    new = site_services.device_rotate(device_id=eu_device.device_id).secret
    for minutes_ago, secret in ((2, old), (3, new)):
        body = example_batch(eu_device, buckets=[example_bucket(minute_start(minutes_ago))])
        assert send(client, eu_device, body, secret=secret).status_code == 201
    site_services.device_rotation_finish(device_id=eu_device.device_id)
    late = example_batch(eu_device, buckets=[example_bucket(minute_start(4))])
    assert_error(send(client, eu_device, late, secret=old), 401, "bad_signature", FIELD_SIG)
    assert send(client, eu_device, late, secret=new).status_code == 201


def test_it_refuses_a_revoked_device_with_403(client, eu_device):
    site_services.device_revoke(device_id=eu_device.device_id)
    response = send(client, eu_device, example_batch(eu_device))
    assert_error(response, 403, "device_revoked", FIELD_DEVICE)
    assert_nothing_stored()
