"""A real `dg dev` (webserver, daemon, code server) on 127.0.0.1, started as the README says from a shell
whose PATH lacks the venv: the location loads with no warning, a two-week backfill submitted through the
GraphQL API runs to success, and the automation sensor then refreshes the marts and the dashboard by
itself; then everything is stopped."""

import os
import re
import shutil
import subprocess

import duckdb
import pytest

from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.services import BIN, WEEKLY_KEYS, free_port, http_ok, process, run_backfill, wait_until

pytestmark = pytest.mark.stack


def test_backfill_of_two_weeks_through_graphql(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECOMMERCE_")},
        "DAGSTER_HOME": str(home),
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"),
        "SPARK_MASTER": "local[2]",
        "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PATH": "/usr/bin:/bin",  # not activated: the project finds its own dbt
    }
    subprocess.run([str(BIN / "ecommerce"), "generate", "--scale", "0.0001", "--months", "2019-10"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    with process([str(BIN / "dg"), "dev", "--no-check-yaml", "-h", "127.0.0.1", "-p", str(port)], log, env, ROOT) as server:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/server_info"), "dg dev", 240, server, log)
        at_start = log.read_text()
        assert [line for line in at_start.splitlines() if "warning" in line.lower()] == [], at_start[-3000:]
        runs = run_backfill(f"http://127.0.0.1:{port}/graphql", WEEKLY_KEYS, ["2019-10-07", "2019-10-14"])
        assert len(runs) == 1 and runs[0]["status"] == "SUCCESS"  # single-run backfill: one run for both weeks
        # The automation sensor is on by default: marts, then the dashboard, refresh with no further click.
        page = tmp_path / "data" / "reports" / "dashboard.html"
        wait_until(page.exists, "the automation sensor to refresh the marts and the dashboard", 600, server, log)
    # The run prints no Python warning either (the JVM's own "WARNING: Using incubator modules" line is Java's).
    printed = log.read_text()
    assert re.findall(r"\w+Warning: .*", printed) == []
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        weeks = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    assert set(weeks) == {"2019-10-07", "2019-10-14"} and min(weeks.values()) > 0
