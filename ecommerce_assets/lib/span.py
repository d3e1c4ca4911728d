"""The months and weeks the pipeline covers: the settings' bounds where set, else up to the last month landed.

With ``ECOMMERCE_LAST_MONTH`` and ``ECOMMERCE_LAST_WEEK`` unset, the partitions follow the landing zone: the
last month is the latest one landed, and the last week is the one holding that month's last day. That week
may run past the data (2020-04-27 holds Apr 27..May 3): it is built from the days landed, and built again
when the next month lands (the month's first observation is a new data version of the week's input).
A month missing between the first and the last landed one is still an error naming what is landed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ecommerce_assets.lib.settings import Settings, add_month


@dataclass(frozen=True)
class Span:
    first_month: dt.date
    last_month: dt.date
    first_week: dt.date
    last_week: dt.date

    @property
    def weeks_end(self) -> dt.date:
        """Exclusive end of the last weekly partition."""
        return self.last_week + dt.timedelta(days=7)

    @property
    def months_end(self) -> dt.date:
        """Exclusive end of the last monthly source partition (first day of the next month)."""
        return add_month(self.last_month)

    def months_overlapping(self, weeks: Iterable[dt.date]) -> list[dt.date]:
        """First days of the covered months that hold a day of any of the weeks."""
        weeks = list(weeks)
        months, month = [], self.first_month
        while month <= self.last_month:
            following = add_month(month)
            if any(w < following and w + dt.timedelta(days=7) > month for w in weeks):
                months.append(month)
            month = following
        return months


def span_of(settings: Settings, landed: Iterable[dt.date]) -> Span:
    """The span for these settings and these landed months (first days). With nothing landed and no bounds
    set it is the first month alone: the definitions load, and a run says what is missing."""
    within = [m for m in landed if m >= settings.first_month and (settings.last_month is None or m <= settings.last_month)]
    last_month = settings.last_month or max(within, default=settings.first_month)
    last_day = add_month(last_month) - dt.timedelta(days=1)
    last_week = settings.last_week or last_day - dt.timedelta(days=last_day.weekday())
    return Span(settings.first_month, last_month, settings.first_week, max(last_week, settings.first_week))
