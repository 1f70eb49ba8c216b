"""The period a data page shows, read from its query string (DESIGN.md section 8): a preset
or a start/end of the site's local calendar days, an optional second period to compare, and
the granularity of its windows. Every day here is a local day of the site's IANA zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.http import QueryDict

from junction.analytics.models import Period
from junction.analytics.windows import local_day

PRESETS = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("7d", "Last 7 days"),
    ("28d", "Last 4 weeks"),
    ("month", "This month"),
)
DEFAULT_PRESET = "today"
# Bounded so a page's queries grow with what it shows, never with what is stored.
LONGEST = timedelta(days=92)
GRANULARITIES = ((Period.QUARTER_HOUR, "15 min"), (Period.HOUR, "Hourly"), (Period.DAY, "Daily"))
# The most windows one chart draws: 15-minute windows over weeks are unreadable and slow.
MOST_WINDOWS: dict[str, int] = {Period.QUARTER_HOUR: 14, Period.HOUR: 62, Period.DAY: 92}  # days


class BadParameter(ValueError):
    """A query parameter the page cannot use: the 400 page names it."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter} {reason}")
        self.parameter, self.reason = parameter, reason


@dataclass(frozen=True)
class Span:
    first: date  # local days, both inclusive
    last: date
    preset: str  # "" for a custom start/end
    granularity: str  # a Period value
    zone: ZoneInfo
    compare: date | None = None  # first day of a second period of the same length

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return day_bounds(self.first, self.zone)[0]

    @property
    def end(self) -> datetime:
        return day_bounds(self.last, self.zone)[1]

    def shifted(self, first: date) -> Span:
        """The same number of days from `first` (the compared period)."""
        return Span(
            first=first,
            last=first + timedelta(days=self.days - 1),
            preset="",
            granularity=self.granularity,
            zone=self.zone,
        )

    def query(self, **changes: str) -> str:
        """This span as a query string, with `changes` (the period links and CSV link)."""
        params = QueryDict(mutable=True)
        if self.preset:
            params["period"] = self.preset
        else:
            params["start"], params["end"] = self.first.isoformat(), self.last.isoformat()
        if self.compare:
            params["compare"] = self.compare.isoformat()
        if self.granularity != default_granularity(self.days):
            params["granularity"] = self.granularity
        for key, value in changes.items():
            if value:
                params[key] = value
            else:
                params.pop(key, None)
        return params.urlencode()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day as UTC instants: 23 or 25 hours on DST days."""
    return local_day(datetime(day.year, day.month, day.day, 12, tzinfo=zone), zone)


def default_granularity(days: int) -> str:
    if days <= 2:
        return Period.QUARTER_HOUR
    return Period.HOUR if days <= 14 else Period.DAY


def preset_days(preset: str, today: date) -> tuple[date, date]:
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if preset == "7d":
        return today - timedelta(days=6), today
    if preset == "28d":
        return today - timedelta(days=27), today
    return today.replace(day=1), today  # month: the calendar month so far


def parse_day(query: QueryDict, name: str) -> date | None:
    value = query.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadParameter(name, f"must be a date YYYY-MM-DD, not {value!r}") from None


def span_from(query: QueryDict, zone: ZoneInfo, now: datetime) -> Span:
    """The span a page's query string asks for; `start`/`end` win over `period`."""
    today = now.astimezone(zone).date()
    start, end = parse_day(query, "start"), parse_day(query, "end")
    preset = query.get("period", "")
    if start is None and end is not None:
        raise BadParameter("start", "is needed with end")
    if start is not None:
        first, last, preset = start, end or start, ""
    else:
        if preset and preset not in dict(PRESETS):
            raise BadParameter("period", f"must be one of {', '.join(dict(PRESETS))}")
        preset = preset or DEFAULT_PRESET
        first, last = preset_days(preset, today)
    if last < first:
        raise BadParameter("end", "must not be before start")
    if last - first >= LONGEST:
        raise BadParameter("end", f"must be within {LONGEST.days} days of start")
    days = (last - first).days + 1
    granularity = query.get("granularity", "") or default_granularity(days)
    if granularity not in MOST_WINDOWS:
        raise BadParameter("granularity", f"must be one of {', '.join(MOST_WINDOWS)}")
    if days > MOST_WINDOWS[granularity]:
        raise BadParameter(
            "granularity", f"{granularity} is for periods up to {MOST_WINDOWS[granularity]} days"
        )
    return Span(
        first=first,
        last=last,
        preset=preset,
        granularity=granularity,
        zone=zone,
        compare=parse_day(query, "compare"),
    )
