"""Shared fixtures: one local Spark session for the whole suite, and a tiny lake per test."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
# The definitions the tests load cover the published months, whatever this checkout has landed in data/
# (unset, the partitions follow the landing zone: test_span.py, test_landing_sensor.py).
os.environ.setdefault("ECOMMERCE_LAST_MONTH", "2020-04")
# Every JVM the tests start (Spark drivers, executors, standalone daemons; inherited by subprocesses) runs
# only the quick JIT tier: on a few thousand rows, C2 compiling hot Spark code is most of their CPU
# (measured: 21% less CPU, 9% less wall on three Spark modules). Production JVMs keep the default.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1")


def pytest_configure(config: pytest.Config) -> None:
    """The dbt assets load from the manifest; build it if this checkout has none yet."""
    if not (ROOT / "ecommerce_dbt" / "target" / "manifest.json").exists():
        dbt = Path(sys.executable).with_name("dbt")
        subprocess.run(
            [str(dbt), "parse", "--quiet", "--project-dir", "ecommerce_dbt", "--profiles-dir", "ecommerce_dbt"],
            cwd=ROOT,
            check=True,
        )


# Modules that start servers first, pure Python last: with command B's two workers (pytest-xdist, a module at
# a time each), the modules that mostly wait on services overlap each other and the quick ones fill the end.
# (Starting the four longest modules first was slower: they are also the heaviest; docs/developing.md, CI figures.)
_ORDER = {"stack": 0, "integration": 1, "unit": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank: dict[Path, int] = {}
    for item in items:
        marks = [_ORDER[m.name] for m in item.iter_markers() if m.name in _ORDER]
        rank[item.path] = min([rank.get(item.path, len(_ORDER)), *marks])
    items.sort(key=lambda item: rank[item.path])  # stable: a module's tests stay together and in order


@pytest.fixture(scope="session")
def spark():
    """The suite's Spark session; in-process materializations reuse it through getOrCreate."""
    from pyspark.sql import SparkSession

    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets.lib.spark.config import spark_config

    settings = load_settings(env={"SPARK_MASTER": "local[2]", "ECOMMERCE_SPARK_DRIVER_MEMORY": "2g",
                                  "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": "4"})
    builder = SparkSession.builder
    for key, value in spark_config(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path):
    from ecommerce_assets.lib.settings import load_settings

    return load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "SPARK_MASTER": "local[2]"})
