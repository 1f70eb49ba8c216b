"""The uplink against a strict local receiver: signatures, acks, retries and every answer's rule."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from edge_worker import privacy, signing
from edge_worker.buckets import Bucket
from edge_worker.signing import signature, verify
from edge_worker.spool import BatchIdentity, Spool
from edge_worker.uplink import Backoff, Uplink, endpoint_base, retry_after_seconds
from tests.edge_worker.receiver import Receiver, Scripted

T0 = 1_800_000_000
SECRET = "s3cret-for-dev-1"
IDENTITY = BatchIdentity("dev-1", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10_000_000)
    spool.put("north", [Bucket(T0 + 10 * i, 10, 1.0) for i in range(3)])
    yield spool
    spool.close()


@pytest.fixture
def receiver():
    with Receiver({"dev-1": [SECRET]}) as receiver:
        yield receiver


def make_uplink(
    spool, receiver_url, *, allowed=(), secret=lambda: SECRET, rng=lambda: 1.0, clock=time.time
):
    return Uplink(
        spool=spool,
        identity=IDENTITY,
        cameras=["north"],
        endpoint=receiver_url,
        allowed_endpoints=list(allowed),
        secret=secret,
        backoff=Backoff(base_s=1.0, cap_s=60.0, rng=rng),
        credentials_retry_s=120.0,
        timeout_s=(2.0, 5.0),
        clock=clock,
    )


def test_it_signs_exactly_as_the_contract_says(spool, receiver):
    now = float(int(time.time()))
    make_uplink(spool, receiver.url, clock=lambda: now).send_next()
    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    stamp = headers["x-junction-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["x-junction-signature"] == f"v1={expected}"
    assert headers["x-junction-device"] == "dev-1"
    assert headers["idempotency-key"] == json.loads(body)["batch_id"]
    assert stamp == str(int(now))
    assert receiver.answers == [201]


@pytest.mark.parametrize(
    "secret, stamp, body, header, valid",
    [
        ("k", 100, b"{}", signature("k", 100, b"{}"), True),
        ("k", 100, b"{}", signature("k", 101, b"{}"), False),
        ("k", 100, b"{}", signature("other", 100, b"{}"), False),
        ("k", 100, b'{"a":1}', signature("k", 100, b"{}"), False),
        ("k", "x", b"{}", signature("k", 100, b"{}"), False),
        ("k", 100, b"{}", "v1=\u00e9", False),
    ],
)
def test_it_verifies_signatures(secret, stamp, body, header, valid):
    assert verify(secret, stamp, body, header) is valid


@pytest.mark.parametrize("forged", ["v1=" + "0" * 64, "v1=\u00e9", ""])
def test_it_compares_signatures_with_hmac_compare_digest(monkeypatch, forged):
    # Timing is not measurable in a test; that the comparison is the constant-time one is.
    compared = []

    def compare_digest(a, b):
        compared.append((a, b))
        return real(a, b)

    real = hmac.compare_digest
    monkeypatch.setattr(signing.hmac, "compare_digest", compare_digest)
    genuine = signature("k", 100, b"{}")
    assert verify("k", 100, b"{}", genuine) is True
    assert verify("k", 100, b"{}", forged) is False
    assert compared == [
        (genuine.encode(), genuine.encode()),
        (genuine.encode(), forged.encode("utf-8")),
    ]


def test_it_deletes_a_batch_once_acknowledged_and_stops_when_the_spool_is_empty(spool, receiver):
    uplink = make_uplink(spool, receiver.url)
    assert uplink.send_next() == 0.0
    assert uplink.send_next() is None
    assert spool.stats().unsent_buckets == 0
    assert sorted(receiver.buckets) == [privacy.iso_start(T0 + 10 * i) for i in range(3)]


def test_it_gets_200_for_a_stored_batch_whose_answer_was_lost(spool, receiver):
    uplink = make_uplink(spool, receiver.url)
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=time.time())
    receiver.handle("/api/v1/ingest/batches", _signed_headers(batch), batch.body)  # stored...
    assert uplink.send_next() == 0.0  # ...but the worker never heard; it resends, freshly signed
    assert receiver.answers == [200]
    assert [len(copies) for copies in receiver.buckets.values()] == [1, 1, 1]


def _signed_headers(batch):
    from edge_worker.signing import signed_headers

    headers = signed_headers(
        device_id="dev-1",
        secret=SECRET,
        batch_id=batch.batch_id,
        body=batch.body,
        timestamp=int(time.time()) - 5,
    )
    return {k.lower(): v for k, v in headers.items()}


def test_it_backs_off_exponentially_with_full_jitter_while_the_platform_is_down(spool, receiver):
    receiver.down = True
    uplink = make_uplink(spool, receiver.url, rng=lambda: 1.0)
    delays = [uplink.send_next() for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert spool.stats().unsent_buckets == 3
    receiver.down = False
    assert uplink.send_next() == 0.0
    assert spool.stats().unsent_buckets == 0


def test_it_draws_the_jitter_between_zero_and_the_exponential_ceiling():
    assert Backoff(base_s=1.0, cap_s=60.0, rng=lambda: 0.25).delay(3) == 1.0
    assert Backoff(base_s=1.0, cap_s=60.0, rng=lambda: 0.0).delay(10) == 0.0


def test_it_signs_every_attempt_afresh_so_quick_retries_are_not_replays(spool, receiver):
    receiver.script = [Scripted(503), Scripted(503)]
    uplink = make_uplink(spool, receiver.url, rng=lambda: 0.0)
    assert [uplink.send_next() for _ in range(3)] == [0.0, 0.0, 0.0]
    stamps = [r["headers"]["x-junction-timestamp"] for r in receiver.requests]
    signatures = {r["headers"]["x-junction-signature"] for r in receiver.requests}
    assert len(set(stamps)) == 3 and len(signatures) == 3
    assert receiver.answers == [503, 503, 201]


@pytest.mark.parametrize(
    "header, expected",
    [("7", 7.0), ("0", 0.0), ("86400", 3600.0), ("soon", None), (None, None)],
)
def test_it_reads_retry_after_in_seconds(header, expected):
    assert retry_after_seconds(header, time.time()) == expected


def test_it_reads_retry_after_as_an_http_date():
    now = 1_800_000_000.0
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    assert retry_after_seconds(header, now) == pytest.approx(30.0)


@pytest.mark.parametrize("status", [503, 429, 409])
def test_it_honours_retry_after(spool, receiver, status):
    receiver.script = [Scripted(status, {"error": "busy"}, {"Retry-After": "7"})]
    uplink = make_uplink(spool, receiver.url, rng=lambda: 0.0)
    assert uplink.send_next() == 7.0
    assert uplink.send_next() == 0.0


def test_it_follows_a_421_to_an_allowed_regional_endpoint(spool, receiver):
    with Receiver({"dev-1": [SECRET]}) as us_east:
        receiver.script = [Scripted(421, {"endpoint": us_east.url + "/api/v1/ingest/batches"})]
        uplink = make_uplink(spool, receiver.url, allowed=[us_east.url])
        assert uplink.send_next() == 0.0
        assert uplink.send_next() == 0.0
        assert us_east.answers == [201] and receiver.answers == [421]
        assert uplink.status.endpoint == us_east.url
        assert spool.stats().unsent_buckets == 0


def test_it_does_not_follow_a_421_to_an_endpoint_off_the_allow_list(spool, receiver):
    with Receiver({"dev-1": [SECRET]}) as elsewhere:
        receiver.script = [Scripted(421, {"endpoint": elsewhere.url})]
        uplink = make_uplink(spool, receiver.url, allowed=["https://us-east.junction.example"])
        assert uplink.send_next() == 120.0
        assert elsewhere.requests == []
        assert uplink.status.endpoint == receiver.url
        assert spool.stats().unsent_buckets == 3
        assert "not on allowed_endpoints" in uplink.status.last_error


def test_it_dead_letters_a_422_with_the_servers_reason(spool, receiver):
    reason = {"field": "buckets[0].seconds", "rule": "below the region's minimum of 60"}
    receiver.script = [Scripted(422, reason)]
    uplink = make_uplink(spool, receiver.url)
    assert uplink.send_next() == 0.0
    assert uplink.send_next() is None  # never retried
    stats = spool.stats()
    assert (stats.dead_letters, stats.unsent_buckets) == (1, 0)
    assert json.loads(stats.last_dead_letter_reason) == reason


@pytest.mark.parametrize("status", [401, 403])
def test_it_keeps_batches_and_retries_slowly_when_credentials_are_refused(
    spool, receiver, status, caplog
):
    receiver.script = [Scripted(status, {"error": "device revoked"})]
    uplink = make_uplink(spool, receiver.url)
    assert uplink.send_next() == 120.0
    assert uplink.status.credentials_refused
    assert spool.stats().unsent_buckets == 3
    assert "PLATFORM REFUSED DEVICE dev-1" in caplog.text
    assert uplink.send_next() == 0.0
    assert not uplink.status.credentials_refused


def test_it_picks_up_a_rotated_secret_on_the_next_attempt(spool, receiver):
    current = {"secret": "old-secret"}
    uplink = make_uplink(spool, receiver.url, secret=lambda: current["secret"])
    assert uplink.send_next() == 120.0  # the receiver only knows the new secret
    current["secret"] = SECRET
    assert uplink.send_next() == 0.0


def test_it_backs_off_on_network_errors_and_keeps_the_batch(spool):
    uplink = make_uplink(spool, "http://127.0.0.1:9", rng=lambda: 1.0)
    assert [uplink.send_next() for _ in range(2)] == [1.0, 2.0]
    assert "ConnectionError" in uplink.status.last_error
    assert spool.stats().unsent_buckets == 3


def test_it_splits_a_batch_the_platform_found_too_large(spool, receiver):
    receiver.script = [Scripted(413, {"error": "body too large"})]
    uplink = make_uplink(spool, receiver.url)
    assert uplink.send_next() == 0.0
    while uplink.send_next() is not None:
        pass
    assert receiver.answers == [413, 201, 201, 201]
    assert spool.stats().dead_letters == 0 and len(receiver.buckets) == 3


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://EU-West.example/api/v1/ingest/batches", "https://eu-west.example"),
        ("https://eu-west.example/", "https://eu-west.example"),
        ("https://h.example/junction/", "https://h.example/junction"),
    ],
)
def test_it_compares_endpoints_by_their_base(given, expected):
    assert endpoint_base(given) == expected


def test_a_restarted_worker_never_reuses_a_signing_timestamp(spool, receiver, tmp_path):
    receiver.script = [Scripted(503)]
    now = float(int(time.time()))
    make_uplink(spool, receiver.url, rng=lambda: 0.0, clock=lambda: now).send_next()
    # A new worker process on the same spool, within the same second: a fresh timestamp.
    assert make_uplink(spool, receiver.url, clock=lambda: now).send_next() == 0.0
    stamps = [int(r["headers"]["x-junction-timestamp"]) for r in receiver.requests]
    assert stamps == [int(now), int(now) + 1] and receiver.answers == [503, 201]


def test_it_waits_for_spool_space_with_one_line_and_no_traceback(
    spool, receiver, caplog, monkeypatch
):
    import threading

    from edge_worker.spool import SpoolFull

    uplink = make_uplink(spool, receiver.url)
    stop = threading.Event()

    def full(*args, **kwargs):
        stop.set()  # one attempt is enough
        raise SpoolFull(spool.path, 0)

    monkeypatch.setattr(uplink, "send_next", full)
    with caplog.at_level("ERROR"):
        uplink.run(stop, idle_s=0)
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "waits for spool space" in record.getMessage() and record.exc_info is None
    assert "is full" in uplink.status.last_error
