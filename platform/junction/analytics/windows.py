"""Window arithmetic for rollups: hours, quarter hours and a site's local days.

Daily windows follow the site's own calendar (traffic engineers read a Tuesday as the local
Tuesday), so a day may last 23 or 25 hours around daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_quarter(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def local_day(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The [start, end) of the local calendar day holding `moment`, as UTC instants."""
    local = moment.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    following = midnight.date() + timedelta(days=1)
    next_midnight = datetime(following.year, following.month, following.day, tzinfo=tz)
    return midnight.astimezone(UTC), next_midnight.astimezone(UTC)


def days_touching(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    days = []
    day_start, day_end = local_day(start, tz)
    while day_start < end:
        days.append((day_start, day_end))
        day_start, day_end = local_day(day_end, tz)
    return days


def local_hours_touching(
    start: datetime, end: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The hours of the site's clock overlapping [start, end), as UTC instants.

    In a zone half an hour off UTC (India, Newfoundland) a local hour runs from :30 to :30 UTC,
    which is how counts per hour are cut for its staff.
    """
    moment = start.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    hours = []
    while moment < end:
        hours.append((moment, moment + HOUR))
        moment += HOUR
    return hours


def hour_ranges(hours: Iterable[datetime]) -> Iterator[tuple[datetime, datetime]]:
    """Collapse hour starts into contiguous [start, end) ranges, so a long backlog is one query."""
    ordered = sorted(set(hours))
    if not ordered:
        return
    range_start = previous = ordered[0]
    for hour in ordered[1:]:
        if hour != previous + HOUR:
            yield range_start, previous + HOUR
            range_start = hour
        previous = hour
    yield range_start, previous + HOUR
