"""Data that arrives, through the production shape (code server, webserver and daemon on PostgreSQL, the lake
on S3, Spark standalone) with no month or week setting: the partitions follow what has landed.

- October and November 2019 landed: the weekly partitions are the nine weeks they hold (the last,
  2019-11-25, runs into December) and the monthly ones the two months; a backfill builds all nine.
- December lands (``ecommerce land``'s upload, nothing restarted): the landing sensor reloads the code
  location, the partitions grow to 2019-12-30, and the sensor launches one run for the half week December
  completes and December's new weeks (2019-11-25..2019-12-30), and nothing else. That half week's raw rows
  then come from both months, and the row accounting holds for every week.
- October landed again, identical: nothing. November redelivered, corrected: one run of exactly the weeks
  holding its days (2019-10-28..2019-11-25), whose rows are then the corrected file's, and nothing more.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator

import pytest

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.lake import S3Lake
from ecommerce_assets.lib.landing_copy import land_on_s3
from ecommerce_assets_tests.helpers import lines_by_week
from ecommerce_assets_tests.services import LAUNCH, WEEKLY_KEYS, graphql
from ecommerce_assets_tests.stack_support import (
    BUCKET,
    SENSOR,
    TERMINAL,
    ProductionStack,
    all_runs,
    production_stack,
    sensor_selector,
    stop_sensor,
    wait_for,
)
from ecommerce_assets_tests.ui_support import wait_backfill

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

SEED, SCALE = 31, 0.0001
NINE_WEEKS = ["2019-09-30", "2019-10-07", "2019-10-14", "2019-10-21", "2019-10-28",
              "2019-11-04", "2019-11-11", "2019-11-18", "2019-11-25"]
DECEMBER_RUN = ("2019-11-25", "2019-12-30")
KEYS = """
query Keys($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { __typename ... on AssetNode { partitionKeys } }
}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ProductionStack]:
    with production_stack(tmp_path_factory.mktemp("arrives"), months="2019-10..2019-11", scale=SCALE, seed=SEED) as running:
        # The marts' refresh after every week is not what is under test here, and would double the time.
        stop_sensor(running, "automation_condition_sensor")
        yield running


def partition_keys(stack: ProductionStack, asset: str) -> list[str]:
    node = graphql(stack.graphql_url, KEYS, {"key": {"path": [asset]}})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    return node["partitionKeys"]


def sensor_ticks(stack: ProductionStack, name: str) -> list[dict]:
    sensor = graphql(stack.graphql_url, SENSOR, {"selector": sensor_selector(name)})["sensorOrError"]
    return sensor["sensorState"]["ticks"]


def runs_since(stack: ProductionStack, before: set[str]) -> list[dict] | None:
    """The runs not in ``before``, once there is one and all have finished."""
    runs = [run for run in all_runs(stack) if run["runId"] not in before]
    return runs if runs and all(run["status"] in TERMINAL for run in runs) else None


def manifest(stack: ProductionStack, key: str) -> dict:
    return json.loads(stack.s3().get_object(Bucket=BUCKET, Key=f"lake/{key}/_manifest.json")["Body"].read())


def test_two_months_landed_make_nine_weeks_and_backfill(stack):
    assert partition_keys(stack, "landing_files") == ["2019-10-01", "2019-11-01"]
    assert partition_keys(stack, "raw_events") == NINE_WEEKS
    launched = graphql(stack.graphql_url, LAUNCH, {"params": {
        "assetSelection": [{"path": key} for key in WEEKLY_KEYS], "partitionNames": NINE_WEEKS, "title": "two months"}})
    assert launched["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", launched
    status, runs = wait_backfill(stack.graphql_url, launched["launchPartitionBackfill"]["backfillId"], timeout=1200)
    assert status == "COMPLETED_SUCCESS" and [r["status"] for r in runs] == ["SUCCESS"], (status, runs)
    # The half week holds November's last days only: December is not landed.
    assert list(manifest(stack, "raw/events/week=2019-11-25")["sources"]) == ["2019-Nov.csv.gz"]


def test_a_new_month_extends_the_partitions_and_its_weeks_are_built(stack, tmp_path):
    before = {run["runId"] for run in all_runs(stack)}
    code_server = stack.processes["code-server"].pid
    december = generate(tmp_path, SCALE, parse_months("2019-12"), seed=SEED)[0]
    store = S3Lake(stack.s3(), BUCKET, "lake", tmp_path / "staging")
    land_on_s3(december, store)

    # The sensor reloads the location; the daemon sees the new partitions at its next workspace refresh.
    weeks = wait_for(lambda: (keys := partition_keys(stack, "raw_events"))[-1] == DECEMBER_RUN[1] and keys,
                     "the weekly partitions growing to December's last week", 300)
    assert weeks == [*NINE_WEEKS, "2019-12-02", "2019-12-09", "2019-12-16", "2019-12-23", "2019-12-30"]
    assert partition_keys(stack, "landing_files")[-1] == "2019-12-01"

    runs = wait_for(lambda: runs_since(stack, before), "the landing sensor's run for December", 900)
    assert [(run["jobName"], run["status"]) for run in runs] == [("weekly_events_job", "SUCCESS")], runs
    tags = runs[0]["tags"]
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == DECEMBER_RUN
    assert tags["ecommerce/landing"].startswith("2019-Dec.csv.gz ")
    assert stack.processes["code-server"].pid == code_server and stack.processes["code-server"].poll() is None

    # The half week is built again from both months; every week's accounting holds.
    assert sorted(manifest(stack, "raw/events/week=2019-11-25")["sources"]) == ["2019-Dec.csv.gz", "2019-Nov.csv.gz"]
    for week in weeks:
        raw, clean = manifest(stack, f"raw/events/week={week}"), manifest(stack, f"clean/events/week={week}")
        assert raw["rows"] == clean["raw_rows"] == clean["clean_rows"] + clean["duplicates"] + clean["rejected_rows"], week



def test_a_redelivered_month_reruns_exactly_its_weeks_and_an_identical_one_nothing(stack, tmp_path):
    store = S3Lake(stack.s3(), BUCKET, "lake", tmp_path / "staging")
    october, november, december = generate(tmp_path / "again", SCALE, parse_months("2019-10..2019-12"), seed=SEED)
    assert not land_on_s3(october, store).copied  # the same bytes: nothing changes, nothing runs
    # November delivered again, corrected: its last day dropped.
    lines = gzip.decompress(november.read_bytes()).splitlines(keepends=True)
    corrected = tmp_path / "corrected" / november.name
    corrected.parent.mkdir()
    corrected.write_bytes(gzip.compress(b"".join(line for line in lines if not line.startswith(b"2019-11-30"))))
    before = {run["runId"] for run in all_runs(stack)}
    replaced = land_on_s3(corrected, store, replace=True)
    assert replaced.replaced is not None and replaced.weeks[0] == dt.date(2019, 10, 28)

    runs = wait_for(lambda: runs_since(stack, before), "the landing sensor's rerun of November's weeks", 900)
    assert [(run["jobName"], run["status"]) for run in runs] == [("weekly_events_job", "SUCCESS")], runs
    tags = runs[0]["tags"]
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == ("2019-10-28", "2019-11-25")
    # Each rerun week holds the corrected file's lines (and October's or December's where it spans them).
    landed = lines_by_week([october, corrected, december])
    for week in ("2019-10-28", "2019-11-04", "2019-11-11", "2019-11-18", "2019-11-25"):
        raw, clean = manifest(stack, f"raw/events/week={week}"), manifest(stack, f"clean/events/week={week}")
        assert raw["rows"] == clean["raw_rows"] == len(landed[dt.date.fromisoformat(week)]), week
    # Two more ticks of the sensor after the run: nothing else is launched.
    finished = max(run["endTime"] for run in runs)
    wait_for(lambda: len([t for t in sensor_ticks(stack, "landing_sensor") if t["timestamp"] > finished]) >= 2,
             "two landing_sensor ticks after the rerun", 180)
    assert [run["runId"] for run in all_runs(stack) if run["runId"] not in before] == [runs[0]["runId"]]
