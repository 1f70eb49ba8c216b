"""Anomaly detection on regular series of 15-minute window volumes: pure numpy, no database.

The same functions run inside the region's worker (on 15-minute rollups) and in
bench/anomalies.py (on generated data). Every window is judged against the history before it:
the median of the same quarter hour of the local week over the previous weeks (a rolling
baseline, so a backfill judges every window that has history, wherever the run starts), with a
robust spread pooled over the hour and floored at Poisson noise. Windows are scored on the
square-root scale against that baseline times the day's level, and runs of low or high windows
are judged on their combined counts, so a long closure on a quiet road adds up to evidence that
no single window carries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

SLOTS_PER_WEEK = 168  # hours of the week
QUARTERS_PER_WEEK = SLOTS_PER_WEEK * 4
QUARTERS_PER_DAY = 96
SUNDAY = 6
MAD_TO_SIGMA = 1.4826  # makes the MAD a consistent estimate of the standard deviation

# Below this coverage a window is an outage: the camera was not watching, whatever it counted.
OUTAGE_COVERAGE = 0.5
# History windows need nearly full coverage to teach the baseline what normal looks like.
BASELINE_COVERAGE = 0.9
BASELINE_WEEKS = 4  # past weeks a window is compared with
MIN_HISTORY = 3  # of those, how many must be usable before the window can be judged

# A window this far out (and changed enough) may be part of a run; the run's total decides.
Z_CANDIDATE = 0.5
Z_DROP = 4.5  # combined evidence of a run of low windows
Z_SPIKE = 5.0
Z_SINGLE = 6.0  # a lone window must be far stronger: one noisy quarter hour is not an incident
MIN_DROP = 0.3  # a drop must also be at least 30% below expected, not just improbable
MIN_SPIKE = 0.5
MIN_RUN_EXPECTED = 20.0  # vehicles over a run: an empty night road carries no evidence either way
MIN_EXPECTED = 8.0  # vehicles per window for the per-window rules (erratic, day level)
FLATLINE_LOG10 = -6.0  # a run of identical counts this improbable is a stuck device
ERRATIC_BLOCK = 12  # windows (three hours at 15 minutes)
Z_ERRATIC = 3.0
LEVEL_WINDOWS = 16  # four hours of fully watched 15-minute windows
LEVEL_REACH = 96  # looked for within the last day; an outage morning leaves the level unknown
LEVEL_BOUNDS = (0.85, 1.15)
LEVEL_PLAUSIBLE = (0.6, 1.6)
MERGE_GAP = 1  # a single calm window inside an incident does not split it in two


# Kinds in priority order: an outage explains anything else in the same window, a stuck
# device explains a "drop", and an erratic stretch explains its own drops and spikes.
NORMAL, OUTAGE, FLATLINE, ERRATIC, DROP, SPIKE = range(6)
KIND_NAMES = {
    OUTAGE: "outage",
    FLATLINE: "flatline",
    ERRATIC: "erratic",
    DROP: "drop",
    SPIKE: "spike",
}
TRAFFIC_KINDS = frozenset({"drop", "spike", "flatline", "erratic"})

# Why a window was not judged: the words operators read in `analytics_run --json`.
SKIP_HISTORY = "history"  # fewer than MIN_HISTORY usable past weeks of this quarter hour
SKIP_UNWATCHED = "unwatched"  # its camera was dark (judged as an outage of that camera)


@dataclass(frozen=True)
class Calendar:
    """Where each window falls in its site's local week: what the baseline is indexed by.

    A public holiday is a Sunday for traffic: its windows take Sunday's slots and are compared
    with past Sundays, and they are kept out of the history of their own weekday, so a holiday
    Monday neither raises 16 drops nor lowers next Monday's baseline.
    """

    week: np.ndarray  # local week number, Monday to Sunday
    slot: np.ndarray  # quarter hour of the local week, 0..671 (a holiday takes Sunday's)
    holiday: np.ndarray  # bool

    @classmethod
    def of(
        cls, starts: Sequence[datetime], tz: ZoneInfo, holidays: Iterable[date] = ()
    ) -> Calendar:
        days_off = set(holidays)
        local = [s.astimezone(tz) for s in starts]
        day = np.array([t.toordinal() for t in local], dtype=np.int64)
        weekday = np.array([t.weekday() for t in local], dtype=np.int64)
        quarter = np.array([t.hour * 4 + t.minute // 15 for t in local], dtype=np.int64)
        holiday = np.array([t.date() in days_off for t in local], dtype=bool)
        week = (day - weekday) // 7  # the ordinal of the week's Monday, in weeks
        slot = np.where(holiday, SUNDAY, weekday) * QUARTERS_PER_DAY + quarter
        return cls(week=week, slot=slot, holiday=holiday)

    @classmethod
    def regular(cls, n: int, first_slot: int = 0) -> Calendar:
        """Consecutive windows on a clock without daylight saving or holidays (benches)."""
        index = np.arange(n) + first_slot
        return cls(
            week=index // QUARTERS_PER_WEEK,
            slot=index % QUARTERS_PER_WEEK,
            holiday=np.zeros(n, dtype=bool),
        )


@dataclass(frozen=True)
class Baseline:
    median: np.ndarray  # per window: its usual volume; NaN where history is short
    sigma: np.ndarray


@dataclass
class Scores:
    expected: np.ndarray
    sigma: np.ndarray
    observed: np.ndarray  # coverage-scaled volume: what a fully analysed window would count
    z: np.ndarray


@dataclass
class Finding:
    """Consecutive anomalous windows [first, last] of one kind, with per-window evidence."""

    kind: str
    first: int
    last: int
    severity: float
    expected: np.ndarray = field(repr=False)
    observed: np.ndarray = field(repr=False)


@dataclass
class Judgement:
    findings: list[Finding]
    judged: np.ndarray  # bool per window: compared with a baseline
    skipped: dict[str, np.ndarray]  # reason -> bool per window


def baseline_rolling(volume: np.ndarray, coverage: np.ndarray, calendar: Calendar) -> Baseline:
    """For every window, the median of the same quarter hour in the BASELINE_WEEKS weeks before
    it, and a floored robust spread.

    The median is per quarter hour, because within a rush hour the first and last quarters
    differ by more than the noise; the spread is pooled over the hour of the week (MAD of past
    values relative to their quarter's median), which gives it four times the samples.
    """
    week = calendar.week - calendar.week.min()
    n_weeks = int(week.max()) + 1 if week.size else 0
    usable = (coverage >= BASELINE_COVERAGE) & np.isfinite(volume) & ~calendar.holiday
    history = np.full((n_weeks, QUARTERS_PER_WEEK), np.nan)
    history[week[usable], calendar.slot[usable]] = volume[usable] / coverage[usable]
    # past[k - 1][w, s]: the value of slot s in week w - k.
    past = np.full((BASELINE_WEEKS, n_weeks, QUARTERS_PER_WEEK), np.nan)
    for k in range(1, BASELINE_WEEKS + 1):
        past[k - 1, k:] = history[: n_weeks - k]
    samples = np.isfinite(past).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        median = np.where(samples >= MIN_HISTORY, _nanmedian(past, axis=0), np.nan)
        ratios = past / np.where(median > 0, median, np.nan)
    # (weeks, hours, 4 lags x 4 quarters): the ratios of one hour of the week, pooled.
    pooled = (
        ratios.reshape(BASELINE_WEEKS, n_weeks, SLOTS_PER_WEEK, 4)
        .transpose(1, 2, 0, 3)
        .reshape(n_weeks, SLOTS_PER_WEEK, BASELINE_WEEKS * 4)
    )
    centre = _nanmedian(pooled, axis=2)
    deviation = _nanmedian(np.abs(pooled - centre[..., None]), axis=2)
    enough = np.isfinite(pooled).sum(axis=2) >= MIN_HISTORY
    relative_spread = np.where(enough, MAD_TO_SIGMA * deviation, np.nan)
    spread = np.repeat(relative_spread, 4, axis=1) * median
    sigma = np.fmax(spread, np.sqrt(np.fmax(median, 0.0)))
    # A median of a few weeks is itself uncertain (its variance is about pi/2 * sigma^2 / n);
    # a new window is judged against that estimate, so both errors count.
    sigma = sigma * np.sqrt(1.0 + (np.pi / 2) / np.fmax(samples, 1))
    return Baseline(
        median=median[week, calendar.slot], sigma=np.fmax(sigma, 1.0)[week, calendar.slot]
    )


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """np.nanmedian without its warning for all-NaN slices (they are expected: no history)."""
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values)
        filled = np.where(finite, values, np.inf)
        ordered = np.sort(filled, axis=axis)
        count = finite.sum(axis=axis)
        low = np.take_along_axis(
            ordered, np.expand_dims(np.maximum((count - 1) // 2, 0), axis), axis=axis
        )
        high = np.take_along_axis(
            ordered, np.expand_dims(np.maximum(count // 2, 0), axis), axis=axis
        )
        middle = (np.squeeze(low, axis) + np.squeeze(high, axis)) / 2
    return np.where(count > 0, middle, np.nan)


def day_level(observed: np.ndarray, expected: np.ndarray, watched_fully: np.ndarray) -> np.ndarray:
    """Today's traffic level against the baseline, from the fully watched windows before each one.

    Rain, school holidays or road works lift or lower a whole day by several percent; judging
    each window against the median week alone would call that day's normal windows anomalous.
    It is the median ratio of the last LEVEL_WINDOWS fully watched windows of the past day,
    bounded so an incident can never be absorbed into "today is just quieter"; where an outage
    left too few of them, the level is unknown and taken as normal.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(watched_fully & (expected >= MIN_EXPECTED), observed / expected, np.nan)
        # Windows far off the baseline are incidents, not the day's level: leave them out, or
        # a closure would lower the bar for the windows after it.
        ratio[(ratio < LEVEL_PLAUSIBLE[0]) | (ratio > LEVEL_PLAUSIBLE[1])] = np.nan
    level = np.ones(ratio.size)
    recent: deque[tuple[int, float]] = deque()
    for i in range(ratio.size):
        while recent and recent[0][0] < i - LEVEL_REACH:
            recent.popleft()
        if len(recent) >= LEVEL_WINDOWS // 2:
            level[i] = float(np.median([r for _, r in recent]))
        if np.isfinite(ratio[i]):
            recent.append((i, float(ratio[i])))
            if len(recent) > LEVEL_WINDOWS:
                recent.popleft()
    return np.clip(level, *LEVEL_BOUNDS)


def window_scores(volume: np.ndarray, coverage: np.ndarray, baseline: Baseline) -> Scores:
    watched = coverage >= OUTAGE_COVERAGE
    observed = np.where(watched, volume / np.where(watched, coverage, 1.0), np.nan)
    level = day_level(observed, baseline.median, coverage >= BASELINE_COVERAGE)
    expected = baseline.median * level
    sigma = baseline.sigma * level
    # Counts are Poisson-like: on the square-root (Anscombe) scale their noise is the same at
    # 3 a.m. and at the rush hour, and both tails are close to normal. The spread beyond
    # Poisson (the baseline's MAD) enters as an overdispersion factor.
    with np.errstate(invalid="ignore"):
        z = 2.0 * (np.sqrt(np.fmax(observed, 0.0) + 0.375) - np.sqrt(expected + 0.375))
        z = z / _dispersion(expected, sigma)
    return Scores(expected=expected, sigma=sigma, observed=observed, z=z)


def _dispersion(expected: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.fmax(sigma / np.sqrt(np.fmax(expected, 1.0)), 1.0)


def _flatline_mask(
    volume: np.ndarray, coverage: np.ndarray, scores: Scores
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of the same non-zero count that honest traffic would almost never repeat.

    A run of zeros is left to the drop rule: a road closed to traffic also counts zero.
    Returns the mask and, per window, -log10 of the run's probability (its severity).
    """
    mask = np.zeros(volume.size, dtype=bool)
    severity = np.zeros(volume.size)
    # Chance of hitting one exact integer under the window's expected spread.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log10(np.clip(1.0 / (np.sqrt(2 * np.pi) * scores.sigma), None, 1.0))
    log_p = np.where(np.isfinite(log_p), log_p, 0.0)
    full = (coverage >= BASELINE_COVERAGE) & (volume > 0)
    start = 0
    while start < volume.size:
        end = start + 1
        if full[start]:
            while end < volume.size and full[end] and volume[end] == volume[start]:
                end += 1
            run_log_p = log_p[start + 1 : end].sum()
            if end - start > 1 and run_log_p <= FLATLINE_LOG10:
                mask[start:end] = True
                severity[start:end] = -run_log_p
        start = end
    return mask, severity


def _erratic_mask(scores: Scores) -> np.ndarray:
    """Stretches where counts swing far above and far below normal within a couple of hours."""
    judged = np.isfinite(scores.z) & (scores.expected >= MIN_EXPECTED)
    high = judged & (scores.z >= Z_ERRATIC)
    low = judged & (scores.z <= -Z_ERRATIC)
    mask = np.zeros(scores.z.size, dtype=bool)
    if scores.z.size < ERRATIC_BLOCK:
        return mask
    highs = np.lib.stride_tricks.sliding_window_view(high, ERRATIC_BLOCK).sum(axis=1)
    lows = np.lib.stride_tricks.sliding_window_view(low, ERRATIC_BLOCK).sum(axis=1)
    # Two of each: one high window right after a drop is traffic catching up, not a fault.
    for block in np.flatnonzero((highs >= 2) & (lows >= 2)):
        extremes = np.flatnonzero((high | low)[block : block + ERRATIC_BLOCK]) + block
        mask[extremes[0] : extremes[-1] + 1] = True
    return mask


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    flagged = np.flatnonzero(mask)
    if flagged.size == 0:
        return []
    return np.split(flagged, np.flatnonzero(np.diff(flagged) > 1) + 1)


def _evident_runs(
    candidate: np.ndarray, scores: Scores, sign: int, threshold: float, min_change: float
) -> tuple[np.ndarray, np.ndarray]:
    """Keep runs of candidate windows whose summed counts are far from their summed expectation.

    Counts add up: a quiet road closed for five hours shows twenty windows each a few vehicles
    short, none damning alone but together unmistakable. The run is judged on its totals (a sum
    of Poisson counts is Poisson, so the square-root score stays honest at small counts, where
    combining per-window scores would not), and must also change by `min_change` as a whole.
    A lone window must reach Z_SINGLE. Returns the mask and each kept window's run score.
    """
    keep = np.zeros(candidate.size, dtype=bool)
    strength = np.zeros(candidate.size)
    dispersion = _dispersion(scores.expected, scores.sigma)
    for run in _runs(candidate):
        observed, expected = scores.observed[run].sum(), scores.expected[run].sum()
        spread = np.sqrt(np.mean(dispersion[run] ** 2))
        z = sign * 2.0 * (np.sqrt(observed + 0.375) - np.sqrt(expected + 0.375)) / spread
        changed = (
            observed <= (1 - min_change) * expected
            if sign < 0
            else observed >= (1 + min_change) * expected
        )
        strong = z >= (threshold if run.size > 1 else Z_SINGLE)
        if changed and strong and expected >= MIN_RUN_EXPECTED:
            keep[run] = True
            strength[run] = z
    return keep, strength


def _dilate(mask: np.ndarray, reach: int) -> np.ndarray:
    """Windows within `reach` windows of a flagged one."""
    near = mask.copy()
    for shift in range(1, reach + 1):
        near[shift:] |= mask[:-shift]
        near[:-shift] |= mask[shift:]
    return near


def classify(
    volume: np.ndarray, coverage: np.ndarray, scores: Scores
) -> tuple[np.ndarray, np.ndarray]:
    """A kind and a severity for every window (NORMAL and 0 when nothing is wrong)."""
    kinds = np.full(volume.size, NORMAL)
    severity = np.zeros(volume.size)
    judged = np.isfinite(scores.z) & np.isfinite(scores.expected) & (scores.expected > 0)
    with np.errstate(invalid="ignore"):
        drop, drop_z = _evident_runs(
            judged
            & (scores.z <= -Z_CANDIDATE)
            & (scores.observed <= (1 - MIN_DROP) * scores.expected),
            scores,
            -1,
            Z_DROP,
            MIN_DROP,
        )
        spike, spike_z = _evident_runs(
            judged
            & (scores.z >= Z_CANDIDATE)
            & (scores.observed >= (1 + MIN_SPIKE) * scores.expected),
            scores,
            1,
            Z_SPIKE,
            MIN_SPIKE,
        )
    flat, flat_severity = _flatline_mask(volume, coverage, scores)
    erratic = _erratic_mask(scores)
    outage = coverage < OUTAGE_COVERAGE
    abs_z = np.nan_to_num(np.abs(scores.z))
    # Lowest priority first, so a more specific diagnosis overwrites it.
    for kind, mask, score in (
        (SPIKE, spike, spike_z),
        (DROP, drop, drop_z),
        (ERRATIC, erratic, abs_z),
        (FLATLINE, flat, flat_severity),
    ):
        kinds[mask] = kind
        severity[mask] = score[mask]
    # An erratic stretch explains the lone highs and lows at its edges too, and a stuck count
    # the odd windows where it began or ended part way through.
    for kind, mask, reach in ((ERRATIC, erratic, ERRATIC_BLOCK), (FLATLINE, flat, 2)):
        kinds[_dilate(mask, reach) & ((kinds == DROP) | (kinds == SPIKE))] = kind
    kinds[outage] = OUTAGE
    severity[outage] = 0.0
    return kinds, severity


def merge(
    kinds: np.ndarray, severity: np.ndarray, scores: Scores, volume: np.ndarray
) -> list[Finding]:
    """Consecutive windows of one kind (allowing MERGE_GAP calm windows) become one finding."""
    findings: list[Finding] = []
    flagged = np.flatnonzero(kinds != NORMAL)
    i = 0
    while i < flagged.size:
        kind = kinds[flagged[i]]
        first = last = flagged[i]
        i += 1
        while (
            i < flagged.size
            and kinds[flagged[i]] == kind
            and (
                flagged[i] - last - 1 <= MERGE_GAP
                and np.all(kinds[last + 1 : flagged[i]] == NORMAL)
            )
        ):
            last = flagged[i]
            i += 1
        span = slice(first, last + 1)
        expected = np.nan_to_num(scores.expected[span])
        observed = np.where(np.isfinite(scores.observed[span]), scores.observed[span], volume[span])
        if kind == OUTAGE:
            severity_value = _outage_severity(scores, span)
        else:
            severity_value = float(severity[span].max())
        findings.append(
            Finding(
                kind=KIND_NAMES[int(kind)],
                first=int(first),
                last=int(last),
                severity=round(severity_value, 2),
                expected=expected,
                observed=np.nan_to_num(observed),
            )
        )
    return findings


def _outage_severity(scores: Scores, span: slice) -> float:
    """How many standard deviations of traffic went unmeasured; at least the alerting default,
    because a dark camera matters to the operator even at night."""
    expected = np.nan_to_num(scores.expected[span]).sum()
    spread = np.sqrt(np.nansum(scores.sigma[span] ** 2)) or 1.0
    return max(5.0, float(expected / spread))


def judge(volume: np.ndarray, coverage: np.ndarray, calendar: Calendar) -> Judgement:
    """Findings in one series of windows, each window against the weeks before it."""
    volume = np.asarray(volume, dtype=float)
    coverage = np.asarray(coverage, dtype=float)
    baseline = baseline_rolling(volume, coverage, calendar)
    scores = window_scores(volume, coverage, baseline)
    kinds, severity = classify(volume, coverage, scores)
    unwatched = coverage < OUTAGE_COVERAGE
    no_history = ~unwatched & ~np.isfinite(baseline.median)
    return Judgement(
        findings=merge(kinds, severity, scores, volume),
        judged=~unwatched & ~no_history,
        skipped={SKIP_HISTORY: no_history, SKIP_UNWATCHED: unwatched},
    )


def detect(volume: np.ndarray, coverage: np.ndarray, calendar: Calendar) -> list[Finding]:
    return judge(volume, coverage, calendar).findings
