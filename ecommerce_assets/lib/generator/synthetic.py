"""Kaggle-format synthetic behaviour events, calibrated to the published profile, deterministic for a seed.

How the figures are reproduced (see ``reference.py`` for the targets):

* volume: the real events-per-day series times the scale (spike 2019-11-15..17 and the 2020-02-27 gap
  included); sessions per day = events x the month's sessions-per-event;
* users: each user arrives on one day (their first session is that day) and returns later with a
  heavy-tailed activity weight, so monthly distinct users, growth and month-over-month returns look real;
* funnel: per-month cart and purchase session rates derived from the published event mix and session
  funnel (October under-logs carts), purchases concentrated on users with a buyer propensity;
* catalog: brands with their own price levels and popularity so that apple, samsung, xiaomi lead revenue;
  brand and category_code nulls weighted by traffic, category codes filled in over the winter as in the
  real dumps, the December 2019 smartphone move to ``construction.tools.light``; prices capped at 2574.07;
* exact duplicate copies at the published rate; a few bot-like sessions of hundreds of events.

Every day is generated from its own random stream (seed, day), so output does not depend on how many
worker processes generate it, and any date range can be generated alone.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecommerce_assets.lib.kaggle import HEADER, file_stem

PRICE_CAP = 2574.07
SMARTPHONE = (2053013555631882655, "electronics.smartphone")
SMARTPHONE_FROM_DECEMBER = (2232732093077520756, "construction.tools.light")
TAXONOMY_SHIFT = dt.date(2019, 12, 1)
FIRST_DAY, LAST_DAY = dt.date(2019, 10, 1), dt.date(2020, 4, 30)
CATEGORY_CODES = (
    "electronics.audio.headphone", "electronics.video.tv", "electronics.clocks", "electronics.tablet",
    "electronics.camera.video", "electronics.audio.subwoofer", "computers.notebook", "computers.desktop",
    "computers.peripherals.printer", "computers.components.videocards", "appliances.kitchen.refrigerators",
    "appliances.kitchen.washer", "appliances.environment.vacuum", "appliances.kitchen.kettle",
    "appliances.environment.water_heater", "appliances.iron", "appliances.personal.massager", "apparel.shoes",
    "apparel.shoes.keds", "apparel.trousers", "furniture.living_room.sofa", "furniture.bedroom.bed",
    "furniture.kitchen.table", "auto.accessories.player", "auto.accessories.videoregister",
    "construction.tools.drill", "construction.tools.saw", "kids.toys", "kids.carriage", "sport.bicycle",
    "accessories.bag", "country_yard.lawn_mower", "medicine.tools.tonometer",
)
# Brand: (share of all events, log-price mean, log-price sd). The rest of the traffic goes to a long
# tail of brands (and to products without a brand) at lower prices.
LEAD_BRANDS = {
    "apple": (0.148, 6.71, 0.45),
    "samsung": (0.200, 5.36, 0.80),
    "xiaomi": (0.090, 4.85, 0.60),
    "huawei": (0.030, 5.00, 0.60),
    "lg": (0.020, 5.30, 0.70),
}
TAIL_BRANDS = ("acer", "sony", "lucente", "oppo", "lenovo", "bosch", "hp", "asus", "philips", "indesit",
               "shiseido", "nokia", "aqua", "artel", "midea", "haier", "elenberg", "redmond", "canon", "jbl")
TAIL_PRICE = (4.45, 1.05)
NULL_BRAND_SHARE = 0.137
ZERO_PRICE_SHARE = 0.0016
ALWAYS_NULL_CODE_SHARE = 0.100  # share of traffic in categories that never get a code (April level)
LATE_CODE_SHARE = 0.222  # share of traffic in categories that get their code between December and April
# Share of a day's sessions starting in each UTC hour (the store's customers are mostly UTC+3).
HOURLY = np.array([1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 6, 5, 4, 3, 2, 1], dtype=float)


@dataclass(frozen=True)
class MonthModel:
    """Per-month behaviour, derived in the module docstring's terms from the published figures."""

    sessions_per_event: float
    new_user_share: float  # share of the month's sessions that are a user's first
    cart_rate: float  # share of sessions with a cart
    purchase_given_cart: float
    purchase_without_cart: float  # among sessions without a cart
    purchases_per_session: float
    duplicate_rate: float


# October: carts under-logged, most purchases without a cart event; November: 0.149% duplicates.
_OCT = MonthModel(0.21778, 0.327, 0.05631, 0.459, 0.04478, 1.180, 0.00373)
_NOV = MonthModel(0.20408, 0.150, 0.12352, 0.4412, 0.001855, 1.186, 0.00149)
_LATER = MonthModel(0.22095, 0.1582, 0.12773, 0.4615, 0.002016, 1.282, 0.00373)
CARTS_PER_CART_SESSION = 1.78
ONE_VIEW_SESSIONS = 0.40
VIEW_LOG_SD = 1.45
BOT_SESSION_RATE = 3e-6
CHUNK_ROWS = 400_000
BUYER_SHARE = 0.30
BUYER_ACTIVITY = 3.0
BUYING_SPELL_PROPENSITY = 10.0
CARTING_SPELL_PROPENSITY = 1.6


def month_model(day: dt.date) -> MonthModel:
    if (day.year, day.month) == (2019, 10):
        return _OCT
    if (day.year, day.month) == (2019, 11):
        return _NOV
    return _LATER


def parse_months(spec: str) -> list[dt.date]:
    """``2019-10..2020-04`` or ``2019-10`` -> first days of those months."""
    first, _, last = spec.partition("..")
    try:
        start = dt.date.fromisoformat(first.strip() + "-01")
        end = dt.date.fromisoformat((last or first).strip() + "-01")
    except ValueError:
        raise ValueError(f"months {spec!r}: expected YYYY-MM or YYYY-MM..YYYY-MM") from None
    if end < start:
        raise ValueError(f"months {spec!r}: the range ends before it starts")
    months = []
    while start <= end:
        months.append(start)
        start = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return months


# Months after the dumps' last (a new month landing, as live data would): up to this day.
HORIZON = dt.date(2021, 12, 31)


@lru_cache(maxsize=1)
def daily_counts() -> dict[dt.date, int]:
    """Events per day: the published daily counts, then, after them up to ``HORIZON``, each weekday at its
    mean over the last four published weeks (the weekly pattern carries on at April's level)."""
    text = resources.files("ecommerce_assets.lib.generator").joinpath("daily_event_counts.csv").read_text()
    counts = {dt.date.fromisoformat(r["event_date"]): int(r["events"]) for r in csv.DictReader(text.splitlines())}
    last = max(counts)
    tail = [day for day in counts if day > last - dt.timedelta(days=28)]
    by_weekday = {w: round(sum(counts[d] for d in tail if d.weekday() == w) / 4) for w in range(7)}
    day = last + dt.timedelta(days=1)
    while day <= HORIZON:
        counts[day] = by_weekday[day.weekday()]
        day += dt.timedelta(days=1)
    return counts


def _hash01(values: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) per integer (splitmix64), independent of generation order."""
    with np.errstate(over="ignore"):  # wrapping arithmetic is the point
        x = values.astype(np.uint64) + np.uint64(salt % 2**32) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class Calendar:
    """Per day: events, sessions, and the range of user indexes arriving that day."""

    events: dict[dt.date, int]
    sessions: dict[dt.date, int]
    first_new_user: dict[dt.date, int]
    new_users: dict[dt.date, int]
    users: int


@lru_cache(maxsize=2)
def build_calendar(scale: float) -> Calendar:
    events, sessions, first, new = {}, {}, {}, {}
    arrived = 0
    for day, count in sorted(daily_counts().items()):
        model = month_model(day)
        n = round(count * scale / (1 + model.duplicate_rate))
        s = max(1, round(n * model.sessions_per_event)) if n else 0
        k = round(s * model.new_user_share) if arrived else max(1, round(s * model.new_user_share))
        # After the published days no user arrives: the users, and so every published day's lines, are
        # the same whichever months are generated.
        k = 0 if day > LAST_DAY else k
        events[day], sessions[day], first[day], new[day] = n, s, arrived, k
        arrived += k
    return Calendar(events, sessions, first, new, arrived)


@dataclass(frozen=True)
class Catalog:
    category_ids: np.ndarray
    category_codes: list[str | None]
    category_code_from: np.ndarray  # ordinal day from which a late-coded category carries its code
    product_ids: np.ndarray
    product_category: np.ndarray
    product_brand: list[str | None]
    product_price: np.ndarray  # cents
    product_free: np.ndarray  # may be listed at 0.00
    free_rate: float  # chance that an event of such a product shows 0.00
    product_cumweight: np.ndarray
    user_ids: np.ndarray
    user_cumweight: np.ndarray  # cumulative activity weight in arrival order
    user_buys_from: np.ndarray  # ordinal day a user's buying spell starts (far future: never)
    user_buys_until: np.ndarray


def _take_share(order: np.ndarray, weight: np.ndarray, share: float) -> np.ndarray:
    """Indexes, in ``order``, whose weights add up to ``share`` of the total."""
    cumulative = np.cumsum(weight[order]) / weight.sum()
    return order[: int(np.searchsorted(cumulative, share)) + 1]


@lru_cache(maxsize=2)
def build_catalog(scale: float, seed: int) -> Catalog:
    """Products, categories, brands and users; catalog sizes grow slower than volume, as in the real data."""
    rng = np.random.default_rng([seed, 0])
    n_categories = int(np.clip(1325 * scale**0.25, 60, 1325))
    n_products = int(np.clip(386_299 * scale**0.5, 500, 386_299))

    # Products: popularity (Zipf-like), brand group by traffic share, price by brand.
    popularity = rng.lognormal(0.0, 1.3, n_products)  # heavy-tailed, but no single product dominates a brand
    brand = np.empty(n_products, dtype=object)
    log_price = np.empty(n_products)
    order = rng.permutation(n_products)
    start = 0
    weights = np.zeros(n_products)
    for name, (share, mu, sd) in LEAD_BRANDS.items():
        count = max(3, int(n_products * share * 0.25))
        members = order[start : start + count]
        start += count
        brand[members] = name
        log_price[members] = rng.normal(mu, sd, count)
        weights[members] = popularity[members] / popularity[members].sum() * share
    tail = order[start:]
    n_tail_brands = max(len(TAIL_BRANDS), n_products // 90)
    tail_names = list(TAIL_BRANDS) + [f"brand{i:04d}" for i in range(n_tail_brands - len(TAIL_BRANDS))]
    tail_brand_weight = 1.0 / np.arange(1, n_tail_brands + 1) ** 1.1
    brand[tail] = np.array(tail_names, dtype=object)[
        rng.choice(n_tail_brands, len(tail), p=tail_brand_weight / tail_brand_weight.sum())
    ]
    log_price[tail] = rng.normal(*TAIL_PRICE, len(tail))
    tail_share = 1.0 - sum(s for s, _, _ in LEAD_BRANDS.values())
    weights[tail] = popularity[tail] / popularity[tail].sum() * tail_share
    # Products without a brand: long-tail products carrying the published share of traffic.
    for index in _take_share(rng.permutation(tail), weights, NULL_BRAND_SHARE):
        brand[index] = None
    prices = np.minimum(np.round(np.exp(log_price), 2), PRICE_CAP)
    # Some long-tail products are sometimes listed at 0.00; per event, so the share holds at any scale.
    free = np.zeros(n_products, dtype=bool)
    free[rng.permutation(tail)[: max(1, len(tail) // 5)]] = True
    free_rate = min(1.0, ZERO_PRICE_SHARE / (weights[free].sum() / weights.sum()))
    top_apple = np.flatnonzero(brand == "apple")
    prices[top_apple[: max(1, len(top_apple) // 50)]] = PRICE_CAP  # the cap is reached, as in every real month

    # Categories: the leading brands' phones sit in the smartphone category; the rest spread Zipf-like.
    category_weight = 1.0 / np.arange(1, n_categories) ** 0.8
    category = 1 + rng.choice(n_categories - 1, n_products, p=category_weight / category_weight.sum())
    phones = np.isin(brand, ["apple", "samsung", "xiaomi", "huawei"]) & (rng.random(n_products) < 0.75)
    category[phones] = 0
    category_ids = 2053013552226107603 + rng.choice(10**9, n_categories, replace=False).astype(np.int64) * 1000
    category_ids[0] = SMARTPHONE[0]
    codes: list[str | None] = [CATEGORY_CODES[int(i)] for i in rng.integers(len(CATEGORY_CODES), size=n_categories)]
    codes[0] = SMARTPHONE[1]
    traffic = np.bincount(category, weights=weights, minlength=n_categories)
    # Only categories below 1% of traffic take part, so the shares land close to their targets.
    small = np.flatnonzero(traffic < 0.01 * traffic.sum())
    others = rng.permutation(small[small != 0])
    never = _take_share(others, traffic, ALWAYS_NULL_CODE_SHARE)
    remaining = others[len(never) :]
    late = _take_share(remaining, traffic, LATE_CODE_SHARE)
    code_from = np.full(n_categories, FIRST_DAY.toordinal())
    for index in never:
        codes[index] = None
    # Late-coded categories get their code on a day between 2019-12-01 and 2020-04-01.
    code_from[late] = dt.date(2019, 12, 1).toordinal() + rng.integers(0, 122, len(late))

    calendar = build_calendar(scale)
    k = np.arange(calendar.users, dtype=np.int64)
    step = max(1, 130_000_000 // max(1, calendar.users))
    user_ids = 512_000_000 + k * step + (_hash01(k, seed * 7 + 1) * step).astype(np.int64)
    # A quarter of users have a buying spell of three to seven months starting within two months of arriving:
    # purchases cluster in it, which gives first-purchase cohorts their month-1 repeat buyers.
    buyers = _hash01(k, seed * 7 + 3) < BUYER_SHARE
    arrival_day = np.repeat(
        np.array([d.toordinal() for d in calendar.new_users]), np.array(list(calendar.new_users.values()))
    )
    buys_from = np.where(buyers, arrival_day + (_hash01(k, seed * 7 + 4) * 60).astype(np.int64), 10**7)
    buys_until = buys_from + 90 + (_hash01(k, seed * 7 + 5) * 120).astype(np.int64)
    # Pareto activity: most users come back rarely; buyers come back more often.
    activity = np.minimum((1.0 - _hash01(k, seed * 7 + 2)) ** (-1 / 1.05), 300.0) * np.where(buyers, BUYER_ACTIVITY, 1.0)

    product_ids = np.sort(rng.choice(np.arange(1_000_000, 60_000_000), n_products, replace=False)).astype(np.int64)
    return Catalog(
        category_ids=category_ids,
        category_codes=codes,
        category_code_from=code_from,
        product_ids=product_ids,
        product_category=category,
        product_brand=list(brand),
        product_price=np.round(prices * 100).astype(np.int64),
        product_free=free,
        free_rate=free_rate,
        product_cumweight=np.cumsum(weights / weights.sum()),
        user_ids=user_ids,
        user_cumweight=np.cumsum(activity),
        user_buys_from=buys_from,
        user_buys_until=buys_until,
    )


_CLOCK = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in range(86_400)]
_KINDS = pa.array(["view,", "cart,", "purchase,"])
_CENTS = pa.array([f"{c:02d}" for c in range(100)])
_HEX_PAIRS = np.frombuffer("".join(f"{i:02x}" for i in range(256)).encode(), dtype=np.uint16)  # a byte's 2 digits


def _concat(*pieces: pa.Array | str) -> pa.Array:
    """Row-wise concatenation of string arrays (and constant strings), in Arrow's C++ rather than per-row Python."""
    return pc.binary_join_element_wise(*pieces, "")


def _characters(lines: pa.Array) -> pa.Buffer:
    """A string array's values back to back, without a copy: its character data from its first to last offset."""
    _, offsets, data = lines.buffers()
    first, last = np.frombuffer(offsets, dtype=np.int32)[[lines.offset, lines.offset + len(lines)]].tolist()
    return data.slice(first, last - first)


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Version-4 UUIDs as text, hex-encoded in numpy rather than one Python string per session."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _HEX_PAIRS[raw].view(np.uint8)  # (n, 32) hex digits
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dashes, (start, end) in enumerate(((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))):
        text[:, start + dashes : end + dashes] = hexed[:, start:end]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int64)
    # 64-bit offsets, cast to the 32-bit ``string`` type of the other pieces: the cast raises if they overflow.
    uuids = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    return uuids.cast(pa.string())


def _pick(cumweight: np.ndarray, u: np.ndarray, upto: int | None = None) -> np.ndarray:
    total = cumweight[-1] if upto is None else cumweight[upto - 1]
    # Searching in key order walks the table once instead of jumping around it (the user table is ~15M
    # entries at scale 1): several times faster, same result.
    order = np.argsort(u)
    found = np.empty(len(u), dtype=np.intp)
    found[order] = np.searchsorted(cumweight, u[order] * total, side="right")
    return np.minimum(found, len(cumweight) - 1)


def _leaning(rate: float, propensity: np.ndarray) -> np.ndarray:
    """Per-session probabilities proportional to ``propensity`` whose mean stays ``rate``, despite the cap at 1."""
    if not len(propensity):
        return propensity.astype(float)
    p = rate * propensity / propensity.mean()
    for _ in range(8):
        p = np.minimum(p, 1.0)
        p *= rate * len(p) / max(p.sum(), 1e-12)
    return np.minimum(p, 1.0)


def _match_total(views: np.ndarray, others: np.ndarray, target: int, eligible: np.ndarray, rng: np.random.Generator) -> None:
    """Add or remove single views across sessions until the day has exactly ``target`` events (in place)."""
    for _ in range(100):
        diff = target - int(views.sum() + others.sum())
        if diff == 0:
            return
        if diff > 0:
            np.add.at(views, rng.choice(np.flatnonzero(eligible), diff), 1)
        else:
            candidates = np.flatnonzero(eligible & (views > 1))
            if not len(candidates):
                return
            chosen = rng.choice(candidates, min(-diff, len(candidates)), replace=False)
            views[chosen] -= 1


def day_text(day: dt.date, scale: float, seed: int) -> Iterator[pa.Buffer]:
    """The lines of one day, sorted by time, exact duplicate copies included, as a few large chunks of ASCII."""
    catalog, calendar = build_catalog(scale, seed), build_calendar(scale)
    n_sessions = calendar.sessions[day]
    if not n_sessions:
        return
    model = month_model(day)
    rng = np.random.default_rng([seed, day.toordinal()])

    # Who: the day's new users first, then returning users (arrived up to today) by activity weight.
    first, new = calendar.first_new_user[day], calendar.new_users[day]
    users = np.concatenate([
        np.arange(first, first + new),
        _pick(catalog.user_cumweight, rng.random(n_sessions - new), upto=first + new),
    ])
    spell = (catalog.user_buys_from[users] <= day.toordinal()) & (day.toordinal() <= catalog.user_buys_until[users])

    # What: cart and purchase sessions at the month's rates, both leaning to users in a buying spell.
    carting = rng.random(n_sessions) < _leaning(model.cart_rate, np.where(spell, CARTING_SPELL_PROPENSITY, 1.0))
    buyer = np.where(spell, BUYING_SPELL_PROPENSITY, 1.0)
    p_buy = np.empty(n_sessions)
    p_buy[carting] = _leaning(model.purchase_given_cart, buyer[carting])
    p_buy[~carting] = _leaning(model.purchase_without_cart, buyer[~carting])
    buying = rng.random(n_sessions) < p_buy
    carts = np.where(carting, 1 + rng.poisson(CARTS_PER_CART_SESSION - 1, n_sessions), 0)
    purchases = np.where(buying, 1 + rng.poisson(model.purchases_per_session - 1, n_sessions), 0)
    # Views: 40% single-view sessions, the rest heavy-tailed, sized so the month's mean length holds.
    extra_mean = 1 / model.sessions_per_event - 1 - (carts.mean() + purchases.mean())
    tail_mean = max(extra_mean / (1 - ONE_VIEW_SESSIONS), 0.6)
    mu = math.log(max(tail_mean - 0.5, 0.1)) - VIEW_LOG_SD**2 / 2
    more = np.ceil(rng.lognormal(mu, VIEW_LOG_SD, n_sessions)).astype(np.int64)
    views = 1 + np.where(rng.random(n_sessions) < ONE_VIEW_SESSIONS, 0, np.minimum(more, 400))
    views[(buying | carting) & (rng.random(n_sessions) < 0.02)] = 0  # a few carts/purchases straight from a list
    bots = rng.random(n_sessions) < BOT_SESSION_RATE
    views[bots] = rng.integers(501, 900, int(bots.sum()))
    _match_total(views, carts + purchases, calendar.events[day], ~bots, rng)
    lengths = views + carts + purchases
    n = int(lengths.sum())
    session = np.repeat(np.arange(n_sessions), lengths)
    starts_at = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(n) - starts_at[session]
    # 0 view, 1 cart, 2 purchase: views first, then carts, then purchases.
    kind = (position >= views[session]).astype(np.int8) + (position >= (views + carts)[session]).astype(np.int8)

    # When: session start by hour of day, gaps of about a minute.
    hours = rng.choice(24, n_sessions, p=HOURLY / HOURLY.sum())
    start_sec = hours * 3600 + rng.integers(0, 3600, n_sessions)
    gaps = np.where(position == 0, 0, np.maximum(1, rng.lognormal(3.45, 1.1, n).astype(np.int64)))
    cumulative = np.cumsum(gaps)
    offset = cumulative - cumulative[starts_at[session]]
    # A session that would run past midnight starts earlier instead of piling events onto 23:59:59.
    start_sec = np.clip(np.minimum(start_sec, 86_399 - offset[starts_at + lengths - 1]), 0, None)
    seconds = np.minimum(start_sec[session] + offset, 86_399)

    # Which products: mostly the session's focus product; carts and purchases are of it.
    focus = _pick(catalog.product_cumweight, rng.random(n_sessions))
    products = focus[session]
    browsing = (kind == 0) & (rng.random(n) >= 0.55)
    # Drawn for every row, used for the browsing ones only: the random stream stays what it was.
    products[browsing] = _pick(catalog.product_cumweight, rng.random(n)[browsing])
    # Prices are per product and month; an event of a product that may be free shows 0.00 at a fixed rate.
    months_since = (day.year - 2019) * 12 + day.month - 10
    drift = 1.0 + 0.01 * ((catalog.product_ids + months_since) % 5 - 2)
    cents = np.minimum(np.round(catalog.product_price * drift), round(PRICE_CAP * 100)).astype(np.int64)
    zero = catalog.product_free[products] & (rng.random(n) < catalog.free_rate)
    sessions = _uuids(rng, n_sessions)
    blank_session = rng.random(n_sessions) < 1e-6
    copies = 1 + (rng.random(n) < model.duplicate_rate)
    del position, gaps, cumulative, offset  # only what the lines need stays in memory

    # Text tables built once per day; a line is four pieces taken from them by index: per second
    # "date time UTC,", per event type "view,", per product "id,category_id,code,brand,price," (free
    # products listed a second time at 0.00), per session "user,session\n".
    today = day.toordinal()
    category_text = []
    for c, cid in enumerate(catalog.category_ids.tolist()):
        code = catalog.category_codes[c] if today >= catalog.category_code_from[c] else None
        if c == 0 and day >= TAXONOMY_SHIFT:
            cid, code = SMARTPHONE_FROM_DECEMBER
        category_text.append(f"{cid},{code or ''}")
    prefix = day.isoformat()
    clock_text = pa.array([f"{prefix} {clock} UTC," for clock in _CLOCK])
    free = np.flatnonzero(catalog.product_free)
    listed = np.concatenate([np.arange(len(catalog.product_ids)), free])
    listed_cents = np.concatenate([cents, np.zeros(len(free), dtype=np.int64)])
    product_text = _concat(
        pc.cast(pa.array(catalog.product_ids[listed]), pa.string()), ",",
        pa.array(category_text).take(catalog.product_category[listed]), ",",
        pa.array(catalog.product_brand).fill_null("").take(listed), ",",
        pc.cast(pa.array(listed_cents // 100), pa.string()), ".", _CENTS.take(listed_cents % 100), ",",
    )
    free_row = np.cumsum(catalog.product_free) - 1 + len(catalog.product_ids)  # a free product's 0.00 entry
    listing = np.where(zero, free_row[products], products)
    session_text = _concat(
        pc.cast(pa.array(catalog.user_ids[users]), pa.string()), ",", pc.if_else(blank_session, "", sessions), "\n"
    )
    del products, zero, sessions, blank_session

    # Sorted by time, ties in generation order: a stable sort as two radix passes (numpy radix-sorts 16-bit
    # keys; seconds < 2**17), ~2.5x faster than a comparison sort. Exact duplicate copies sit right after
    # their original, as in the dumps.
    by_time = np.argsort((seconds & 0xFFFF).astype(np.uint16), kind="stable")
    by_time = by_time[np.argsort((seconds[by_time] >> 16).astype(np.uint8), kind="stable")]
    order = np.repeat(by_time, copies[by_time])
    del by_time, copies
    # Built a slice at a time, so a busy full-scale day never holds all its lines as text at once.
    for lo in range(0, len(order), CHUNK_ROWS):
        part = order[lo : lo + CHUNK_ROWS]
        lines = _concat(
            clock_text.take(seconds[part]), _KINDS.take(kind[part]), product_text.take(listing[part]),
            session_text.take(session[part]),
        )
        yield _characters(lines)


def _write_day(args: tuple[dt.date, float, int, bool, Path]) -> Path:
    """One day into its own file, gzip-compressed as its own member when asked (members concatenate into one file).

    A file rather than bytes returned through the pool: unpickling ~150 MB a day from the pipe cost the
    parent ~0.9 CPU seconds a day (a tenth of generating it) on the cores the workers need.
    """
    day, scale, seed, compress, path = args
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container, no name or time: same bytes every run
    with open(path, "wb") as handle:
        for chunk in day_text(day, scale, seed):
            handle.write(packer.compress(chunk) if compress else chunk)
        if compress:
            handle.write(packer.flush())
    return path


def _gzip_header_only(text: str) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    return packer.compress(text.encode()) + packer.flush()


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


# Events below which ``generate`` uses no worker processes unless asked to.
IN_PROCESS_BELOW = 5_000_000


def generate(
    out_dir: Path,
    scale: float,
    months: list[dt.date] | None = None,
    seed: int = 7,
    compress: bool = True,
    workers: int | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write one Kaggle-named file per month (``2019-Oct.csv.gz``) holding the requested days.

    Days are generated in parallel (one process per core by default, none below ``IN_PROCESS_BELOW``
    events), each into a scratch file in a hidden
    folder of ``out_dir`` (removed at the end), and appended in order; a month's file is written under a
    ``.partial`` name and renamed when complete, so an interrupted run leaves no file that looks finished.
    """
    if scale <= 0:
        raise ValueError(f"scale {scale}: must be positive")
    if months:
        days = [d for m in months for d in days_between(m, dt.date(m.year + m.month // 12, m.month % 12 + 1, 1) - dt.timedelta(days=1))]
    else:
        days = days_between(start or FIRST_DAY, end or LAST_DAY)
    outside = [d for d in days if d not in daily_counts()]
    if outside:
        raise ValueError(f"no reference volume for {outside[0]}: the generator covers {FIRST_DAY}..{HORIZON}")
    out_dir.mkdir(parents=True, exist_ok=True)
    by_month: dict[tuple[int, int], list[dt.date]] = {}
    for d in days:
        by_month.setdefault((d.year, d.month), []).append(d)
    total = sum(build_calendar(scale).events[d] for d in days)
    # Small outputs (tests, the demo) are written in this process: a pool's start and its workers' catalogs
    # cost more than the days; and a pool started beside a Spark gateway in a test worker hung once.
    workers = workers or ((os.cpu_count() or 1) if total >= IN_PROCESS_BELOW else 1)
    done = 0
    written = []
    # One queue of days over all months, so no worker idles at a month's end; the parent only appends
    # the day files, as they are finished in order, to their month's file.
    with (
        tempfile.TemporaryDirectory(dir=out_dir, prefix=".generating-") as scratch,
        # Workers come from a fork server, not a fork of this process: a fork copies the locks other
        # threads hold (Arrow's pool, a Spark gateway, a test runner's), and a worker could wait on one
        # forever. Each builds the catalog once (seconds at scale 1), before its first day.
        multiprocessing.get_context("forkserver").Pool(workers, initializer=build_catalog, initargs=(scale, seed))
        if workers > 1 else contextlib.nullcontext() as pool,
    ):
        jobs = [(d, scale, seed, compress, Path(scratch) / f"{d}.part") for ds in by_month.values() for d in ds]
        finished = pool.imap(_write_day, jobs) if pool else map(_write_day, jobs)
        for (year, month), month_days in by_month.items():
            target = out_dir / f"{file_stem(dt.date(year, month, 1))}.csv{'.gz' if compress else ''}"
            partial = target.with_name(target.name + ".partial")
            with open(partial, "wb") as handle:
                handle.write(_gzip_header_only(HEADER + "\n") if compress else (HEADER + "\n").encode())
                for day in month_days:
                    path = next(finished)  # this day's file, once written
                    with open(path, "rb") as part:
                        shutil.copyfileobj(part, handle, 1 << 20)
                    path.unlink()
                    done += build_calendar(scale).events[day]
                    if progress:
                        _progress(done, total, day)
            partial.replace(target)
            written.append(target)
    if progress:
        print(file=sys.stderr)
    return written


def _progress(done: int, total: int, day: dt.date) -> None:
    width = 40
    filled = int(width * done / total) if total else width
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done / max(total, 1):6.1%} {day}", end="", file=sys.stderr)
