"""Date and time fields of API query strings, kept well inside the calendar.

Every read derives times from the ones asked for (the default 24 h before `end`, the site's
local days, whole windows around a range), and near either end of Python's calendar (years 1
and 9999) those overflow. A query date outside these bounds is answered 400 naming the
parameter; no traffic was counted before the unix epoch that bucket starts are aligned to.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from rest_framework import serializers

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # exclusive: a year of room for windows and zones

OUT_OF_RANGE = f"must be from {EARLIEST.date()} up to (not including) {LATEST.date()}"


class QueryDateTimeField(serializers.DateTimeField):
    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value) -> datetime:
        moment = super().to_internal_value(value)
        if not EARLIEST <= moment < LATEST:
            self.fail("out_of_range")
        return moment


class QueryDateField(serializers.DateField):
    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value) -> date:
        day = super().to_internal_value(value)
        if not EARLIEST.date() <= day < LATEST.date():
            self.fail("out_of_range")
        return day
