"""Bad signatures are limited per device id and per address: past the limit ingest answers 429
with Retry-After before checking anything, even a good signature, until the window passes;
other devices and addresses are unaffected, and good batches are never counted."""

from __future__ import annotations

from django.test import override_settings

from tests.platform.ingest.device import assert_error, example_batch, send

FIELD_SIG = "X-Junction-Signature"


def bad_signatures(client, persona, times: int, address: str = "203.0.113.7"):
    return [
        send(
            client, persona, example_batch(persona), secret="not-the-secret", REMOTE_ADDR=address
        ).status_code
        for _ in range(times)
    ]


@override_settings(JUNCTION_INGEST_BAD_SIGNATURES_DEVICE="3/minute")
def test_it_answers_429_past_a_devices_bad_signatures(client, eu_device, us_device):
    assert bad_signatures(client, eu_device, 4) == [401, 401, 401, 429]
    refused = send(client, eu_device, example_batch(eu_device), REMOTE_ADDR="203.0.113.8")
    assert_error(refused, 429, "too_many_bad_signatures", FIELD_SIG)
    assert 0 < int(refused["Retry-After"]) <= 60
    # Another device is not held back by this one's failures.
    assert send(client, us_device, example_batch(us_device)).status_code == 201


@override_settings(JUNCTION_INGEST_BAD_SIGNATURES_ADDRESS="3/minute")
def test_it_answers_429_past_an_addresss_bad_signatures(client, eu_device, us_device):
    assert bad_signatures(client, eu_device, 3) == [401, 401, 401]
    from_there = send(client, us_device, example_batch(us_device), REMOTE_ADDR="203.0.113.7")
    assert_error(from_there, 429, "too_many_bad_signatures", FIELD_SIG)
    assert (
        send(client, us_device, example_batch(us_device), REMOTE_ADDR="198.51.100.1").status_code
        == 201
    )


@override_settings(JUNCTION_INGEST_BAD_SIGNATURES_DEVICE="3/minute")
def test_it_counts_unknown_devices_too(client, eu_device):
    unknown = [
        send(
            client,
            eu_device,
            example_batch(eu_device),
            header_overrides={"X-Junction-Device": "dev-guess"},
        ).status_code
        for _ in range(4)
    ]
    assert unknown == [401, 401, 401, 429]


@override_settings(JUNCTION_INGEST_BAD_SIGNATURES_DEVICE="2/minute")
def test_it_never_counts_good_batches(client, eu_device):
    assert [send(client, eu_device, example_batch(eu_device)).status_code for _ in range(4)] == [
        201
    ] * 4
