"""What the analyser hands to the bucketing stage for each analysed frame.

These are the only things that leave detect -> identity -> count: anonymous events with a class
and a timestamp. No boxes, track ids or trajectories cross this boundary (DESIGN.md section 2).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CountEvent:
    """One object crossed a counter line (direction "in"/"out") or completed a movement (None)."""

    counter: str
    direction: str | None
    cls: str
    t: float
    # Only set on calibrated sites; goes into the bucket's speed histogram, never stored alone.
    speed_kmh: float | None = None


@dataclass(frozen=True)
class ZoneOccupancy:
    """Objects of one class inside a zone on one analysed frame (for bucket mean and max)."""

    zone: str
    cls: str
    objects: int
    t: float


@dataclass(frozen=True)
class DwellEvent:
    """An object left a zone (or its track ended) after `seconds` inside it."""

    zone: str
    cls: str
    seconds: float
    t: float


@dataclass(frozen=True)
class FrameResult:
    """Everything one analysed frame produced."""

    t: float
    events: tuple[CountEvent, ...] = ()
    occupancy: tuple[ZoneOccupancy, ...] = ()
    dwell: tuple[DwellEvent, ...] = ()
