"""The cleaning on a Spark standalone cluster (master and worker from pyspark's jars, on 127.0.0.1),
started from the `dagster asset materialize` CLI with SPARK_MASTER=spark://...: the executors run on the
worker and the week's counts match the source."""

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.helpers import duplicate_count, lines_by_week
from ecommerce_assets_tests.services import BIN, spark_standalone

pytestmark = pytest.mark.stack

WEEK = "2019-10-07"


def test_cleaning_runs_on_a_standalone_cluster(tmp_path):
    data = tmp_path / "data"
    files = generate(data / "lake" / "landing", 0.0001, parse_months("2019-10"), seed=17)
    work = tmp_path / "spark"
    with spark_standalone(work, cores=1, memory="1g") as master:
        home = tmp_path / "dagster_home"
        home.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ECOMMERCE_", "SPARK_"))},
            "DAGSTER_HOME": str(home), "ECOMMERCE_DATA_DIR": str(data), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_MASTER": master, "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
            "ECOMMERCE_SPARK_EXECUTOR_MEMORY": "768m", "ECOMMERCE_SPARK_EXECUTOR_CORES": "1",
            "ECOMMERCE_SPARK_CORES_MAX": "1",
        }
        done = subprocess.run(
            [str(BIN / "dagster"), "asset", "materialize", "-m", "ecommerce_assets.definitions",
             "--select", "raw_events,clean_events,rejected_events", "--partition", WEEK],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "RUN_SUCCESS" in done.stdout + done.stderr
    # The executor ran on the worker (its work folder holds the application), not in the driver.
    apps = list((work / "worker").glob("app-*"))
    assert len(apps) == 1 and list(apps[0].glob("*/stderr"))

    lines = lines_by_week(files)[dt.date.fromisoformat(WEEK)]
    manifest = json.loads(Path(data / "lake" / "clean" / "events" / f"week={WEEK}" / "_manifest.json").read_text())
    assert manifest["raw_rows"] == len(lines)
    assert manifest["duplicates"] == duplicate_count(lines)
    assert manifest["clean_rows"] + manifest["duplicates"] + manifest["rejected_rows"] == len(lines)
    assert manifest["clean_rows"] > 0
