"""413 for a body over the limit, judged before it is read; 411 without a length."""

from __future__ import annotations

from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    encode,
    example_batch,
    example_bucket,
    minute_start,
    send,
)


def test_it_refuses_a_body_over_the_limit_with_413(client, eu_device, settings):
    body = example_batch(eu_device, buckets=[example_bucket(minute_start(m)) for m in range(2, 40)])
    settings.JUNCTION_INGEST_MAX_BYTES = len(encode(body)) - 1
    payload = assert_error(send(client, eu_device, body), 413, "body_too_large", "body")
    assert payload["max_bytes"] == settings.JUNCTION_INGEST_MAX_BYTES
    assert_nothing_stored()


def test_it_refuses_by_the_declared_length_before_reading(client, eu_device, settings):
    settings.JUNCTION_INGEST_MAX_BYTES = 10_000
    response = send(
        client, eu_device, example_batch(eu_device), header_overrides={"Content-Length": "10000000"}
    )
    assert_error(response, 413, "body_too_large", "body")
    assert_nothing_stored()


def test_it_accepts_a_body_at_the_limit(client, eu_device, settings):
    body = example_batch(eu_device)
    settings.JUNCTION_INGEST_MAX_BYTES = len(encode(body))
    assert send(client, eu_device, body).status_code == 201


def test_it_asks_for_a_length_when_none_is_given(client, eu_device):
    response = send(
        client, eu_device, example_batch(eu_device), header_overrides={"Content-Length": ""}
    )
    assert_error(response, 411, "length_required", "Content-Length")
    assert_nothing_stored()


def test_it_answers_json_to_other_methods(client):
    response = client.get("/api/v1/ingest/batches")
    assert_error(response, 405, "method_not_allowed")
