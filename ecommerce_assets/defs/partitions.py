"""Weekly partitions (Monday weeks, half-open UTC windows) and the monthly source partitions.

``day_offset=1`` makes weeks start on Monday: Dagster's default (0) is Sunday, which would silently
drop 2019-10-01..10-05 from the first week.
"""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg

from ecommerce_assets.lib.settings import Settings, add_month, current

# Exactly YYYY-MM-DD: date.fromisoformat also takes 20191007 and 2019-W41-1, which are not partition keys.
_WEEK_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def weekly_partitions(settings: Settings) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(
        start_date=settings.first_week.isoformat(),
        end_date=settings.weeks_end.isoformat(),
        day_offset=1,
        timezone="UTC",
    )


def monthly_partitions(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(
        start_date=settings.first_month.isoformat(),
        end_date=settings.months_end.isoformat(),
        timezone="UTC",
    )


def week_start(key: str) -> dt.date:
    """Partition key ``YYYY-MM-DD`` (a Monday) -> date; anything else is a clear error."""
    try:
        if not _WEEK_KEY.fullmatch(key):
            raise ValueError
        day = dt.date.fromisoformat(key)
    except (TypeError, ValueError):
        raise ValueError(f"week partition key {key!r} is not a date YYYY-MM-DD") from None
    if day.weekday() != 0:
        raise ValueError(f"week partition key {key!r} is not a Monday")
    return day


def weeks_in_range(first: str, last: str) -> list[dt.date]:
    """Monday dates from partition key ``first`` to ``last`` inclusive."""
    start, end = week_start(first), week_start(last)
    return [start + dt.timedelta(days=7 * i) for i in range((end - start).days // 7 + 1)]


def months_overlapping(weeks: list[dt.date], settings: Settings) -> list[dt.date]:
    """First days of the configured source months that overlap any of the given weeks."""
    months: list[dt.date] = []
    month = settings.first_month
    while month <= settings.last_month:
        nxt = add_month(month)
        if any(w < nxt and w + dt.timedelta(days=7) > month for w in weeks):
            months.append(month)
        month = nxt
    return months


# Built once when the code location loads; an invalid first/last week fails here with its variable named.
weekly_partitions_def = weekly_partitions(current())
monthly_partitions_def = monthly_partitions(current())
