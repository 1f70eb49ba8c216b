"""Where a region or a site is, as local time and public holidays need it: an IANA time zone,
and a holiday calendar named by country (ISO 3166-1 alpha-2) and subdivision.

One validator each, used by the models (so services, commands and admin forms all check the
same way through `full_clean`).
"""

from __future__ import annotations

import zoneinfo
from functools import cache

import holidays
from django.core.exceptions import ValidationError


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def holiday_calendars() -> dict[str, list[str]]:
    """Country code -> its subdivision codes, for every country `holidays` has a calendar of."""
    return {
        code: subdivisions
        for code, subdivisions in holidays.list_supported_countries(include_aliases=False).items()
        if len(code) == 2
    }


def time_zone_check(name: str) -> None:
    """An IANA time zone name, as zoneinfo knows it (Europe/Paris, America/New_York, UTC)."""
    if name not in _time_zones():
        raise ValidationError(
            f"{name!r} is not an IANA time zone name (for example Europe/Paris, "
            "America/New_York or UTC)",
            code="time_zone",
        )


def holiday_area_check(*, country: str, subdivision: str) -> None:
    """A country with a holiday calendar, and a subdivision of it (both may be blank: no
    calendar; a subdivision needs its country). Errors name the field they belong to."""
    if not country:
        if subdivision:
            raise ValidationError(
                {"subdivision": f"subdivision {subdivision!r} needs a country"}, code="country"
            )
        return
    calendars = holiday_calendars()
    if country not in calendars:
        raise ValidationError(
            {
                "country": (
                    f"{country!r} is not an ISO 3166-1 alpha-2 country code with a holiday "
                    "calendar (for example FR, IE or US, in capitals)"
                )
            },
            code="country",
        )
    if subdivision and subdivision not in calendars[country]:
        valid = ", ".join(calendars[country]) or f"none: {country} has one national calendar"
        raise ValidationError(
            {
                "subdivision": (
                    f"{subdivision!r} is not a subdivision of {country}; "
                    f"valid subdivisions: {valid}"
                )
            },
            code="subdivision",
        )
