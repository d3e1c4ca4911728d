"""Weekly partitions (Monday weeks, half-open UTC windows) and the monthly source partitions.

``day_offset=1`` makes weeks start on Monday: Dagster's default (0) is Sunday, which would silently
drop 2019-10-01..10-05 from the first week.

Their end follows the landing zone when the settings leave it open (``lib/span.py``): it is read when the
code location loads, and the landing sensor reloads the location when a month lands beyond it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import dagster as dg

from ecommerce_assets.lib.settings import Settings, current
from ecommerce_assets.lib.span import Span, span_of

# Exactly YYYY-MM-DD: date.fromisoformat also takes 20191007 and 2019-W41-1, which are not partition keys.
_WEEK_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def weekly_partitions(span: Span) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(
        start_date=span.first_week.isoformat(),
        end_date=span.weeks_end.isoformat(),
        day_offset=1,
        timezone="UTC",
    )


def monthly_partitions(span: Span) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(
        start_date=span.first_month.isoformat(),
        end_date=span.months_end.isoformat(),
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


def landed_span(settings: Settings) -> Span:
    """The span of these settings over their lake's landing zone as it is now."""
    from ecommerce_assets.defs.resources import lake_resource

    try:
        landed = lake_resource(settings).lake.months_in_landing()
    except OSError as error:  # an S3 lake out of reach: load anyway; the landing sensor reloads once it lists
        logging.getLogger(__name__).warning("listing the landing zone failed, partitions end with the first month: %s", error)
        landed = []
    return span_of(settings, landed)


# Built once when the code location loads; an invalid first/last week fails here with its variable named.
SPAN = landed_span(current())
weekly_partitions_def = weekly_partitions(SPAN)
monthly_partitions_def = monthly_partitions(SPAN)
