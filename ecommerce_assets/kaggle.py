"""Facts of the Kaggle / REES46 dump format, shared by the generator, the raw split and Spark."""

import datetime as dt

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


def file_stem(month: dt.date) -> str:
    """The dump's name for a month: 2019-10 -> ``2019-Oct`` (fixed names, not the locale's)."""
    return f"{month.year}-{_MONTH_ABBR[month.month - 1]}"
