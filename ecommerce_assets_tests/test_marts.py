"""The marts checked against figures computed independently from the cleaned Parquet, and stable under
a re-run."""

import datetime as dt
import re
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from PIL import Image

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.browser import render
from ecommerce_assets_tests.helpers import ALL_ASSETS, HISTORY, materialize_weeks

WEEKS = ("2019-10-14", "2019-10-21", "2019-10-28")
MARTS = (
    "marts.mart_daily_kpis", "marts.mart_active_users", "marts.mart_funnel", "marts.mart_cart_abandonment",
    "marts.mart_rfm", "marts.mart_retention_weekly", "marts.mart_retention_monthly",
    "marts.mart_revenue_by_category", "marts.mart_revenue_by_brand", "marts.mart_purchase_heatmap",
    "marts.mart_customer_value", "core.fct_events", "core.fct_sessions", "core.fct_daily_user_activity",
    "core.dim_users", "core.dim_products", "core.dim_categories", "core.dim_brands", "core.dim_date",
)


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """Three weeks through the whole graph in one run, then the marts."""
    root = tmp_path_factory.mktemp("marts")
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(root / "data"), "SPARK_MASTER": "local[2]"})
    generate(settings.lake / "landing", 0.0005, parse_months("2019-10..2019-11"), seed=21)
    assert materialize_weeks(settings, WEEKS[0], WEEKS[-1]).success
    _build_marts(settings)
    return settings


def _build_marts(settings) -> None:
    assert dg.materialize(ALL_ASSETS, selection=HISTORY, resources=build_resources(settings)).success


def _snapshot(settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {table: sorted(con.execute(f"select * exclude (loaded_at) from {table}" if table == "raw.events"
                                          else f"select * from {table}").fetchall(), key=repr) for table in MARTS}


def _clean(settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"create view ev as select * from read_parquet('{settings.lake}/clean/events/week=*/*.parquet')")
    return con


@pytest.mark.integration
def test_marts_match_figures_computed_from_the_clean_parquet(built):
    settings = built
    clean = _clean(settings)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as wh:
        # DAU for some days
        for day in (dt.date(2019, 10, 14), dt.date(2019, 10, 27), dt.date(2019, 11, 3)):
            expected = clean.execute("select count(distinct user_id) from ev where event_date = ?", [day]).fetchone()[0]
            assert expected > 0
            assert wh.execute("select dau from marts.mart_daily_kpis where date_day = ?", [day]).fetchone()[0] == expected
            assert wh.execute("select dau from marts.mart_active_users where date_day = ?", [day]).fetchone()[0] == expected
        # revenue per month (exact decimals)
        for month, revenue in clean.execute(
            "select date_trunc('month', event_date)::date, sum(price) from ev where event_type = 'purchase' group by 1"
        ).fetchall():
            by_category = wh.execute(
                "select sum(revenue) from marts.mart_revenue_by_category where month_start = ?", [month]
            ).fetchone()[0]
            by_brand = wh.execute(
                "select sum(revenue) from marts.mart_revenue_by_brand where month_start = ?", [month]
            ).fetchone()[0]
            assert Decimal(by_category) == Decimal(by_brand) == Decimal(revenue)
        # funnel counts for a brand: session x product pairs
        brand = "samsung"
        viewed, viewed_carted, purchased = clean.execute(
            """
            with pairs as (
                select user_session, product_id, min(brand) as brand,
                       bool_or(event_type = 'view') v, bool_or(event_type = 'cart') c, bool_or(event_type = 'purchase') p
                from ev where user_session is not null group by 1, 2)
            select count(*) filter (where v), count(*) filter (where v and c), count(*) filter (where p)
            from pairs where brand = ?
            """,
            [brand],
        ).fetchone()
        assert viewed > 0 and purchased > 0
        assert wh.execute(
            "select sum(session_products_viewed), sum(session_products_viewed_carted), sum(session_products_purchased) "
            "from marts.mart_funnel where brand = ?",
            [brand],
        ).fetchone() == (viewed, viewed_carted, purchased)
        # week-1 retention of the first cohort
        cohort = dt.date(2019, 10, 14)
        size, back = clean.execute(
            """
            with firsts as (select user_id, min(event_week) as cohort from ev group by user_id),
                 members as (select user_id from firsts where cohort = ?)
            select (select count(*) from members),
                   (select count(distinct user_id) from ev where event_week = ? and user_id in (select user_id from members))
            """,
            [cohort, cohort + dt.timedelta(days=7)],
        ).fetchone()
        assert back > 0
        assert wh.execute(
            "select cohort_users, active_users, retention_rate from marts.mart_retention_weekly "
            "where cohort_week = ? and week_offset = 1",
            [cohort],
        ).fetchone() == (size, back, pytest.approx(back / size))
        # the RFM segment of a few users, scored here with NTILE's own arithmetic
        buyers = clean.execute(
            """
            select user_id, max(event_date), count(distinct user_session), sum(price)
            from ev where event_type = 'purchase' group by user_id
            """
        ).fetchall()
        scores = {}
        for axis, key in (("r", lambda b: (b[1], b[0])), ("f", lambda b: (b[2], b[0])), ("m", lambda b: (b[3], b[0]))):
            ordered = sorted(buyers, key=key)
            n, big = divmod(len(ordered), 5)
            bucket = [score for score in range(1, 6) for _ in range(n + (1 if score <= big else 0))]
            for b, score in zip(ordered, bucket):
                scores.setdefault(b[0], {})[axis] = score
        rfm = dict(wh.execute("select user_id, r_score * 100 + f_score * 10 + m_score from marts.mart_rfm").fetchall())
        assert len(rfm) == len(buyers)
        for user_id in sorted(scores)[:: max(1, len(scores) // 7)]:
            s = scores[user_id]
            assert rfm[user_id] == s["r"] * 100 + s["f"] * 10 + s["m"], user_id


@pytest.mark.stack
def test_dashboard_renders_every_chart_offline_in_chromium(built, tmp_path):
    settings = built
    result = dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets("dashboard"), resources=build_resources(settings))
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    page = settings.reports_dir / "dashboard.html"
    assert metadata["path"].value == str(page) and metadata["charts"].value == 13
    assert metadata["open"].value == page.as_uri()
    # The headline figures in the UI, computed again from the clean files: events once de-duplicated,
    # revenue as the sum of the purchases' own prices.
    events, revenue = _clean(settings).execute(
        "select count(*), sum(price) filter (where event_type = 'purchase') from ev").fetchone()
    headline = dict(re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", metadata["headline"].value, re.M))
    assert headline["Events"] == f"{events:,}" and headline["Revenue"] == f"${float(revenue):,.0f}", headline
    assert str(page) in metadata["headline"].value
    head, _, body = page.read_text().partition("</head>")
    # Self-contained: plotly.js is inlined in the head and nothing in the page loads from elsewhere (a load
    # that failed offline would also show as a console error below).
    assert head.count("<script>") == 1 and len(head) > 1_000_000
    assert not re.search(r'(src|href)="https?:', body)
    dom, console = render(page.as_uri(), tmp_path / "profile", screenshot=tmp_path / "dashboard.png")
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    # plotly marks a chart's div js-plotly-plot once it has drawn it
    tags = [re.search(rf'<div[^>]*id="chart-{i}"[^>]*>', dom) for i in range(13)]
    assert all(tag and "js-plotly-plot" in tag.group(0) for tag in tags), [bool(t) for t in tags]
    for title in ("Monthly events by type", "RFM segments", "MAU and stickiness", "Weekly cohort retention",
                  "Top 7 brands by revenue", "Purchases by weekday and hour"):
        assert title in dom
    with Image.open(tmp_path / "dashboard.png") as shot:
        colours = shot.convert("RGB").resize((200, 600)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 100  # a blank page has one or two colours


@pytest.mark.integration
def test_a_rerun_leaves_facts_and_marts_identical(built):
    # Weeks replayed one at a time, in and out of order, are test_incremental_equals_full.py's.
    settings = built
    before = _snapshot(settings)
    assert all(before[t] for t in ("marts.mart_daily_kpis", "marts.mart_rfm", "core.fct_sessions"))
    # Re-run the middle week through the whole weekly graph, then the marts.
    assert materialize_weeks(settings, WEEKS[1]).success
    _build_marts(settings)
    assert _snapshot(settings) == before
