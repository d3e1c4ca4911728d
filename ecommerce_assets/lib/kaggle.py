"""Facts of the Kaggle / REES46 dump format, shared by the generator, the raw split and Spark."""

import datetime as dt
import re

COLUMNS = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
HEADER = ",".join(COLUMNS)
# The dumps' event types; remove_from_cart is accepted though absent from the real dumps.
EVENT_TYPES = ("view", "cart", "purchase", "remove_from_cart")

_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DUMP_NAME = re.compile(rf"(?P<stem>[0-9]{{4}}-(?:{'|'.join(_MONTH_ABBR)}))\.csv(?:\.gz)?")


def file_stem(month: dt.date) -> str:
    """The dump's name for a month: 2019-10 -> ``2019-Oct`` (fixed names, not the locale's)."""
    return f"{month.year}-{_MONTH_ABBR[month.month - 1]}"


def month_of_stem(stem: str) -> dt.date:
    """The inverse of :func:`file_stem`: ``2019-Oct`` -> 2019-10-01."""
    year, _, name = stem.partition("-")
    return dt.date(int(year), _MONTH_ABBR.index(name) + 1, 1)


def month_of_name(name: str) -> dt.date | None:
    """The month of a dump's file name (``2019-Oct.csv``, ``2019-Oct.csv.gz``); None for any other name."""
    match = _DUMP_NAME.fullmatch(name)
    return month_of_stem(match["stem"]) if match else None


def weeks_of_month(month: dt.date) -> list[dt.date]:
    """The Monday weeks that hold a day of the month (the first may start in the month before)."""
    following = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    week = month - dt.timedelta(days=month.weekday())
    weeks = []
    while week < following:
        weeks.append(week)
        week += dt.timedelta(days=7)
    return weeks
