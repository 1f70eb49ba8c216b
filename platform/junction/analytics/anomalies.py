"""Anomaly detection on regular series of window volumes: pure numpy, no database.

The same functions run inside the region's worker (on 15-minute rollups) and in
bench/anomalies.py (on generated data). The baseline is robust and per hour of the week: the
median of past weeks (resolved to quarter hours) and the median absolute deviation pooled over
the hour, floored at Poisson noise and one vehicle so a quiet night does not turn every extra
car into an anomaly. Windows are scored on the square-root scale against that baseline times
the day's level; runs of low or high windows are judged on their combined evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SLOTS_PER_WEEK = 168  # hours of the week
QUARTERS_PER_WEEK = SLOTS_PER_WEEK * 4
MAD_TO_SIGMA = 1.4826  # makes the MAD a consistent estimate of the standard deviation

# Below this coverage a window is an outage: the camera was not watching, whatever it counted.
OUTAGE_COVERAGE = 0.5
# History windows need nearly full coverage to teach the baseline what normal looks like.
BASELINE_COVERAGE = 0.9
MIN_HISTORY = 3  # past weeks of a quarter hour before that quarter hour can be judged

Z_CANDIDATE = 2.5  # a window this far out may be part of an anomaly; its run decides
Z_DROP = 4.5
MIN_DROP = 0.3  # a drop must also be at least 30% below expected, not just improbable
Z_SPIKE = 5.0
MIN_SPIKE = 0.5
MIN_EXPECTED = 8.0  # vehicles per window: quieter windows carry too little evidence to flag
FLATLINE_LOG10 = -6.0  # a run of identical counts this improbable is a stuck device
ERRATIC_BLOCK = 12  # windows (three hours at 15 minutes)
Z_ERRATIC = 3.0
LEVEL_WINDOWS = 16  # four hours of 15-minute windows
LEVEL_BOUNDS = (0.85, 1.15)
LEVEL_PLAUSIBLE = (0.6, 1.6)
MERGE_GAP = 1  # a single calm window inside an incident does not split it in two


# Kinds in priority order: an outage explains anything else in the same window, a stuck
# device explains a "drop", and an erratic stretch explains its own drops and spikes.
NORMAL, OUTAGE, FLATLINE, ERRATIC, DROP, SPIKE = range(6)
KIND_NAMES = {OUTAGE: "outage", FLATLINE: "flatline", ERRATIC: "erratic", DROP: "drop",
              SPIKE: "spike"}


@dataclass(frozen=True)
class Baseline:
    median: np.ndarray  # per quarter hour of the week, volume per window; NaN if history is short
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


def baseline_fit(volume: np.ndarray, coverage: np.ndarray, slots: np.ndarray) -> Baseline:
    """Median of past weeks for each quarter hour of the week, and a floored robust spread.

    `slots` are quarter-of-week indices (0..671). The median is per quarter hour, because
    within a rush hour the first and last quarters differ by more than the noise; the spread is
    pooled over the hour of the week (MAD of the values relative to their quarter's median),
    which gives it four times the samples.
    """
    usable = (coverage >= BASELINE_COVERAGE) & np.isfinite(volume)
    scaled = np.where(usable, volume / np.where(usable, coverage, 1.0), np.nan)
    median = np.full(QUARTERS_PER_WEEK, np.nan)
    order = np.argsort(slots, kind="stable")
    bounds = np.searchsorted(slots[order], np.arange(QUARTERS_PER_WEEK + 1))
    groups = [scaled[order[bounds[q]:bounds[q + 1]]] for q in range(QUARTERS_PER_WEEK)]
    samples = np.zeros(QUARTERS_PER_WEEK)
    for slot, values in enumerate(groups):
        values = values[np.isfinite(values)]
        samples[slot] = values.size
        if values.size >= MIN_HISTORY:
            median[slot] = np.median(values)
    relative_spread = np.full(SLOTS_PER_WEEK, np.nan)
    for hour in range(SLOTS_PER_WEEK):
        quarters = range(hour * 4, hour * 4 + 4)
        ratios = np.concatenate([
            groups[q][np.isfinite(groups[q])] / median[q] for q in quarters
            if np.isfinite(median[q]) and median[q] > 0
        ] or [np.empty(0)])
        if ratios.size >= MIN_HISTORY:
            relative_spread[hour] = MAD_TO_SIGMA * np.median(np.abs(ratios - np.median(ratios)))
    spread = relative_spread[np.arange(QUARTERS_PER_WEEK) // 4] * median
    sigma = np.fmax(spread, np.sqrt(np.fmax(median, 0.0)))
    # A median of four weeks is itself uncertain (its variance is about pi/2 * sigma^2 / n);
    # a new window is judged against that estimate, so both errors count.
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = sigma * np.sqrt(1.0 + (np.pi / 2) / np.fmax(samples, 1.0))
    return Baseline(median=median, sigma=np.fmax(sigma, 1.0))


def day_level(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Today's traffic level against the baseline, from the few hours before each window.

    Rain, school holidays or road works lift or lower a whole day by several percent; judging
    each window against the median week alone would call that day's normal windows anomalous.
    The median ratio of the previous LEVEL_WINDOWS windows, bounded so that an incident itself
    can never be absorbed into "today is just quieter".
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(expected >= MIN_EXPECTED, observed / expected, np.nan)
        # Windows far off the baseline are incidents, not the day's level: leave them out, or
        # a closure would lower the bar for the windows after it.
        ratio[(ratio < LEVEL_PLAUSIBLE[0]) | (ratio > LEVEL_PLAUSIBLE[1])] = np.nan
    padded = np.concatenate([np.full(LEVEL_WINDOWS, np.nan), ratio[:-1] if ratio.size else ratio])
    recent = np.lib.stride_tricks.sliding_window_view(padded, LEVEL_WINDOWS)[:ratio.size]
    enough = np.isfinite(recent).sum(axis=1) >= LEVEL_WINDOWS // 2
    level = np.ones(ratio.size)
    if enough.any():
        level[enough] = np.nanmedian(recent[enough], axis=1)
    return np.clip(level, *LEVEL_BOUNDS)


def window_scores(volume: np.ndarray, coverage: np.ndarray, slots: np.ndarray,
                  baseline: Baseline) -> Scores:
    typical = baseline.median[slots]
    watched = coverage >= OUTAGE_COVERAGE
    observed = np.where(watched, volume / np.where(watched, coverage, 1.0), np.nan)
    level = day_level(observed, typical)
    expected = typical * level
    sigma = baseline.sigma[slots] * level
    # Counts are Poisson-like: on the square-root (Anscombe) scale their noise is the same at
    # 3 a.m. and at the rush hour, and both tails are close to normal. The spread beyond
    # Poisson (the baseline's MAD) enters as an overdispersion factor.
    dispersion = sigma / np.sqrt(np.fmax(expected, 1.0))
    with np.errstate(invalid="ignore"):
        z = 2.0 * (np.sqrt(np.fmax(observed, 0.0) + 0.375) - np.sqrt(expected + 0.375))
        z = z / np.fmax(dispersion, 1.0)
    return Scores(expected=expected, sigma=sigma, observed=observed, z=z)


def _flatline_mask(volume: np.ndarray, coverage: np.ndarray, scores: Scores) -> tuple[
        np.ndarray, np.ndarray]:
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
            run_log_p = log_p[start + 1:end].sum()
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
        extremes = np.flatnonzero((high | low)[block:block + ERRATIC_BLOCK]) + block
        mask[extremes[0]:extremes[-1] + 1] = True
    return mask


def _strong_runs(candidate: np.ndarray, z: np.ndarray, threshold: float) -> np.ndarray:
    """Keep runs of candidate windows whose combined evidence (Stouffer: sum z / sqrt n) passes.

    A quiet street closed for an hour shows four moderately low windows, none damning alone
    but together unmistakable; a single noisy window at the same level is not enough.
    """
    keep = np.zeros(candidate.size, dtype=bool)
    flagged = np.flatnonzero(candidate)
    if flagged.size == 0:
        return keep
    breaks = np.flatnonzero(np.diff(flagged) > 1) + 1
    for run in np.split(flagged, breaks):
        if z[run].sum() / np.sqrt(run.size) >= threshold:
            keep[run] = True
    return keep


def _dilate(mask: np.ndarray, reach: int) -> np.ndarray:
    """Windows within `reach` windows of a flagged one."""
    near = mask.copy()
    for shift in range(1, reach + 1):
        near[shift:] |= mask[:-shift]
        near[:-shift] |= mask[shift:]
    return near


def classify(volume: np.ndarray, coverage: np.ndarray, scores: Scores) -> tuple[
        np.ndarray, np.ndarray]:
    """A kind and a severity for every window (NORMAL and 0 when nothing is wrong)."""
    kinds = np.full(volume.size, NORMAL)
    severity = np.zeros(volume.size)
    judged = np.isfinite(scores.z) & (scores.expected >= MIN_EXPECTED)
    with np.errstate(invalid="ignore"):
        drop = _strong_runs(judged & (scores.z <= -Z_CANDIDATE) & (
            scores.observed <= (1 - MIN_DROP) * scores.expected), -scores.z, Z_DROP)
        spike = _strong_runs(judged & (scores.z >= Z_CANDIDATE) & (
            scores.observed >= (1 + MIN_SPIKE) * scores.expected), scores.z, Z_SPIKE)
    flat, flat_severity = _flatline_mask(volume, coverage, scores)
    erratic = _erratic_mask(scores)
    outage = coverage < OUTAGE_COVERAGE
    abs_z = np.nan_to_num(np.abs(scores.z))
    # Lowest priority first, so a more specific diagnosis overwrites it.
    for kind, mask, score in ((SPIKE, spike, abs_z), (DROP, drop, abs_z),
                              (ERRATIC, erratic, abs_z), (FLATLINE, flat, flat_severity)):
        kinds[mask] = kind
        severity[mask] = score[mask]
    # An erratic stretch explains the lone highs and lows at its edges too, and a stuck count
    # the odd windows where it began or ended part way through.
    for kind, mask, reach in ((ERRATIC, erratic, ERRATIC_BLOCK), (FLATLINE, flat, 2)):
        kinds[_dilate(mask, reach) & ((kinds == DROP) | (kinds == SPIKE))] = kind
    kinds[outage] = OUTAGE
    severity[outage] = 0.0
    return kinds, severity


def merge(kinds: np.ndarray, severity: np.ndarray, scores: Scores,
          volume: np.ndarray) -> list[Finding]:
    """Consecutive windows of one kind (allowing MERGE_GAP calm windows) become one finding."""
    findings: list[Finding] = []
    flagged = np.flatnonzero(kinds != NORMAL)
    i = 0
    while i < flagged.size:
        kind = kinds[flagged[i]]
        first = last = flagged[i]
        i += 1
        while i < flagged.size and kinds[flagged[i]] == kind and (
                flagged[i] - last - 1 <= MERGE_GAP
                and np.all(kinds[last + 1:flagged[i]] == NORMAL)):
            last = flagged[i]
            i += 1
        span = slice(first, last + 1)
        expected = np.nan_to_num(scores.expected[span])
        observed = np.where(np.isfinite(scores.observed[span]), scores.observed[span],
                            volume[span])
        if kind == OUTAGE:
            severity_value = _outage_severity(scores, span)
        else:
            severity_value = float(severity[span].max())
        findings.append(Finding(kind=KIND_NAMES[int(kind)], first=int(first), last=int(last),
                                severity=round(severity_value, 2), expected=expected,
                                observed=np.nan_to_num(observed)))
    return findings


def _outage_severity(scores: Scores, span: slice) -> float:
    """How many standard deviations of traffic went unmeasured; at least the alerting default,
    because a dark camera matters to the operator even at night."""
    expected = np.nan_to_num(scores.expected[span]).sum()
    spread = np.sqrt(np.nansum(scores.sigma[span] ** 2)) or 1.0
    return max(5.0, float(expected / spread))


def detect(volume: np.ndarray, coverage: np.ndarray, slots: np.ndarray,
           baseline: Baseline) -> list[Finding]:
    """Findings in one series of windows, judged against a baseline fitted on earlier weeks."""
    volume = np.asarray(volume, dtype=float)
    coverage = np.asarray(coverage, dtype=float)
    scores = window_scores(volume, coverage, slots, baseline)
    kinds, severity = classify(volume, coverage, scores)
    return merge(kinds, severity, scores, volume)
