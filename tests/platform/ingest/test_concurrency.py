"""Identical batches sent at the same moment by several threads, against a live server, are
stored once: one 201, the others 200 (already stored) or 409 (still being stored)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import timedelta

import pytest
import requests
from django.db import connections
from django.db.backends.signals import connection_created

from junction.residency.planes import served_alias
from tests.platform.ingest.device import (
    INGEST_URL,
    encode,
    example_batch,
    example_bucket,
    headers,
    minute_start,
    stored_counts,
)

THREADS = 4
ROUNDS = 5
live = pytest.mark.django_db(transaction=True, databases="__all__")


def _post_together(url: str, persona, body: dict, *, retry_409: bool = False) -> list[int]:
    # Each thread signs afresh (its own timestamp), as a device retrying would; the barrier
    # releases them together so the requests really overlap in the server.
    raw = encode(body)
    barrier = threading.Barrier(THREADS)

    def post(_: int) -> tuple[int, str]:
        barrier.wait(timeout=10)
        for _attempt in range(20):
            sent = headers(persona, raw, batch_id=body["batch_id"])
            response = requests.post(
                url + INGEST_URL,
                data=raw,
                timeout=30,
                headers=sent | {"Content-Type": "application/json"},
            )
            if not (retry_409 and response.status_code == 409):
                break
            time.sleep(0.05)
        return response.status_code, response.text[:300]

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(post, range(THREADS)))
    # Any answer outside the contract shows up with its body in the assertion message.
    unexpected = [a for a in answers if a[0] not in (200, 201, 409)]
    assert not unexpected, unexpected
    return [status for status, _ in answers]


def _rounds(url: str, persona, *, retry_409: bool = False) -> list[list[int]]:
    answers = []
    # Starts fixed up front: a minute turning mid-test must not give two rounds one bucket.
    latest = minute_start(2)
    for k in range(ROUNDS):
        start = latest - timedelta(minutes=k)
        body = example_batch(persona, buckets=[example_bucket(start)])
        answers.append(_post_together(url, persona, body, retry_409=retry_409))
    return answers


def _assert_stored_once() -> None:
    counts = stored_counts()
    assert counts["eu-west:IngestBatch"] == ROUNDS
    assert counts["eu-west:CountBucket"] == ROUNDS
    assert counts["eu-west:CountRow"] == 2 * ROUNDS
    assert counts["control:batches_received"] == ROUNDS


@live
def test_it_stores_identical_concurrent_batches_once(live_server, eu_device):
    for statuses in _rounds(live_server.url, eu_device):
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {200, 201, 409}, statuses
    _assert_stored_once()


@live
def test_it_tells_every_retrying_copy_that_the_batch_is_stored(live_server, eu_device):
    for statuses in _rounds(live_server.url, eu_device, retry_409=True):
        assert sorted(statuses) == [200] * (THREADS - 1) + [201], statuses
    _assert_stored_once()


@live
def test_it_stores_concurrent_copies_once_even_without_the_cache_lock(
    live_server, eu_device, monkeypatch
):
    # The lock only spares work; the unique batch id in the region database is the guarantee.
    monkeypatch.setattr("junction.ingest.services.batch_lock", lambda *args: nullcontext())
    for statuses in _rounds(live_server.url, eu_device):
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {200, 201, 409}, statuses
    _assert_stored_once()


def _waiting_for_the_device_lock(alias: str) -> bool:
    """PostgreSQL: pg_locks shows a backend of this database waiting for an advisory lock that
    another backend holds (the device's write lock, region_write_lock)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks waiting JOIN pg_locks holding"
            " USING (locktype, database, classid, objid, objsubid)"
            " WHERE waiting.locktype = 'advisory' AND NOT waiting.granted AND holding.granted"
            " AND waiting.pid <> holding.pid"
            " AND waiting.database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())"
        )
        return cursor.fetchone()[0] > 0


@contextmanager
def _sqlite_write_lock_requests(alias: str, held: threading.Event) -> Iterator[threading.Event]:
    """SQLite has no lock table: the database's one write lock is taken by BEGIN IMMEDIATE
    (settings), which cannot return while another transaction holds it. The event is set when a
    request issues it on `alias` while the holder holds the lock."""
    requested = threading.Event()

    def watch(execute, sql, params, many, context):
        # The holder sits in its transaction once `held` is set and issues nothing more, so a
        # BEGIN IMMEDIATE from then on is another request's.
        if sql.startswith("BEGIN IMMEDIATE") and held.is_set():
            requested.set()
        return execute(sql, params, many, context)

    def watch_new(sender, connection, **kwargs):
        # Live server request threads open their own connections.
        if connection.alias == alias:
            connection.execute_wrappers.append(watch)

    connection_created.connect(watch_new, weak=False)
    try:
        yield requested
    finally:
        connection_created.disconnect(watch_new)


@live
def test_two_batches_with_overlapping_buckets_arriving_together_store_only_one(
    live_server, eu_device, monkeypatch
):
    # Batch A (one 300 s bucket) is held inside its store transaction, its rows written but not
    # committed; batch B (a 60 s bucket inside A's window, another length) arrives meanwhile.
    # Neither sees the other's rows, so both would pass the overlap check and both be stored;
    # B must wait for A instead, then see its bucket and be refused. A is let go only once B is
    # seen waiting for A's lock: without the lock B would be stored while A is held.
    from junction.traffic import services

    held, release = threading.Event(), threading.Event()
    rows_store = services._rows_store

    def rows_store_holding_the_first(region, site_id, buckets):
        rows_store(region, site_id, buckets)
        if not held.is_set():
            held.set()
            release.wait(timeout=60)

    monkeypatch.setattr(services, "_rows_store", rows_store_holding_the_first)
    start = minute_start(60)
    start -= timedelta(seconds=int(start.timestamp()) % 300)
    first = example_batch(eu_device, buckets=[example_bucket(start, seconds=300)])
    second = example_batch(eu_device, buckets=[example_bucket(start + timedelta(minutes=2))])

    def post(body: dict) -> requests.Response:
        raw = encode(body)
        sent = headers(eu_device, raw, batch_id=body["batch_id"])
        return requests.post(
            live_server.url + INGEST_URL,
            data=raw,
            timeout=60,
            headers=sent | {"Content-Type": "application/json"},
        )

    alias = served_alias("eu-west")
    postgres = connections[alias].vendor == "postgresql"
    watching = nullcontext(None) if postgres else _sqlite_write_lock_requests(alias, held)
    with watching as sqlite_requested, ThreadPoolExecutor(2) as pool:
        try:
            a = pool.submit(post, first)
            assert held.wait(timeout=30)
            b = pool.submit(post, second)
            deadline = time.monotonic() + 30
            waiting = False
            while not (waiting or b.done()) and time.monotonic() < deadline:
                time.sleep(0.02)  # polling the lock's state, not waiting for luck
                if postgres:
                    waiting = _waiting_for_the_device_lock(alias)
                else:
                    waiting = sqlite_requested.is_set()
            # B was kept out while A was storing: not done, and seen waiting for A's lock.
            assert waiting and not b.done(), b.result().text if b.done() else "B never came"
        finally:
            release.set()
        a, b = a.result(), b.result()
    assert a.status_code == 201, a.text
    assert b.status_code == 422, b.text
    assert b.json()["error"] == "bucket_overlaps", b.text
    counts = stored_counts()
    assert counts["eu-west:CountBucket"] == 1
    assert counts["eu-west:IngestBatch"] == 1
