"""Canonical categories and honest brands, checked against figures computed here from the landing files.

The generator reproduces the dumps' December 2019 move of smartphones to 2232732093077520756
(construction.tools.light). Two weeks either side of it go through the whole graph; the expected figures
come from the delivered lines and the seed's written rows, read with plain DuckDB, not the project's code.
"""

import csv
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.lib.settings import DBT_PROJECT_DIR
from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.kaggle import COLUMNS
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import ALL_ASSETS, HISTORY, materialize_weeks

pytestmark = pytest.mark.integration

FIRST_WEEK, LAST_WEEK = "2019-11-25", "2019-12-02"  # the first holds Dec 1, the day of the move
SMARTPHONE, MOVED_TO = 2053013555631882655, 2232732093077520756


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("canonical")
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(root / "data"), "SPARK_MASTER": "local[2]"})
    generate(settings.lake / "landing", 0.0005, parse_months("2019-11..2019-12"), seed=5)
    assert materialize_weeks(settings, FIRST_WEEK, LAST_WEEK).success
    assert dg.materialize(ALL_ASSETS, selection=HISTORY, resources=build_resources(settings)).success
    return settings


def _seed() -> list[dict[str, str]]:
    with open(Path(DBT_PROJECT_DIR) / "seeds" / "category_remaps.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["status"] == "confirmed"]


def _delivered(settings) -> duckdb.DuckDBPyConnection:
    """The delivered lines of the two weeks, exact copies dropped (the clean table's rows), as text."""
    con = duckdb.connect()
    files = sorted(str(p) for p in (settings.lake / "landing").glob("*.csv.gz"))
    types = ", ".join(f"'{c}': 'varchar'" for c in COLUMNS)
    con.execute(f"""
        create table lines as
        select distinct * from read_csv({files}, header = true, columns = {{{types}}})
        where left(event_time, 10) >= '{FIRST_WEEK}' and left(event_time, 10) < '2019-12-09'
    """)
    con.execute("""
        create table ev as
        select cast(left(event_time, 10) as date) as event_date, event_type, cast(product_id as bigint) as product_id,
               cast(category_id as bigint) as category_id, category_code, brand, cast(price as decimal(12, 2)) as price,
               date_trunc('week', cast(left(event_time, 10) as date)) as event_week
        from lines
    """)
    return con


def test_remapped_smartphones_report_under_their_canonical_category(built):
    settings = built
    [remap] = [r for r in _seed() if int(r["observed_category_id"]) == MOVED_TO]
    assert (int(remap["canonical_category_id"]), remap["canonical_category_code"]) == (SMARTPHONE, "electronics.smartphone")
    valid_from = dt.date.fromisoformat(remap["valid_from"])
    con = _delivered(settings)
    # The canonical code of every event, from the seed's row, and the delivered code kept beside it.
    con.execute("create table remap as select ? as observed, ? as canonical, ? as canonical_code, ? as valid_from",
                [MOVED_TO, SMARTPHONE, remap["canonical_category_code"], valid_from])
    con.execute("""
        create table canon as
        select ev.*, case when remap.observed is not null then remap.canonical_code end as remapped_code
        from ev left join remap on ev.category_id = remap.observed and ev.event_date >= remap.valid_from
    """)
    moved_revenue = con.execute(
        "select sum(price) from canon where event_type = 'purchase' and remapped_code is not null and event_date >= '2019-12-01'"
    ).fetchone()[0]
    assert moved_revenue > 0  # the generator moves real purchases
    expected_phones = con.execute(
        "select sum(price) from canon where event_type = 'purchase' and event_date >= '2019-12-01' "
        "and (category_id = ? or remapped_code = 'electronics.smartphone')", [SMARTPHONE]
    ).fetchone()[0]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as wh:
        december = dict(wh.execute(
            "select category_code, revenue from marts.mart_revenue_by_category where month_start = '2019-12-01'"
        ).fetchall())
        assert Decimal(december["electronics.smartphone"]) == Decimal(expected_phones)
        assert "construction.tools.light" not in december
        # Level 1: electronics holds the phones; construction holds none of them.
        expected_l1 = dict(con.execute(
            "select coalesce(split_part(coalesce(remapped_code, category_code), '.', 1), 'unknown'), sum(price) "
            "from canon where event_type = 'purchase' and event_date >= '2019-12-01' group by 1"
        ).fetchall())
        got_l1 = dict(wh.execute(
            "select category_l1, sum(revenue) from marts.mart_revenue_by_category where month_start = '2019-12-01' group by 1"
        ).fetchall())
        assert {k: Decimal(v) for k, v in got_l1.items()} == {k: Decimal(v) for k, v in expected_l1.items() if k}
        # The delivered code stays queryable in the facts: as many events as were delivered with it.
        delivered = con.execute("select count(*) from ev where category_id = ?", [MOVED_TO]).fetchone()[0]
        assert delivered > 0
        assert wh.execute(
            "select count(*), count(*) filter (where category_remapped and category_id = ? "
            "and category_code = 'electronics.smartphone' and category_l1 = 'electronics' and category_l2 = 'smartphone') "
            "from core.fct_events where observed_category_id = ?", [SMARTPHONE, MOVED_TO]
        ).fetchone() == (delivered, delivered)
        # The dimension keeps both ids: the remapped row with its validity, the canonical id's own row.
        rows = wh.execute(
            "select observed_category_id, category_id, category_code, category_remapped, valid_from "
            "from core.dim_categories where category_id = ? order by 1", [SMARTPHONE]
        ).fetchall()
        assert rows == [(SMARTPHONE, SMARTPHONE, "electronics.smartphone", False, None),
                        (MOVED_TO, SMARTPHONE, "electronics.smartphone", True, valid_from)]


def test_the_move_is_detected_from_product_continuity_with_its_evidence(built):
    con = _delivered(built)
    # Products whose last delivered event under the smartphone id precedes their first under the new id.
    moved, first_moved = con.execute(
        """
        with spans as (select product_id, category_id, min(event_date) f, max(event_date) l from ev group by 1, 2)
        select count(*), min(new.f) from spans old join spans new using (product_id)
        where old.category_id = ? and new.category_id = ? and old.l <= new.f
        """, [SMARTPHONE, MOVED_TO],
    ).fetchone()
    assert moved >= 5
    with duckdb.connect(str(built.duckdb_path), read_only=True) as wh:
        candidates = wh.execute(
            "select from_category_id, to_category_id, products_moved, first_moved_on, review_status "
            "from core.int_category_moves where is_remap_candidate"
        ).fetchall()
    assert candidates == [(SMARTPHONE, MOVED_TO, moved, first_moved, "confirmed")]
    assert first_moved == dt.date(2019, 12, 1)


def test_a_brand_is_only_ever_the_products_own(built):
    settings = built
    con = _delivered(settings)
    # Definition: the delivered brand; else the product's most common delivered brand in its week (ties: the
    # smallest); else 'unknown'.
    expected = dict(con.execute(
        """
        with counts as (
            select event_week, product_id, brand, count(*) n from ev where brand is not null group by 1, 2, 3),
        ranked as (
            select *, row_number() over (partition by event_week, product_id order by n desc, brand) as r from counts),
        top as (select event_week, product_id, brand from ranked where r = 1)
        select coalesce(ev.brand, top.brand, 'unknown') as brand, sum(ev.price)
        from ev left join top using (event_week, product_id)
        where ev.event_type = 'purchase' group by 1
        """
    ).fetchall())
    assert expected.get("unknown", 0) > 0  # the generator has brandless products that sell
    seen = set(con.execute("select product_id, brand from ev where brand is not null").fetchall())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as wh:
        got = dict(wh.execute("select brand, sum(revenue) from marts.mart_revenue_by_brand group by 1").fetchall())
        assert {k: Decimal(v) for k, v in got.items()} == {k: Decimal(v) for k, v in expected.items()}
        credited = wh.execute(
            "select distinct product_id, brand from core.fct_events where event_type = 'purchase' and brand <> 'unknown'"
        ).fetchall()
        assert credited and set(credited) <= seen
        unknown_share = wh.execute(
            "select sum(revenue_share_of_month) from marts.mart_revenue_by_brand where brand = 'unknown'"
        ).fetchone()[0]
        assert unknown_share > 0


def test_category_remaps_command_lists_candidates_and_writes_unreviewed_ones_as_detected(built, tmp_path):
    from ecommerce_assets.lib import category_remaps
    from ecommerce_assets.warehouses import build_warehouse

    env = {**os.environ, "ECOMMERCE_DATA_DIR": str(built.lake.parent)}
    listed = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", "category-remaps"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert f"{SMARTPHONE} electronics.smartphone" in listed.stdout and "confirmed" in listed.stdout
    candidates = build_warehouse(built).query(category_remaps.CANDIDATES_SQL)
    # The shipped seed already holds the December move: nothing to add.
    assert category_remaps.merge(category_remaps.read_seed(), candidates) == category_remaps.read_seed()
    # A seed without it gets one 'detected' row with the evidence, which does not apply until confirmed.
    seed = tmp_path / "category_remaps.csv"
    category_remaps.write_seed([], seed)
    category_remaps.write_seed(category_remaps.merge(category_remaps.read_seed(seed), candidates), seed)
    [row] = category_remaps.read_seed(seed)
    moved = candidates[0][4]
    assert (row["observed_category_id"], row["canonical_category_id"], row["canonical_category_code"]) == (
        str(MOVED_TO), str(SMARTPHONE), "electronics.smartphone")
    assert (row["valid_from"], row["products_moved"], row["status"]) == ("2019-12-01", str(moved), "detected")
