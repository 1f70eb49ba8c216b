"""503 with Retry-After, as JSON, when the database or the claim store fails; nothing stored."""

from __future__ import annotations

from tests.platform.ingest.device import assert_error, assert_nothing_stored, example_batch, send


def test_it_answers_503_json_when_a_store_is_down_and_stores_nothing(
    client, eu_device, monkeypatch
):
    from django.db import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(error):
        def fail(*args, **kwargs):
            raise error

        return fail

    monkeypatch.setattr("junction.ingest.auth.signature_claim", down(RedisConnectionError()))
    response = send(client, eu_device, example_batch(eu_device))
    assert_error(response, 503, "claims_unavailable")
    assert response["Retry-After"]
    monkeypatch.setattr("junction.ingest.auth.signature_claim", lambda *a, **k: None)
    monkeypatch.setattr("junction.traffic.services._rows_store", down(OperationalError("gone")))
    assert_error(send(client, eu_device, example_batch(eu_device)), 503, "database_unavailable")
    assert_nothing_stored()
