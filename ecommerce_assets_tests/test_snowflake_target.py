"""The Snowflake shape against a local Snowflake emulator (fakesnow): dbt's first build on the snowflake
target, and the pipeline's weekly load (COPY INTO from an external stage on the lake) plus dbt and the
dashboard, through dagster-snowflake."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import snowflake.connector

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.helpers import ALL_ASSETS, HISTORY, check_results, materialize_weeks
from ecommerce_assets_tests.services import fakesnow_server

pytestmark = pytest.mark.stack

BIN = Path(sys.executable).parent
RAW_EVENTS = """
create table raw.events (
    event_id varchar, event_time timestamp_ntz, event_date date, event_hour integer, event_week date,
    event_type varchar, product_id bigint, category_id bigint, category_code varchar,
    category_code_imputed boolean, category_code_source varchar, category_l1 varchar, category_l2 varchar,
    category_l3 varchar, brand varchar, brand_imputed boolean, brand_source varchar, price number(12, 2),
    user_id bigint, user_session varchar, loaded_at timestamp_ntz
)
"""


def _events() -> list[tuple]:
    """Two users over two weeks: views, a cart, purchases, a session crossing the week boundary."""
    rows = []
    plan = [
        ("2019-10-07 10:00:00", "view", 1, "s1", 501, "apple", 1000.00),
        ("2019-10-07 10:01:00", "cart", 1, "s1", 501, "apple", 1000.00),
        ("2019-10-07 10:02:00", "purchase", 1, "s1", 501, "apple", 1000.00),
        ("2019-10-08 12:00:00", "view", 2, "s2", 502, "samsung", 300.00),
        ("2019-10-13 23:59:00", "view", 2, "s3", 502, "samsung", 300.00),
        ("2019-10-14 00:00:30", "purchase", 2, "s3", 502, "samsung", 310.00),
        ("2019-10-15 09:00:00", "view", 1, "s4", 501, "apple", 1000.00),
    ]
    for i, (time_text, kind, product, session, user, brand, price) in enumerate(plan):
        at = dt.datetime.fromisoformat(time_text)
        week = at.date() - dt.timedelta(days=at.weekday())
        rows.append((f"e{i}", at, at.date(), at.hour, week, kind, product, 2053013555631882655,
                     "electronics.smartphone", False, "observed", "electronics", "smartphone", None, brand, False,
                     "observed", price, user, session, at))
    return rows


@pytest.fixture
def emulator(tmp_path):
    with fakesnow_server(tmp_path / "fakesnow.log") as port:
        yield port


def emulator_env(port: int) -> dict[str, str]:
    """The production Snowflake settings pointed at the emulator: any account, user and password, over http."""
    return {
        "SNOWFLAKE_ACCOUNT": "fakesnow", "SNOWFLAKE_USER": "fake", "SNOWFLAKE_PASSWORD": "fake",
        "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(port), "SNOWFLAKE_PROTOCOL": "http",
    }


def test_dbt_build_on_the_snowflake_target(emulator, tmp_path):
    connection = snowflake.connector.connect(
        user="fake", password="fake", account="fakesnow", host="127.0.0.1", port=emulator, protocol="http"
    )
    cursor = connection.cursor()
    cursor.execute("create database if not exists ECOMMERCE")
    cursor.execute("use database ECOMMERCE")
    cursor.execute("create schema if not exists raw")
    cursor.execute(RAW_EVENTS)
    cursor.executemany(
        "insert into raw.events values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        _events(),
    )
    env = {
        **os.environ,
        **emulator_env(emulator),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    done = subprocess.run(
        [str(BIN / "dbt"), "build", "--target", "snowflake", "--exclude", "resource_type:unit_test",
         "--project-dir", "ecommerce_dbt", "--profiles-dir", "ecommerce_dbt"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:]
    cursor.execute("select count(*), sum(revenue) from core.fct_events")
    assert cursor.fetchone() == (7, 1310)
    cursor.execute("select session_id, session_week, events from core.fct_sessions order by session_id")
    assert cursor.fetchall() == [
        ("s1", dt.date(2019, 10, 7), 3), ("s2", dt.date(2019, 10, 7), 1),
        ("s3", dt.date(2019, 10, 7), 2), ("s4", dt.date(2019, 10, 14), 1),
    ]
    cursor.execute("select brand, revenue_rank from marts.mart_revenue_by_brand order by revenue_rank")
    assert cursor.fetchall() == [("apple", 1), ("samsung", 2)]
    connection.close()


def _emulator_connection(port: int):
    return snowflake.connector.connect(
        user="fake", password="fake", account="fakesnow", host="127.0.0.1", port=port, protocol="http"
    )


def test_weekly_load_dbt_and_dashboard_on_snowflake(spark, emulator, tmp_path, monkeypatch):
    # dbt's profile reads the same variables the settings do; fakesnow runs models and data tests, not
    # dbt unit tests (those run on DuckDB), so this test excludes them the way a user would.
    for name, value in {**emulator_env(emulator), "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env={
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "SPARK_MASTER": "local[2]",
        "ECOMMERCE_WAREHOUSE": "snowflake", "ECOMMERCE_SNOWFLAKE_STAGE": "raw.lake_stage", **emulator_env(emulator),
    })
    assert settings.dbt_target == "snowflake" and settings.snowflake.host == "127.0.0.1"
    generate(settings.lake / "landing", 0.0002, parse_months("2019-10"), seed=5)
    # What a deployment does once: the database and an external stage whose URL is the lake root. In
    # production that URL is s3://bucket/prefix with a storage integration; the emulator reads file://.
    connection = _emulator_connection(emulator)
    cursor = connection.cursor()
    cursor.execute("create database if not exists ECOMMERCE")
    cursor.execute("use database ECOMMERCE")
    cursor.execute("create schema if not exists raw")
    cursor.execute(f"create stage raw.lake_stage url = '{settings.lake.as_uri()}/'")

    weekly = materialize_weeks(settings, "2019-10-07", "2019-10-14")
    assert weekly.success and all(check_results(weekly).values()), check_results(weekly)
    clean = {week: json.loads((settings.lake / "clean" / "events" / f"week={week}" / "_manifest.json").read_text())["clean_rows"]
             for week in ("2019-10-07", "2019-10-14")}
    assert min(clean.values()) > 0

    def loaded() -> dict[str, tuple[int, int]]:
        cursor.execute("select event_week, count(*), count(loaded_at) from raw.events group by 1")
        return {str(week): (rows, stamped) for week, rows, stamped in cursor.fetchall()}

    assert loaded() == {week: (rows, rows) for week, rows in clean.items()}
    cursor.execute("select event_week, count(*) from core.fct_events group by 1")
    assert {str(week): rows for week, rows in cursor.fetchall()} == clean

    # A rerun of the load replaces its week: no doubled rows.
    again = materialize_weeks(settings, "2019-10-07", selection=dg.AssetSelection.assets("warehouse_events"))
    assert again.success and all(check_results(again).values())
    assert loaded() == {week: (rows, rows) for week, rows in clean.items()}

    selection = HISTORY | dg.AssetSelection.assets("dashboard")
    assert dg.materialize(ALL_ASSETS, selection=selection, resources=build_resources(settings)).success
    cursor.execute("select count(*), sum(purchases) from marts.mart_daily_kpis")
    days, purchases = cursor.fetchone()
    cursor.execute("select count(*) from core.fct_events where event_type = 'purchase'")
    assert days == 14 and purchases == cursor.fetchone()[0]
    page = (settings.reports_dir / "dashboard.html").read_text()
    assert page.count('class="chart"') == 13
    connection.close()
