"""Kaggle-format synthetic behaviour events, deterministic for a seed.

Volumes follow the real daily series (``daily_event_counts.csv``, 2019-10-01..2020-04-30) times the
scale, so monthly totals are proportional to the real dumps (scale 1.0 = 411.7M rows). Users return
across days and months, sessions view products of a category, some cart and some purchase; brand and
category_code are null where the real data has them null; ~0.34% of rows are exact duplicates; from
December 2019 smartphones move to ``construction.tools.light`` as in the real files.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ecommerce_assets.kaggle import HEADER, file_stem
from ecommerce_assets.raw_split import gzip_text_writer

PRICE_CAP = 2574.07
DUPLICATE_RATE = 0.0034
SMARTPHONE = (2053013555631882655, "electronics.smartphone")
SMARTPHONE_FROM_DECEMBER = (2232732093077520756, "construction.tools.light")
TAXONOMY_SHIFT = dt.date(2019, 12, 1)
CATEGORY_CODES = (
    "electronics.smartphone", "electronics.audio.headphone", "electronics.video.tv", "electronics.clocks",
    "electronics.tablet", "electronics.camera.video", "electronics.audio.subwoofer", "computers.notebook",
    "computers.desktop", "computers.peripherals.printer", "computers.components.videocards",
    "appliances.kitchen.refrigerators", "appliances.kitchen.washer", "appliances.environment.vacuum",
    "appliances.kitchen.kettle", "appliances.environment.water_heater", "appliances.iron",
    "appliances.personal.massager", "apparel.shoes", "apparel.shoes.keds", "apparel.trousers",
    "furniture.living_room.sofa", "furniture.bedroom.bed", "furniture.kitchen.table", "auto.accessories.player",
    "auto.accessories.videoregister", "construction.tools.drill", "construction.tools.saw", "kids.toys",
    "kids.carriage", "sport.bicycle", "accessories.bag", "country_yard.lawn_mower", "medicine.tools.tonometer",
)
TOP_BRANDS = (
    ("apple", 40.0), ("samsung", 30.0), ("xiaomi", 14.0), ("huawei", 5.0), ("lg", 4.0), ("acer", 3.0),
    ("sony", 3.0), ("lucente", 2.5), ("oppo", 2.5), ("lenovo", 2.5), ("bosch", 2.0), ("hp", 2.0),
    ("asus", 2.0), ("philips", 1.5), ("indesit", 1.5), ("shiseido", 1.0), ("nokia", 1.0), ("aqua", 1.0),
)
# Share of a day's sessions starting in each UTC hour (the store's customers are mostly UTC+3).
HOURLY = np.array([1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 5, 4, 3, 2, 1], dtype=float)


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


def daily_counts() -> dict[dt.date, int]:
    text = resources.files("ecommerce_assets.generator").joinpath("daily_event_counts.csv").read_text()
    return {dt.date.fromisoformat(r["event_date"]): int(r["events"]) for r in csv.DictReader(text.splitlines())}


@dataclass(frozen=True)
class Catalog:
    category_ids: np.ndarray  # int64
    category_codes: list[str | None]
    product_ids: np.ndarray  # int64
    product_category: np.ndarray  # index into categories
    product_brand: list[str | None]
    product_price: np.ndarray  # cents
    product_weight: np.ndarray  # popularity, sums to 1
    user_ids: np.ndarray
    user_weight: np.ndarray


def build_catalog(scale: float, seed: int) -> Catalog:
    """Products, categories, brands and users; cardinalities grow slower than volume, as in the real data."""
    rng = np.random.default_rng([seed, 0])
    n_categories = int(np.clip(1325 * scale**0.25, 40, 1325))
    n_products = int(np.clip(386_299 * scale**0.5, 300, 386_299))
    n_users = int(np.clip(15_639_803 * scale, 200, 15_639_803))

    category_ids = 2053013552226107603 + rng.choice(10**9, n_categories, replace=False).astype(np.int64) * 1000
    category_ids[0] = SMARTPHONE[0]
    # Only category 0 is the smartphone category, so the December move is one id changing, as in the real files.
    others = [code for code in CATEGORY_CODES if code != SMARTPHONE[1]]
    codes: list[str | None] = [
        None if rng.random() < 0.35 else others[int(rng.integers(len(others)))] for _ in range(n_categories)
    ]
    codes[0] = SMARTPHONE[1]

    product_ids = np.sort(rng.choice(np.arange(1_000_000, 60_000_000), n_products, replace=False)).astype(np.int64)
    cat_weight = 1.0 / np.arange(1, n_categories + 1) ** 0.9
    product_category = rng.choice(n_categories, n_products, p=cat_weight / cat_weight.sum())
    names = [b for b, _ in TOP_BRANDS] + [f"brand{i:04d}" for i in range(max(50, n_products // 40))]
    brand_weight = np.array([w for _, w in TOP_BRANDS] + [0.05] * (len(names) - len(TOP_BRANDS)))
    brand_index = rng.choice(len(names), n_products, p=brand_weight / brand_weight.sum())
    product_brand: list[str | None] = [
        None if rng.random() < 0.14 else names[i] for i in brand_index
    ]
    prices = np.minimum(np.exp(rng.normal(4.9, 1.15, n_products)), PRICE_CAP)
    prices[rng.random(n_products) < 0.002] = 0.0
    # Phones and laptops sell at the top of the range, which puts apple and samsung first by revenue.
    premium = np.isin(product_category, [0]) | np.isin(brand_index, [0, 1])
    prices[premium] = np.minimum(prices[premium] * 2.5, PRICE_CAP)
    product_weight = 1.0 / np.arange(1, n_products + 1) ** 0.8
    rng.shuffle(product_weight)
    product_weight[premium] *= 3
    user_ids = 512_000_000 + np.sort(rng.choice(100_000_000, n_users, replace=False)).astype(np.int64)
    user_weight = 1.0 / np.arange(1, n_users + 1) ** 0.6
    rng.shuffle(user_weight)
    return Catalog(
        category_ids=category_ids,
        category_codes=codes,
        product_ids=product_ids,
        product_category=product_category,
        product_brand=product_brand,
        product_price=np.round(prices * 100).astype(np.int64),
        product_weight=product_weight / product_weight.sum(),
        user_ids=user_ids,
        user_weight=user_weight / user_weight.sum(),
    )


def _uuid(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = []
    for row in raw:
        h = row.tobytes().hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def day_lines(day: dt.date, n_events: int, catalog: Catalog, seed: int) -> list[str]:
    """The lines of one day, sorted by time, duplicates included."""
    if n_events <= 0:
        return []
    rng = np.random.default_rng([seed, day.toordinal()])
    # Session lengths: median 2, long right tail (a few bot-like sessions).
    lengths = np.ceil(rng.lognormal(0.5, 1.2, n_events)).astype(np.int64)
    lengths[rng.random(n_events) < 0.0005] = 300
    ends = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(ends, n_events)) + 1
    lengths = lengths[:n_sessions]
    lengths[-1] -= ends[n_sessions - 1] - n_events
    session = np.repeat(np.arange(n_sessions), lengths)
    starts_at = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(n_events) - starts_at[session]

    hours = rng.choice(24, n_sessions, p=HOURLY / HOURLY.sum())
    start_sec = hours * 3600 + rng.integers(0, 3600, n_sessions)
    gaps = np.where(position == 0, 0, 1 + rng.exponential(25.0, n_events).astype(np.int64))
    cumulative = np.cumsum(gaps)
    seconds = np.minimum(start_sec[session] + cumulative - cumulative[starts_at[session]], 86_399)

    users = rng.choice(len(catalog.user_ids), n_sessions, p=catalog.user_weight)
    focus = rng.choice(len(catalog.product_ids), n_sessions, p=catalog.product_weight)
    products = np.where(
        rng.random(n_events) < 0.6,
        focus[session],
        rng.choice(len(catalog.product_ids), n_events, p=catalog.product_weight),
    )
    # Funnel: ~12% of sessions cart the focus product, half of those buy it; a few buy without a cart.
    kind = np.zeros(n_events, dtype=np.int8)  # 0 view, 1 cart, 2 purchase
    last = starts_at + lengths - 1
    u = rng.random(n_sessions)
    carting = (u < 0.12) & (lengths >= 2)
    buying = carting & (rng.random(n_sessions) < 0.5)
    direct = (u >= 0.12) & (u < 0.126)
    kind[last[carting & ~buying]] = 1
    kind[last[buying] - 1] = 1
    kind[last[buying]] = 2
    kind[last[direct]] = 2
    products[last[carting | direct]] = focus[carting | direct]
    products[last[buying] - 1] = focus[buying]

    months_since = (day.year - 2019) * 12 + day.month - 10
    price_drift = 1.0 + 0.01 * ((catalog.product_ids[products] + months_since) % 5 - 2)
    prices = np.minimum(np.round(catalog.product_price[products] * price_drift), PRICE_CAP * 100).astype(np.int64)
    sessions = _uuid(rng, n_sessions)
    blank_session = rng.random(n_sessions) < 2e-6
    blank_brand = rng.random(n_events) < 0.005

    shifted = day >= TAXONOMY_SHIFT
    kinds = ("view", "cart", "purchase")
    day_text = day.isoformat()
    lines = []
    for i in np.lexsort((np.arange(n_events), seconds)):
        p = products[i]
        c = catalog.product_category[p]
        cat_id, code = catalog.category_ids[c], catalog.category_codes[c]
        if shifted and c == 0:
            cat_id, code = SMARTPHONE_FROM_DECEMBER
        brand = None if blank_brand[i] else catalog.product_brand[p]
        s = int(seconds[i])
        sid = session[i]
        lines.append(
            f"{day_text} {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d} UTC,{kinds[kind[i]]},"
            f"{catalog.product_ids[p]},{cat_id},{code or ''},{brand or ''},{prices[i] // 100}.{prices[i] % 100:02d},"
            f"{catalog.user_ids[users[sid]]},{'' if blank_session[sid] else sessions[sid]}\n"
        )
    duplicate_at = np.flatnonzero(rng.random(n_events) < DUPLICATE_RATE)
    for offset, i in enumerate(duplicate_at):
        lines.insert(i + offset + 1, lines[i + offset])
    return lines


def month_lines(month: dt.date, scale: float, seed: int, catalog: Catalog) -> Iterator[str]:
    counts = daily_counts()
    day = month
    while day.month == month.month:
        if day not in counts:
            raise ValueError(f"no reference volume for {day}: the generator covers 2019-10..2020-04")
        # Duplicates are extra copies on top of the day's volume, as in the real dumps.
        yield from day_lines(day, round(counts[day] * scale / (1 + DUPLICATE_RATE)), catalog, seed)
        day += dt.timedelta(days=1)


def generate(out_dir: Path, scale: float, months: list[dt.date], seed: int, compress: bool = True) -> list[Path]:
    """Write one Kaggle-named file per month (``2019-Oct.csv.gz``); each file is written aside, then renamed."""
    if scale <= 0:
        raise ValueError(f"scale {scale}: must be positive")
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog = build_catalog(scale, seed)
    written = []
    for month in months:
        target = out_dir / f"{file_stem(month)}.csv{'.gz' if compress else ''}"
        partial = target.with_name(target.name + ".partial")
        with gzip_text_writer(partial) if compress else open(partial, "w", encoding="utf-8", newline="") as handle:
            handle.write(HEADER + "\n")
            handle.writelines(month_lines(month, scale, seed, catalog))
        partial.replace(target)
        written.append(target)
    return written
