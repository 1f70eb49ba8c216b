"""Public holidays of a region, from the `holidays` package and the region's country and
subdivision: traffic on a holiday is a Sunday's, not an incident."""

from __future__ import annotations

from datetime import date

import holidays

from junction.residency.models import Region


def public_holidays(region: Region, first: date, last: date) -> set[date]:
    """The region's public holidays in [first, last]; none for a region without a country."""
    if not region.country:
        return set()
    calendar = holidays.country_holidays(
        region.country, subdiv=region.subdivision or None, years=range(first.year, last.year + 1)
    )
    return {day for day in calendar if first <= day <= last}
