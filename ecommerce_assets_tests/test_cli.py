"""The commands a user types: `ecommerce generate`, `dagster asset materialize` and `dg launch`, as subprocesses."""

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.helpers import duplicate_count, lines_by_week

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _run(args, env, timeout=600):
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_materialize_one_partition_then_a_range(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECOMMERCE_")},
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "SPARK_MASTER": "local[2]",
        "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    _run([str(BIN / "ecommerce"), "generate", "--scale", "0.0001", "--months", "2019-10", "--seed", "4"], env)
    landing = tmp_path / "data" / "lake" / "landing" / "2019-Oct.csv.gz"
    expected = lines_by_week([landing])
    materialize = [str(BIN / "dagster"), "asset", "materialize", "-m", "ecommerce_assets.definitions", "--select", "tag:weekly"]

    _run(materialize + ["--partition", "2019-10-07"], env)
    # dg launch, from a shell whose PATH lacks the venv (not activated): the project's dbt is found, and
    # neither dg nor Python prints a warning (the JVM's "WARNING: Using incubator modules" line is Java's).
    launched = _run([str(BIN / "dg"), "launch", "--assets", "tag:weekly", "--partition-range", "2019-10-14...2019-10-21"],
                    {**env, "PATH": "/usr/bin:/bin"})
    assert "RUN_SUCCESS" in launched.stdout + launched.stderr
    printed = launched.stdout + launched.stderr
    assert re.findall(r"\w+Warning: .*", printed) == [] and "suppress this warning" not in printed

    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        loaded = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    want = {
        week.isoformat(): len(lines) - duplicate_count(lines)
        for week, lines in expected.items()
        if week.isoformat() in ("2019-10-07", "2019-10-14", "2019-10-21")
    }
    assert loaded == want

    counts = _run([str(BIN / "ecommerce"), "counts"], env).stdout
    assert re.search(r"^raw weeks\s+3$", counts, re.M)
    assert re.search(rf"^dbt core.fct_events\s+{sum(want.values()):,}$", counts, re.M)


def test_bad_setting_is_reported_by_name(tmp_path):
    env = {**os.environ, "ECOMMERCE_WAREHOUSE": "oracle"}
    done = subprocess.run([str(BIN / "ecommerce"), "counts"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "ECOMMERCE_WAREHOUSE='oracle': accepted values are duckdb" in done.stderr
