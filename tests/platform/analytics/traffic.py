"""Generated traffic for anomaly tests: realistic weekday/weekend profiles, Poisson counts per
15-minute window, and helpers to inject incidents, events, stuck counts and outages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOWS_PER_DAY = 96
WINDOWS_PER_WEEK = 7 * WINDOWS_PER_DAY


def expected_volume(weeks: int, peak_per_window: float = 120.0) -> np.ndarray:
    """Mean vehicles per 15-minute window, Monday 00:00 first: weekday rush hours at 08:00
    and 17:30, a broad weekend midday, and nights at a few percent of the peak."""
    t = np.arange(weeks * WINDOWS_PER_WEEK)
    hour = (t % WINDOWS_PER_DAY) / 4.0 + 0.125
    weekend = (t // WINDOWS_PER_DAY) % 7 >= 5
    weekday_shape = (
        0.1
        + 0.9 * np.exp(-(((hour - 8.0) / 1.3) ** 2))
        + 0.95 * np.exp(-(((hour - 17.5) / 1.8) ** 2))
        + 0.45 * np.exp(-(((hour - 12.5) / 3.0) ** 2))
    )
    weekend_shape = 0.7 * (0.15 + 0.85 * np.exp(-(((hour - 13.5) / 4.0) ** 2)))
    night = 0.03 + 0.97 / (1 + np.exp(-(hour - 5.5) * 2.5)) / (1 + np.exp((hour - 22.5) * 1.8))
    return np.where(weekend, weekend_shape, weekday_shape) * night * peak_per_window


@dataclass
class Traffic:
    rate: np.ndarray
    volume: np.ndarray
    coverage: np.ndarray

    @property
    def slots(self) -> np.ndarray:
        return np.arange(self.volume.size) % WINDOWS_PER_WEEK


def generate(rng: np.random.Generator, weeks: int, peak_per_window: float = 120.0) -> Traffic:
    rate = expected_volume(weeks, peak_per_window)
    level = np.repeat(np.exp(rng.normal(0.0, 0.05, size=weeks * 7)), WINDOWS_PER_DAY)
    rate = rate * level
    return Traffic(rate=rate, volume=rng.poisson(rate).astype(float), coverage=np.ones(rate.size))


def window(week: int, day: int, hour: float) -> int:
    return week * WINDOWS_PER_WEEK + day * WINDOWS_PER_DAY + int(hour * 4)


def inject_drop(rng, traffic: Traffic, start: int, windows: int, depth: float) -> None:
    span = slice(start, start + windows)
    traffic.volume[span] = rng.poisson(traffic.rate[span] * (1 - depth))


def inject_spike(rng, traffic: Traffic, start: int, windows: int, extra: float) -> None:
    span = slice(start, start + windows)
    traffic.volume[span] = rng.poisson(traffic.rate[span] * (1 + extra))


def inject_flatline(traffic: Traffic, start: int, windows: int) -> None:
    traffic.volume[start : start + windows] = traffic.volume[start]


def inject_outage(traffic: Traffic, start: int, windows: int) -> None:
    traffic.volume[start : start + windows] = 0
    traffic.coverage[start : start + windows] = 0
