"""Profile any set of Kaggle-format files (real or generated) and compare it with the published figures.

DuckDB reads the files once into a typed temporary table (streaming the CSV/gzip), then every figure is
one aggregate query; 10M rows take seconds, not minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ecommerce_assets.lib.generator.reference import FIGURES, MONTH_ROWS, Figure
from ecommerce_assets.lib.generator.synthetic import daily_counts

_MONTHS = tuple(MONTH_ROWS)
_LATE_MONTHS = ("2020-01", "2020-02", "2020-03", "2020-04")


def _load(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    con.execute(
        """
        create temp table src as
        select * from read_csv($files, header = true, delim = ',', quote = '', escape = '', auto_detect = false,
            columns = {'event_time': 'varchar', 'event_type': 'varchar', 'product_id': 'varchar',
                       'category_id': 'varchar', 'category_code': 'varchar', 'brand': 'varchar',
                       'price': 'varchar', 'user_id': 'varchar', 'user_session': 'varchar'})
        """,
        {"files": [str(f) for f in files]},
    )
    con.execute(
        """
        create temp table ev as
        select
            left(event_time, 7) as month,
            cast(left(event_time, 10) as date) as day,
            cast(left(event_time, 19) as timestamp) as ts,
            event_type,
            cast(product_id as bigint) as product_id,
            cast(category_id as bigint) as category_id,
            category_code,
            brand,
            price as price_text,
            cast(price as decimal(12, 2)) as price,
            cast(user_id as bigint) as user_id,
            user_session
        from src
        """
    )


def profile_files(files: Iterable[Path], threads: int | None = None) -> dict[str, float]:
    """Every profile figure, keyed as in :mod:`reference` (``name`` over all files, ``name[YYYY-MM]`` per month)."""
    files = sorted(Path(f) for f in files)
    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    _load(con, files)
    out: dict[str, float] = {}

    def one(sql: str) -> tuple:
        return con.execute(sql).fetchone()

    # Per-month figures; the same expressions over all rows give the unsuffixed figures.
    per_month = """
        count(*) as rows,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'cart') as carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        count(*) filter (where category_code is null) as null_code,
        count(*) filter (where brand is null) as null_brand,
        count(*) filter (where user_session is null) as null_session,
        count(distinct user_id) as users,
        count(distinct user_session) as sessions,
        count(distinct product_id) as products,
        count(distinct category_id) as categories,
        count(distinct brand) as brands,
        avg(price) as price_mean,
        count(*) filter (where price = 0) as zero_price,
        max(price) as price_max,
        count(*) filter (where regexp_full_match(price_text, '[0-9]+\\.[0-9]{2}')) as two_decimals,
        coalesce(sum(price) filter (where event_type = 'purchase'), 0) as revenue,
        count(distinct user_id) filter (where event_type = 'purchase') as buyers,
        count(distinct user_session) filter (where event_type = 'purchase') as purchase_sessions
    """
    rows = con.execute(f"select month, {per_month} from ev group by month order by month").fetchall()
    total = con.execute(f"select 'all' as month, {per_month} from ev").fetchall()
    columns = [d[0] for d in con.description]
    duplicates = dict(con.execute(
        "select month, count(*) - count(distinct (event_time, event_type, product_id, category_id, category_code, "
        "brand, price, user_id, user_session)) from (select left(event_time, 7) as month, * from src) group by month"
    ).fetchall())
    months_present = [r[0] for r in rows]
    for row in [*rows, *total]:
        r = dict(zip(columns, row))
        suffix = "" if r["month"] == "all" else f"[{r['month']}]"
        n = r["rows"]
        out[f"rows{suffix}"] = n
        out[f"share_cart{suffix}"] = r["carts"] / n
        out[f"share_purchase{suffix}"] = r["purchases"] / n
        out[f"null_category_code{suffix}"] = r["null_code"] / n
        out[f"null_brand{suffix}"] = r["null_brand"] / n
        out[f"null_session{suffix}"] = r["null_session"] / n
        out[f"users_per_event{suffix}"] = r["users"] / n
        out[f"sessions_per_event{suffix}"] = r["sessions"] / n
        out[f"products{suffix}"] = r["products"]
        out[f"categories{suffix}"] = r["categories"]
        out[f"brands{suffix}"] = r["brands"]
        out[f"price_mean{suffix}"] = float(r["price_mean"])
        out[f"price_zero_share{suffix}"] = r["zero_price"] / n
        out[f"price_max{suffix}"] = float(r["price_max"])
        out[f"price_two_decimals{suffix}"] = r["two_decimals"] / n
        out[f"revenue{suffix}"] = float(r["revenue"])
        out[f"price_per_purchase{suffix}"] = float(r["revenue"]) / r["purchases"] if r["purchases"] else 0.0
        out[f"buyers_per_event{suffix}"] = r["buyers"] / n
        out[f"purchase_sessions_per_event{suffix}"] = r["purchase_sessions"] / n
        dup = sum(duplicates.values()) if r["month"] == "all" else duplicates.get(r["month"], 0)
        out[f"duplicate_rate{suffix}"] = dup / n
    if all(m in months_present for m in _LATE_MONTHS):
        late = one(
            "select count(*), count(*) filter (where event_type = 'cart'), count(*) filter (where event_type = 'purchase') "
            f"from ev where month in {_LATE_MONTHS!r}"
        )
        out["share_cart[2020-01..04]"] = late[1] / late[0]
        out["share_purchase[2020-01..04]"] = late[2] / late[0]

    revenue = out["revenue"] or 1.0
    for brand, brand_revenue in con.execute(
        "select brand, sum(price) from ev where event_type = 'purchase' and brand is not null group by brand "
        "order by 2 desc limit 10"
    ).fetchall():
        out[f"brand_revenue_share[{brand}]"] = float(brand_revenue) / revenue

    funnel = one(
        """
        with s as (
            select user_session, count(*) as events, max(ts) - min(ts) as length,
                   bool_or(event_type = 'view') as viewed, bool_or(event_type = 'cart') as carted,
                   bool_or(event_type = 'purchase') as purchased
            from ev where user_session is not null group by user_session
        )
        select
            count(*) filter (where viewed and carted) / count(*) filter (where viewed),
            count(*) filter (where viewed and purchased) / count(*) filter (where viewed),
            count(*) filter (where carted and purchased) / nullif(count(*) filter (where carted), 0),
            count(*) filter (where purchased and not carted) / nullif(count(*) filter (where purchased), 0),
            median(events), avg(events), median(epoch(length)), count(*) filter (where events > 500)
        from s
        """
    )
    (out["view_sessions_with_cart"], out["view_sessions_with_purchase"], out["cart_sessions_purchasing"],
     out["purchase_sessions_without_cart"], out["session_events_median"], out["session_events_mean"],
     out["session_seconds_median"], out["sessions_over_500_events"]) = (float(v or 0) for v in funnel)

    cohorts = con.execute(
        """
        with buys as (select distinct user_id, month from ev where event_type = 'purchase'),
        firsts as (select user_id, min(month) as cohort from buys group by user_id)
        select f.cohort, count(*) as size,
               count(*) filter (where exists (
                   select 1 from buys b where b.user_id = f.user_id
                   and b.month = strftime(cast(f.cohort || '-01' as date) + interval 1 month, '%Y-%m'))) as m1
        from firsts f group by f.cohort order by f.cohort
        """
    ).fetchall()
    rates = []
    for cohort, size, m1 in cohorts:
        next_month = _MONTHS[_MONTHS.index(cohort) + 1] if cohort in _MONTHS[:-1] else None
        if next_month in months_present:
            out[f"repeat_buyers_m1[{cohort}]"] = m1 / size
            rates.append(m1 / size)
    if len(rates) == len(_MONTHS) - 1:
        out["repeat_buyers_m1"] = sum(rates) / len(rates)

    daily = dict(con.execute("select day, count(*) from ev group by day").fetchall())
    reference = daily_counts()
    days = [d for d in reference if f"{d:%Y-%m}" in months_present]
    if len(days) > 2:
        out["daily_correlation"] = _pearson([daily.get(d, 0) for d in days], [reference[d] for d in days])
    con.close()
    return out


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


@dataclass(frozen=True)
class Comparison:
    figure: Figure
    value: float
    expected: float
    held: bool  # False: shown for information only at this scale

    @property
    def ratio(self) -> float:
        return self.value / self.expected if self.expected else math.inf

    def passes(self, tolerance: float) -> bool:
        if self.figure.key == "daily_correlation":
            return self.value >= self.expected
        if self.figure.key.startswith("price_max"):
            return abs(self.value - self.expected) < 0.005
        return abs(self.ratio - 1) <= tolerance


def estimate_scale(profile: dict[str, float]) -> float:
    """rows / published rows over the months present."""
    published = sum(v for m, v in MONTH_ROWS.items() if f"rows[{m}]" in profile)
    return profile["rows"] / published if published else 1.0


def compare(profile: dict[str, float], scale: float) -> list[Comparison]:
    """Each published figure that the profile has, scaled where it scales; catalog sizes held only near full
    scale, and figures over the seven months together only when the files hold all seven (a one-month file
    is held to that month's figures)."""
    every_month = all(f"rows[{month}]" in profile for month in MONTH_ROWS)
    out = []
    for figure in FIGURES:
        if figure.key not in profile:
            continue
        expected = figure.value * scale if figure.scaled else figure.value
        held = scale >= figure.min_scale and (every_month or not figure.seven_months)
        out.append(Comparison(figure, profile[figure.key], expected, held=held))
    return out


def format_table(comparisons: list[Comparison], tolerance: float) -> str:
    lines = [f"{'figure':44} {'measured':>16} {'published':>16} {'ratio':>7}  status"]
    for c in comparisons:
        status = ("ok" if c.passes(tolerance) else "OUT") if c.held else "info"
        lines.append(f"{c.figure.key:44} {_fmt(c.value):>16} {_fmt(c.expected):>16} {c.ratio:7.3f}  {status}"
                     + (f"  ({c.figure.note})" if c.figure.note and status != "ok" else ""))
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.5f}"
