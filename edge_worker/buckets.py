"""Time buckets: folds the analyser's per-frame results into aligned, anonymous bucket aggregates.

A bucket covers [start, start + seconds) with `start` a multiple of `seconds` in unix time, so
buckets of every device and camera line up. `uptime` is the share of the bucket that was really
analysed: the time between two analysed frames counts only when they are at most `max_gap_s`
apart, so a camera outage gives buckets with uptime 0 instead of silently missing ones.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field

from edge_worker.events import FrameResult

# Fixed edges so histograms of every site and bucket add up. The last bin is open-ended: a speed
# above the top edge lands in it (traffic engineers read it as "70 km/h and over"); dropping it
# would hide exactly the vehicles a speed study is about.
SPEED_EDGES_KMH: tuple[int, ...] = (0, 10, 20, 30, 40, 50, 60, 70, 80)
DWELL_EDGES_S: tuple[int, ...] = (0, 5, 10, 30, 60, 120, 300, 600)

# Two analysed frames further apart than this are an outage between them, not analysed time.
DEFAULT_MAX_GAP_S = 2.0

CountKey = tuple[str, str | None, str]  # counter, direction, class
ClassKey = tuple[str, str]  # counter or zone, class


def histogram_bin(edges: tuple[int, ...], value: float) -> int:
    """Bin index of `value`: below the first edge is bin 0, above the last edge the last bin."""
    bins = len(edges) - 1
    return min(max(bisect.bisect_right(edges, value) - 1, 0), bins - 1)


def align(t: float, seconds: int) -> int:
    """Start of the bucket holding time `t`."""
    return int(math.floor(t / seconds) * seconds)


@dataclass(frozen=True)
class Bucket:
    """A closed bucket of one camera: counts, histograms and occupancy, nothing per object."""

    start: int
    seconds: int
    uptime: float
    counts: tuple[tuple[str, str | None, str, int], ...] = ()
    speeds: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
    occupancy: tuple[tuple[str, str, float, int], ...] = ()
    dwell: tuple[tuple[str, str, tuple[int, ...]], ...] = ()

    @property
    def end(self) -> int:
        return self.start + self.seconds


def site_bucket(parts: list[Bucket], *, cameras: int) -> Bucket:
    """Merge the parts of one bucket start from every camera of the site into one bucket.

    Counter and zone names are unique across a site's cameras (config checks), so merging is a
    union; sums only matter if a name repeats. `uptime` is the mean camera uptime, with a missing
    camera counting 0: the share of the site's camera-time that was analysed. Not the minimum:
    one dead camera would make the bucket uptime 0, the platform's "no data" marker, and the
    other cameras' real counts would be thrown away with it.
    """
    if not parts:
        raise ValueError("no buckets to merge")
    if len({(p.start, p.seconds) for p in parts}) != 1:
        starts = sorted({p.start for p in parts})
        raise ValueError(f"buckets of different starts or lengths cannot merge: {starts}")
    counts: dict[CountKey, int] = defaultdict(int)
    speeds: dict[ClassKey, tuple[int, ...]] = {}
    occupancy: dict[ClassKey, tuple[float, int]] = {}
    dwell: dict[ClassKey, tuple[int, ...]] = {}
    for part in parts:
        for counter, direction, cls, n in part.counts:
            counts[(counter, direction, cls)] += n
        for counter, cls, hist in part.speeds:
            speeds[(counter, cls)] = _summed(speeds.get((counter, cls)), hist)
        for zone, cls, mean, peak in part.occupancy:
            mean_sum, peak_sum = occupancy.get((zone, cls), (0.0, 0))
            occupancy[(zone, cls)] = (mean_sum + mean, peak_sum + peak)
        for zone, cls, hist in part.dwell:
            dwell[(zone, cls)] = _summed(dwell.get((zone, cls)), hist)
    uptimes = [p.uptime for p in parts] + [0.0] * max(cameras - len(parts), 0)
    return Bucket(
        start=parts[0].start,
        seconds=parts[0].seconds,
        uptime=sum(uptimes) / len(uptimes),
        counts=tuple(
            (*key, n) for key, n in sorted(counts.items(), key=lambda kv: _count_order(kv[0]))
        ),
        speeds=tuple((*key, hist) for key, hist in sorted(speeds.items())),
        occupancy=tuple(
            (*key, round(mean, 3), peak) for key, (mean, peak) in sorted(occupancy.items())
        ),
        dwell=tuple((*key, hist) for key, hist in sorted(dwell.items())),
    )


def _summed(existing: tuple[int, ...] | None, hist: tuple[int, ...]) -> tuple[int, ...]:
    if existing is None:
        return tuple(hist)
    return tuple(a + b for a, b in zip(existing, hist, strict=True))


def _count_order(key: CountKey) -> tuple[str, str, str]:
    # A movement's count has no direction (None): it sorts before "in" and "out".
    counter, direction, cls = key
    return counter, direction or "", cls


@dataclass
class _OpenBucket:
    start: int
    seconds: int
    analysed_s: float = 0.0
    counts: dict[CountKey, int] = field(default_factory=lambda: defaultdict(int))
    speeds: dict[ClassKey, list[int]] = field(default_factory=dict)
    occupancy_area: dict[ClassKey, float] = field(default_factory=lambda: defaultdict(float))
    occupancy_max: dict[ClassKey, int] = field(default_factory=lambda: defaultdict(int))
    dwell: dict[ClassKey, list[int]] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + self.seconds

    def close(self) -> Bucket:
        analysed = min(self.analysed_s, float(self.seconds))
        zones = sorted(set(self.occupancy_area) | set(self.occupancy_max))
        occupancy = tuple(
            (
                zone,
                cls,
                # Mean over the analysed time only: an outage must not pull the mean towards 0.
                round(self.occupancy_area[(zone, cls)] / analysed, 3) if analysed > 0 else 0.0,
                self.occupancy_max[(zone, cls)],
            )
            for zone, cls in zones
        )
        return Bucket(
            start=self.start,
            seconds=self.seconds,
            uptime=round(analysed / self.seconds, 4),
            counts=tuple(
                (counter, direction, cls, n)
                for (counter, direction, cls), n in sorted(
                    self.counts.items(), key=lambda item: _count_order(item[0])
                )
            ),
            speeds=tuple((c, cls, tuple(h)) for (c, cls), h in sorted(self.speeds.items())),
            occupancy=occupancy,
            dwell=tuple((z, cls, tuple(h)) for (z, cls), h in sorted(self.dwell.items())),
        )


class BucketAggregator:
    """Folds FrameResults of one camera, in time order, into closed Buckets.

    `start` is where this aggregator takes over: results before it were already bucketed by an
    earlier run (after a restart the spool says where), so they only advance the frame clock.
    """

    def __init__(self, *, seconds: int, start: float, max_gap_s: float = DEFAULT_MAX_GAP_S):
        if seconds <= 0:
            raise ValueError("bucket seconds must be positive")
        self.seconds = seconds
        self.max_gap_s = max_gap_s
        self._open: _OpenBucket | None = _OpenBucket(align(start, seconds), seconds)
        self._resume_at = float(start)
        self._last_t: float | None = None
        self._held_occupancy: dict[ClassKey, int] = {}
        self.late_results = 0

    @property
    def open_start(self) -> int | None:
        return self._open.start if self._open else None

    def add(self, result: FrameResult) -> list[Bucket]:
        """Take one analysed frame; returns the buckets that its time closed."""
        if self._open is None:
            raise RuntimeError("aggregator already finished")
        t = result.t
        closed: list[Bucket] = []
        previous = self._last_t
        if previous is not None and t < previous:
            # Time went backwards (clock step, broken stream timestamps): keep no span, and
            # count the frame only if it still falls in the open bucket.
            self.late_results += 1
        elif previous is not None and 0 < t - previous <= self.max_gap_s:
            closed += self._add_span(previous, t)
        closed += self.close_until(t)
        self._last_t = t if previous is None else max(previous, t)
        self._held_occupancy = {(o.zone, o.cls): o.objects for o in result.occupancy}
        if t < self._resume_at or t < self._open.start:
            return closed
        self._add_events(result)
        return closed

    def close_until(self, now: float) -> list[Bucket]:
        """Close every bucket that ended at or before `now`, analysed or not (uptime 0)."""
        closed = []
        while self._open is not None and now >= self._open.end:
            closed.append(self._open.close())
            self._open = _OpenBucket(self._open.end, self.seconds)
        return closed

    def finish(self, end: float) -> list[Bucket]:
        """The source's timeline ended (a file ran out): close the open bucket if `end` is in it."""
        closed = self.close_until(end)
        if self._open is not None and end > self._open.start:
            closed.append(self._open.close())
        self._open = None
        return closed

    def _add_span(self, a: float, b: float) -> list[Bucket]:
        """Count [a, b] as analysed time, split over bucket borders, holding the last occupancy."""
        closed: list[Bucket] = []
        a = max(a, self._resume_at)
        while self._open is not None and b >= self._open.end:
            self._credit(max(a, self._open.start), self._open.end)
            closed += self.close_until(self._open.end)
        if self._open is not None:
            self._credit(max(a, self._open.start), b)
        return closed

    def _credit(self, a: float, b: float) -> None:
        span = b - a
        if span <= 0:
            return
        bucket = self._open
        assert bucket is not None  # _add_span credits only while a bucket is open
        bucket.analysed_s += span
        for key, objects in self._held_occupancy.items():
            bucket.occupancy_area[key] += objects * span
            # The held count was really seen over this span, so the max covers it too and the
            # mean can never exceed the max.
            bucket.occupancy_max[key] = max(bucket.occupancy_max[key], objects)

    def _add_events(self, result: FrameResult) -> None:
        bucket = self._open
        assert bucket is not None  # add() opens the frame's bucket before its events
        for event in result.events:
            bucket.counts[(event.counter, event.direction, event.cls)] += 1
            if event.speed_kmh is not None and math.isfinite(event.speed_kmh):
                hist = bucket.speeds.setdefault(
                    (event.counter, event.cls), [0] * (len(SPEED_EDGES_KMH) - 1)
                )
                hist[histogram_bin(SPEED_EDGES_KMH, event.speed_kmh)] += 1
        for occupancy in result.occupancy:
            key = (occupancy.zone, occupancy.cls)
            bucket.occupancy_max[key] = max(bucket.occupancy_max[key], occupancy.objects)
        for dwell in result.dwell:
            hist = bucket.dwell.setdefault((dwell.zone, dwell.cls), [0] * (len(DWELL_EDGES_S) - 1))
            hist[histogram_bin(DWELL_EDGES_S, dwell.seconds)] += 1
