"""The durable outbox: closed buckets wait here, on disk, until the platform has acknowledged them.

SQLite in WAL mode with synchronous=FULL: a bucket is on disk once `put` returns, so kill -9 or a
power cut loses nothing that was closed. Camera processes `put`; the uplink alone builds batches.
A batch is stored with its id and exact body when it is built, so a retry (even after a crash)
sends the same bytes under the same Idempotency-Key and the platform answers 200, not a duplicate.

One class on purpose (a little over 400 lines): every rule about what may be deleted when (acks,
the size cap, dead letters, the batch in flight) is a transaction on the same tables.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_worker import privacy
from edge_worker.buckets import Bucket, site_bucket

log = logging.getLogger(__name__)

# camera_progress: where each camera resumes after a restart; it outlives the buckets, which go
# once delivered. batched_start: every bucket start ever put in a batch, because a camera bucket
# arriving later for such a start would be a second bucket with that start on the platform.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS camera_bucket (
        camera TEXT NOT NULL,
        start INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        record TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        spooled_at REAL NOT NULL,
        batch_id TEXT,
        PRIMARY KEY (camera, start))""",
    "CREATE INDEX IF NOT EXISTS camera_bucket_batch ON camera_bucket (batch_id, start)",
    """CREATE TABLE IF NOT EXISTS camera_progress (
        camera TEXT PRIMARY KEY, next_start INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS batch (
        batch_id TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        first_start INTEGER NOT NULL,
        buckets INTEGER NOT NULL,
        created REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT)""",
    """CREATE TABLE IF NOT EXISTS batched_start (
        start INTEGER PRIMARY KEY, batch_id TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dead_letter (
        batch_id TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS tally (name TEXT PRIMARY KEY, value REAL NOT NULL)",
)

# Starts older than this (before the newest delivered one) no longer need the late-bucket guard.
_BATCHED_START_KEEP_S = 40 * 86400


class SpoolFull(Exception):
    """The spool's disk (or database) is full: the transaction was rolled back, nothing changed.
    Transient: the same call succeeds once space returns."""

    def __init__(self, path: Path, free_bytes: int | None):
        self.path = path
        self.free_bytes = free_bytes
        free = "unknown" if free_bytes is None else f"{free_bytes} bytes"
        super().__init__(f"spool {path} is full ({free} free on its disk)")


@dataclass(frozen=True)
class BatchIdentity:
    """Who sends: the fixed header fields of every batch body."""

    device_id: str
    site: str
    region: str
    model_name: str
    model_sha256: str


@dataclass(frozen=True)
class PendingBatch:
    batch_id: str
    body: bytes
    buckets: int
    attempts: int


@dataclass(frozen=True)
class SpoolStats:
    unsent_buckets: int
    oldest_unsent_start: int | None
    spooled_bytes: int
    dead_letters: int
    last_dead_letter_reason: str | None
    dropped_buckets: int
    late_buckets: int
    delivered_buckets: int
    last_upload: float | None


class Spool:
    """One connection to the outbox file; safe to share between threads of one process."""

    def __init__(self, path: str | Path, *, max_bytes: int, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit BEGIN IMMEDIATE ... COMMIT below, so
        # a writer takes the lock up front and two processes never deadlock on an upgrade.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        # When a write last failed for want of space, None while writes succeed: for health.
        self.full_since: float | None = None
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so a committed bucket survives power loss.
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            for statement in _SCHEMA:
                self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- camera side ---------------------------------------------------------------------------

    def resume_point(self, camera: str) -> int | None:
        """Start of the first bucket this camera has not spooled yet (None: never ran)."""
        with self._lock:
            row = self._db.execute(
                "SELECT next_start FROM camera_progress WHERE camera = ?", (camera,)
            ).fetchone()
        return row[0] if row else None

    def put(self, camera: str, buckets: list[Bucket], *, dropped_unspooled: int = 0) -> int:
        """Store closed buckets of one camera in one durable transaction; returns how many
        were new. A bucket already spooled (a restarted camera replaying a file) is not stored
        twice, and one whose start was already batched is refused and counted as late.
        `dropped_unspooled`: buckets the camera had to drop while the disk was full, counted as
        dropped in the same transaction, so they are counted exactly once. Raises SpoolFull."""
        stored = 0
        with self._transaction():
            if dropped_unspooled:
                self._bump("dropped_buckets", dropped_unspooled)
            for bucket in buckets:
                start, seconds = bucket.start, bucket.seconds
                self._advance_progress(camera, bucket.end)
                if self._db.execute(
                    "SELECT 1 FROM batched_start WHERE start = ?", (start,)
                ).fetchone():
                    self._bump("late_buckets", 1)
                    log.warning(
                        "camera %s: bucket %s arrived after it was batched; not sent",
                        camera,
                        privacy.iso_start(start),
                    )
                    continue
                text = json.dumps(privacy.wire(bucket), separators=(",", ":"), allow_nan=False)
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO camera_bucket"
                    " (camera, start, seconds, record, bytes, spooled_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (camera, start, seconds, text, len(text), self.clock()),
                )
                stored += cursor.rowcount
            self._enforce_cap()
        return stored

    # -- uplink side ---------------------------------------------------------------------------

    def next_batch(
        self,
        identity: BatchIdentity,
        *,
        cameras: list[str],
        now: float,
        max_buckets: int = 60,
        wait_for_cameras_s: float = 300.0,
    ) -> PendingBatch | None:
        """The batch to send next: the oldest one already built (a retry, same id and body), or a
        new one from unbatched buckets. A bucket start goes out once every camera has spooled it
        or moved past it (a camera never goes back), or once its first part has waited
        `wait_for_cameras_s` in the spool: a camera down for good must not hold the site's data
        back, and its uptime then counts as 0. The wait runs from spooling, not from the bucket's
        end, because a recording's timeline may lie hours in the past."""
        with self._transaction():
            row = self._db.execute(
                "SELECT batch_id, body, buckets, attempts FROM batch"
                " ORDER BY first_start, created LIMIT 1"
            ).fetchone()
            if row:
                return PendingBatch(row[0], bytes(row[1]), row[2], row[3])
            # Readiness from the index alone; only the chosen buckets' records are read, so a
            # backlog of days does not make every batch parse the whole spool.
            wanted = set(cameras)
            progress = dict(self._db.execute("SELECT camera, next_start FROM camera_progress"))
            ready = []
            for start, present, first_spooled in self._db.execute(
                "SELECT start, GROUP_CONCAT(camera, char(31)), MIN(spooled_at) FROM camera_bucket"
                " WHERE batch_id IS NULL GROUP BY start ORDER BY start"
            ):
                spooled = set(present.split("\x1f"))
                passed = {c for c in wanted - spooled if progress.get(c, start) > start}
                if wanted <= spooled | passed or first_spooled + wait_for_cameras_s <= now:
                    ready.append(start)
                    if len(ready) == max_buckets:
                        break
            if not ready:
                return None
            by_start: dict[int, list[Bucket]] = defaultdict(list)
            for start, text in self._db.execute(
                "SELECT start, record FROM camera_bucket WHERE batch_id IS NULL"
                f" AND start IN ({','.join('?' * len(ready))}) ORDER BY start, camera",
                ready,
            ):
                by_start[start].append(privacy.from_wire(json.loads(text)))
            batch_id = str(uuid.uuid4())
            buckets = [site_bucket(by_start[s], cameras=len(wanted)) for s in ready]
            body = privacy.batch_body(
                batch_id=batch_id,
                device_id=identity.device_id,
                site=identity.site,
                region=identity.region,
                model_name=identity.model_name,
                model_sha256=identity.model_sha256,
                buckets=buckets,
            )
            self._db.execute(
                "INSERT INTO batch (batch_id, body, first_start, buckets, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (batch_id, body, ready[0], len(ready), now),
            )
            for start in ready:
                self._db.execute(
                    "UPDATE camera_bucket SET batch_id = ? WHERE start = ? AND batch_id IS NULL",
                    (batch_id, start),
                )
                self._db.execute(
                    "INSERT INTO batched_start (start, batch_id) VALUES (?, ?)", (start, batch_id)
                )
            return PendingBatch(batch_id, body, len(ready), 0)

    def next_stamp(self, now: float) -> int:
        """The timestamp to sign the next upload attempt with: now, but always later than any
        used before, even by a previous run of the worker. The platform refuses a signature it
        has seen as a replay, and re-signing the same batch in the same second (a quick retry,
        or a worker restarted within a second of its last attempt) would repeat one."""
        with self._transaction():
            row = self._db.execute("SELECT value FROM tally WHERE name = 'last_stamp'").fetchone()
            stamp = max(int(now), int(row[0]) + 1 if row else 0)
            self._set("last_stamp", stamp)
        return stamp

    def record_attempt(self, batch_id: str, *, status: int | None, error: str | None) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE batch SET attempts = attempts + 1, last_status = ?, last_error = ?"
                " WHERE batch_id = ?",
                (status, error, batch_id),
            )

    def ack(self, batch_id: str, *, now: float) -> int:
        """The platform stored the batch (201) or had it already (200): only now delete it.
        Deleting needs journal space too; on a full disk this raises SpoolFull and the batch
        stays, so the uplink sends it again later and the platform answers 200 (no duplicate)."""
        try:
            return self._ack(batch_id, now=now)
        except SpoolFull as full:
            log.error("batch %s acknowledged, but %s: kept until it can be deleted", batch_id, full)
            raise

    def _ack(self, batch_id: str, *, now: float) -> int:
        with self._transaction():
            buckets = self._db.execute(
                "SELECT buckets FROM batch WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if buckets is None:
                return 0
            self._db.execute("DELETE FROM camera_bucket WHERE batch_id = ?", (batch_id,))
            self._db.execute("DELETE FROM batch WHERE batch_id = ?", (batch_id,))
            self._db.execute(
                "DELETE FROM batched_start"
                " WHERE start < (SELECT MAX(start) FROM batched_start) - ?",
                (_BATCHED_START_KEEP_S,),
            )
            self._bump("delivered_buckets", buckets[0])
            self._set("last_upload", now)
            return buckets[0]

    def dead_letter(self, batch_id: str, *, status: int, reason: str, now: float) -> None:
        """The platform refused the batch for good (422): keep its body and the server's reason
        for an operator, out of the retry path; it leaves only through an explicit decision."""
        with self._transaction():
            row = self._db.execute(
                "SELECT body FROM batch WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO dead_letter (batch_id, body, status, reason, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (batch_id, row[0], status, reason, now),
            )
            self._db.execute("DELETE FROM camera_bucket WHERE batch_id = ?", (batch_id,))
            self._db.execute("DELETE FROM batch WHERE batch_id = ?", (batch_id,))
        log.error("batch %s dead-lettered (HTTP %s): %s", batch_id, status, reason)

    def release(self, batch_id: str) -> None:
        """Undo building a batch the platform provably did not store (413), so its buckets can go
        out in smaller batches under new ids."""
        with self._transaction():
            self._db.execute(
                "UPDATE camera_bucket SET batch_id = NULL WHERE batch_id = ?", (batch_id,)
            )
            self._db.execute("DELETE FROM batched_start WHERE batch_id = ?", (batch_id,))
            self._db.execute("DELETE FROM batch WHERE batch_id = ?", (batch_id,))

    def discard_dead_letter(self, batch_id: str) -> bool:
        """An operator's explicit decision to drop a refused batch for good; counted."""
        with self._transaction():
            gone = self._db.execute(
                "DELETE FROM dead_letter WHERE batch_id = ?", (batch_id,)
            ).rowcount
            if gone:
                self._bump("discarded_dead_letters", 1)
        if gone:
            log.warning("dead letter %s discarded by the operator", batch_id)
        return bool(gone)

    def dead_letter_body(self, batch_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM dead_letter WHERE batch_id = ?", (batch_id,)
            ).fetchone()
        return bytes(row[0]) if row else None

    def dead_letters(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT batch_id, status, reason, at FROM dead_letter ORDER BY at"
            ).fetchall()
        return [{"batch_id": b, "status": s, "reason": r, "at": a} for b, s, r, a in rows]

    def stats(self) -> SpoolStats:
        with self._lock:
            unsent, oldest, size = self._db.execute(
                "SELECT COUNT(*), MIN(start), COALESCE(SUM(bytes), 0) FROM camera_bucket"
            ).fetchone()
            dead, dead_bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM dead_letter"
            ).fetchone()
            reason = self._db.execute(
                "SELECT reason FROM dead_letter ORDER BY at DESC LIMIT 1"
            ).fetchone()
            tally = dict(self._db.execute("SELECT name, value FROM tally").fetchall())
        return SpoolStats(
            unsent_buckets=unsent,
            oldest_unsent_start=oldest,
            spooled_bytes=size + dead_bytes,
            dead_letters=dead,
            last_dead_letter_reason=reason[0] if reason else None,
            dropped_buckets=int(tally.get("dropped_buckets", 0)),
            late_buckets=int(tally.get("late_buckets", 0)),
            delivered_buckets=int(tally.get("delivered_buckets", 0)),
            last_upload=tally.get("last_upload"),
        )

    # -- internals -----------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self)

    def _full(self, exc: BaseException) -> SpoolFull:
        try:
            free: int | None = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = None
        self.full_since = self.full_since or self.clock()
        return SpoolFull(self.path, free)

    def _advance_progress(self, camera: str, next_start: int) -> None:
        self._db.execute(
            "INSERT INTO camera_progress (camera, next_start) VALUES (?, ?)"
            " ON CONFLICT (camera) DO UPDATE SET next_start = MAX(next_start, excluded.next_start)",
            (camera, next_start),
        )

    def _enforce_cap(self) -> None:
        """Over the cap, drop the oldest unbatched buckets first, then the oldest dead letters,
        and count every drop. The batch in flight is never cut: the platform may already hold
        it, and changing its body would break the idempotent retry."""
        (size,) = self._db.execute(
            "SELECT (SELECT COALESCE(SUM(bytes), 0) FROM camera_bucket)"
            " + (SELECT COALESCE(SUM(LENGTH(body)), 0) FROM dead_letter)"
        ).fetchone()
        if size <= self.max_bytes:
            return
        dropped = 0
        for camera, start, nbytes in self._db.execute(
            "SELECT camera, start, bytes FROM camera_bucket WHERE batch_id IS NULL"
            " ORDER BY start, camera"
        ).fetchall():
            if size <= self.max_bytes:
                break
            self._db.execute(
                "DELETE FROM camera_bucket WHERE camera = ? AND start = ?", (camera, start)
            )
            size -= nbytes
            dropped += 1
        if dropped:
            self._bump("dropped_buckets", dropped)
            log.warning(
                "spool over %s bytes: dropped the %s oldest unsent buckets", self.max_bytes, dropped
            )
        for batch_id, nbytes in self._db.execute(
            "SELECT batch_id, LENGTH(body) FROM dead_letter ORDER BY at"
        ).fetchall():
            if size <= self.max_bytes:
                break
            self._db.execute("DELETE FROM dead_letter WHERE batch_id = ?", (batch_id,))
            size -= nbytes
            self._bump("dropped_dead_letters", 1)
            log.warning("spool over %s bytes: dropped dead letter %s", self.max_bytes, batch_id)

    def _bump(self, name: str, by: float) -> None:
        self._db.execute(
            "INSERT INTO tally (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def _set(self, name: str, value: float) -> None:
        self._db.execute(
            "INSERT INTO tally (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the connection's thread lock; ROLLBACK on any error. A
    write refused for want of space (even at COMMIT) leaves no transaction open and is raised as
    SpoolFull, so the caller can keep its data and retry instead of crashing."""

    def __init__(self, spool: Spool):
        self._spool = spool
        self._db = spool._db
        self._lock = spool._lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self._lock.release()
            if _is_full(exc):
                raise self._spool._full(exc) from exc
            raise
        return self._db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self._db.execute("COMMIT")
                except BaseException as commit_error:
                    # SQLite may or may not have rolled back already after SQLITE_FULL.
                    if self._db.in_transaction:
                        self._rollback()
                    if _is_full(commit_error):
                        raise self._spool._full(commit_error) from commit_error
                    raise
                self._spool.full_since = None
                return
            self._rollback()
            if _is_full(exc):
                raise self._spool._full(exc) from exc
        finally:
            self._lock.release()

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            # The original error says more; SQLite already rolled back if it could not.
            log.debug("rollback after a failed transaction failed", exc_info=True)


def _is_full(exc: BaseException) -> bool:
    """SQLITE_FULL ("database or disk is full"), or ENOSPC from the file system."""
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL or (
            "database or disk is full" in str(exc)
        )
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC
