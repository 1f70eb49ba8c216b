"""A batch that could never be stored is refused with 422 naming the field, on every database.

The edge retries a 5xx for ever, so a body the database cannot hold (a NUL byte PostgreSQL
refuses, a time past the calendar's end) must be refused as invalid, never answered 500 or 503.
"""

from __future__ import annotations

import pytest

from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    encode,
    example_batch,
    example_bucket,
    send,
)

# Every free-text field of the batch schema (the others are literals, numbers or patterns).
STRING_FIELDS = {
    "model.name": lambda body: body["model"],
    "device_id": lambda body: body,
    "site": lambda body: body,
    "region": lambda body: body,
    "buckets[0].counts[0].counter": lambda body: body["buckets"][0]["counts"][0],
    "buckets[0].speeds[0].counter": lambda body: body["buckets"][0]["speeds"][0],
    "buckets[0].occupancy[0].zone": lambda body: body["buckets"][0]["occupancy"][0],
}


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f"], ids=["NUL", "ESC", "DEL"])
def test_it_refuses_a_control_character_in_a_string_field(client, eu_device, field, character):
    body = example_batch(eu_device)
    holder = STRING_FIELDS[field](body)
    key = field.rsplit(".", 1)[-1]
    holder[key] = holder[key][:3] + character + holder[key][3:]
    payload = assert_error(send(client, eu_device, body), 422, "invalid_value", field)
    assert "control character" in payload["detail"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    "start, seconds",
    [
        ("9999-12-31T23:59:00Z", 60),
        ("9999-12-31T00:00:00Z", 86_400),
        ("0001-01-01T00:30:00+01:00", 60),
        ("9999-12-31T23:00:00-05:00", 60),
    ],
    ids=[
        "a minute at the end of 9999",
        "the last day of 9999",
        "before year 1 in UTC",
        "after year 9999 in UTC",
    ],
)
def test_it_refuses_a_bucket_outside_the_calendar(client, eu_device, start, seconds):
    body = example_batch(eu_device, buckets=[example_bucket(seconds=seconds)])
    body["buckets"][0]["start"] = start
    assert_error(send(client, eu_device, body), 422, "invalid_value", "buckets[0].start")
    assert_nothing_stored()


def _with_duplicate(raw: bytes, key: str, first: str, second: str) -> bytes:
    """The encoded body with `"key": first` written as `"key": first, "key": second`."""
    original = f'"{key}":{first}'.encode()
    assert raw.count(original) == 1, raw
    return raw.replace(original, original + f',"{key}":{second}'.encode())


@pytest.mark.parametrize(
    "key, first, second, field",
    [
        ("count", "12", "999999", "buckets[0].counts[0].count"),
        ("device_id", '"dev-main-5th-n"', '"dev-main-5th-n"', "device_id"),
        ("name", '"yolox_nano"', '"other"', "model.name"),
    ],
    ids=["a count", "the device", "the model name"],
)
def test_it_refuses_a_key_given_twice(client, eu_device, key, first, second, field):
    body = example_batch(eu_device)
    raw = _with_duplicate(encode(body), key, first, second)
    payload = assert_error(
        send(client, eu_device, raw, header_overrides={"Idempotency-Key": body["batch_id"]}),
        422,
        "duplicate_key",
        field,
    )
    assert f"{key!r}" in payload["detail"]
    assert_nothing_stored()


def test_it_refuses_a_nul_in_the_device_header_as_an_unknown_device(client, eu_device):
    body = example_batch(eu_device)
    answer = send(
        client, eu_device, body, header_overrides={"X-Junction-Device": "dev-main\x00-5th-n"}
    )
    assert_error(answer, 401, "unknown_device", "X-Junction-Device")
    assert_nothing_stored()
