"""The dbt project's first build on the Snowflake target, against a local Snowflake emulator (fakesnow)."""

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import snowflake.connector

from ecommerce_assets_tests.conftest import ROOT

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
def emulator():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / "fakesnow"), "-s", "--host", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("fakesnow server did not start") from None
                time.sleep(0.3)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


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
        "SNOWFLAKE_EMULATOR_PORT": str(emulator),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    done = subprocess.run(
        [str(BIN / "dbt"), "build", "--target", "snowflake_emulator", "--exclude", "resource_type:unit_test",
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
