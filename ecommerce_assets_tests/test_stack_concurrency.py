"""The production shape without Docker (``stack_support``: PostgreSQL, an S3 lake on moto, a Spark
standalone cluster, the gRPC code server, the webserver and the daemon on the deployment's dagster.yaml),
used concurrently, and its secrets.

One stack for the module, five weekly partitions (2019-09-30 .. 2019-10-28; October landed in the S3 lake),
started with distinctive secret values in every Dagster process's environment:

1. two overlapping backfills launched at once through GraphQL, as the UI does, while the history replay
   sensor and the weekly schedule fire (one scenario, judged by two tests);
2. then none of the secret values appears in PostgreSQL, the compute logs, the run configs and tags, or
   what the GraphQL API answers.
A first test, without the stack, puts two publishes of one S3 week in the order that used to break it.

The evidence is read where it is kept, not from what the runs say about themselves: step intervals from
the event log in PostgreSQL, manifests and objects from S3, rows from the DuckDB file, and the expected
lines and event ids of every week from the landed month itself.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import secrets
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from sqlalchemy import create_engine, text

from ecommerce_assets.defs.step_helpers import WAREHOUSE_POOL
from ecommerce_assets.definitions import defs
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.helpers import lines_by_week
from ecommerce_assets_tests.services import (
    LAUNCH,
    STATUS,
    WEEKLY_KEYS,
    graphql,
    moto_server,
)
from ecommerce_assets_tests.stack_support import (
    BUCKET,
    LOCATION,
    REPOSITORY,
    SENSOR,
    STOP_SENSOR,
    TERMINAL,
    ProductionStack,
    all_runs,
    production_stack,
    sensor_selector,
    stop_sensor,
    wait_for,
)

# The first test's time includes starting the stack (one to two minutes alone on a busy machine).
pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

# The stack's weekly partitions: October only, so that the sensor has a week left to request.
WEEKS = ["2019-09-30", "2019-10-07", "2019-10-14", "2019-10-21", "2019-10-28"]
# Two backfills overlapping on 2019-10-14; together they cover every week but the last, which is the one
# the replay sensor has left to request (2019-09-30 is the earliest week not materialized, but in flight).
FIRST, SECOND = ["2019-09-30", "2019-10-07", "2019-10-14"], ["2019-10-14", "2019-10-21"]
SENSOR_WEEK = "2019-10-28"
# Distinctive values, fresh per session: the moto endpoint accepts any AWS key; the PostgreSQL cluster is
# created with this password; Snowflake's password and passphrase are set although DuckDB is the warehouse.
SECRETS = {
    "AWS_SECRET_ACCESS_KEY": f"awsSecret{secrets.token_hex(10)}",
    "AWS_SESSION_TOKEN": f"awsToken{secrets.token_hex(10)}",
    "SNOWFLAKE_PASSWORD": f"sfPassword{secrets.token_hex(10)}",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": f"sfPassphrase{secrets.token_hex(10)}",
    "DAGSTER_PG_PASSWORD": f"pgPassword{secrets.token_hex(10)}",
}
STEP_OPENS = {"STEP_START", "STEP_RESTARTED"}
STEP_CLOSES = {"STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ProductionStack]:
    env = {
        **SECRETS,
        "ECOMMERCE_LAST_WEEK": WEEKS[-1],
        "ECOMMERCE_LAST_MONTH": "2019-10",
        # On a busy 2-core machine the code server can take over a minute to start a run's process.
        "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
    }
    with production_stack(tmp_path_factory.mktemp("concurrency"), extra_env=env,
                          pg_password=SECRETS["DAGSTER_PG_PASSWORD"]) as running:
        # Declarative automation (on by default) would refresh the marts after every landing: its runs take
        # the same warehouse pool, but they would double this module's time. The runs here are the ones
        # under test.
        stop_sensor(running, "automation_condition_sensor")
        yield running


@pytest.fixture(scope="module")
def landed(stack) -> dict[str, list[str]]:
    """Every week's lines, read from the generated month without the project's code."""
    files = sorted((stack.root / "landing").glob("*.csv*"))
    assert files, "nothing was landed"
    return {week.isoformat(): lines for week, lines in lines_by_week(files).items()}


# -- GraphQL ------------------------------------------------------------------------------------------

START_SENSOR = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { id status } }
    ... on PythonError { message }
  }
}
"""
SCHEDULE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { scheduleState { id status ticks(limit: 20) { status timestamp endTimestamp runIds skipReason error { message } } } }
  }
}
"""
START_SCHEDULE = """
mutation StartSchedule($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { id status } }
    ... on PythonError { message }
  }
}
"""
STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


def launch_backfill(stack: ProductionStack, weeks: list[str], title: str) -> str:
    launched = graphql(stack.graphql_url, LAUNCH, {"params": {
        "assetSelection": [{"path": key} for key in WEEKLY_KEYS], "partitionNames": weeks, "title": title,
    }})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_state(stack: ProductionStack, backfill: str) -> tuple[str, list[dict]]:
    data = graphql(stack.graphql_url, STATUS, {"id": backfill, "tag": backfill})
    return data["partitionBackfillOrError"]["status"], data["runsOrError"]["results"]


def wait_for_backfills(stack: ProductionStack, backfills: list[str], timeout: float = 900) -> dict[str, list[dict]]:
    def done():
        states = {b: backfill_state(stack, b) for b in backfills}
        finished = all(status not in ("REQUESTED", "CANCELING") and runs and all(r["status"] in TERMINAL for r in runs)
                       for status, runs in states.values())
        return states if finished else None

    states = wait_for(done, f"backfills {backfills} finished", timeout)
    for backfill, (status, runs) in states.items():
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, status, runs)
        assert all(r["status"] == "SUCCESS" for r in runs), (backfill, runs)
    return {backfill: runs for backfill, (_, runs) in states.items()}


def wait_for_runs(stack: ProductionStack, run_ids: set[str], timeout: float = 900) -> dict[str, dict]:
    def done():
        runs = {r["runId"]: r for r in all_runs(stack) if r["runId"] in run_ids}
        return runs if len(runs) == len(run_ids) and all(r["status"] in TERMINAL for r in runs.values()) else None

    return wait_for(done, f"runs {sorted(run_ids)} finished", timeout)


def weeks_of_run(run: dict) -> list[str]:
    """The weekly partitions a run materializes: one partition tag, or a single-run backfill's range."""
    tags = run["tags"]
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return [w for w in WEEKS if start and start <= w <= end]


# -- Evidence from PostgreSQL ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    run_id: str
    step: str
    start: dt.datetime
    end: dt.datetime | None  # None: still running

    def overlaps(self, other: Interval) -> bool:
        far = dt.datetime.max
        return self.start < (other.end or far) and other.start < (self.end or far)


def warehouse_steps() -> set[str]:
    """The steps in the warehouse pool: every one that writes DuckDB (or reads it while others may write)."""
    steps = {a.node_def.name for a in defs.resolve_asset_graph().assets_defs if a.node_def.pool == WAREHOUSE_POOL}
    assert {"warehouse_events", "weekly_dbt_models", "history_dbt_models"} <= steps, steps
    return steps


def step_intervals(stack: ProductionStack, steps: set[str]) -> list[Interval]:
    """STEP_START (or STEP_RESTARTED) .. STEP_SUCCESS / STEP_FAILURE / STEP_UP_FOR_RETRY of ``steps``, every run."""
    engine = create_engine(stack.postgres_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "select run_id, step_key, dagster_event_type, timestamp from event_logs "
                "where step_key = any(:steps) and dagster_event_type = any(:types) order by id"
            ), {"steps": sorted(steps), "types": sorted(STEP_OPENS | STEP_CLOSES)}).fetchall()
    finally:
        engine.dispose()
    opened: dict[tuple[str, str], dt.datetime] = {}
    intervals = []
    for run_id, step, kind, at in rows:
        if kind in STEP_OPENS:
            assert (run_id, step) not in opened, f"{step} of {run_id} started twice without ending"
            opened[(run_id, step)] = at
        else:
            assert (run_id, step) in opened, f"{step} of {run_id} ended ({kind}) without a start"
            intervals.append(Interval(run_id, step, opened.pop((run_id, step)), at))
    intervals += [Interval(run_id, step, start, None) for (run_id, step), start in opened.items()]
    return intervals


def assert_one_writer_at_a_time(intervals: list[Interval]) -> None:
    clashes = [(a, b) for i, a in enumerate(intervals) for b in intervals[i + 1:] if a.overlaps(b)]
    assert not clashes, "warehouse steps ran at the same time:\n" + "\n".join(f"  {a}\n  {b}" for a, b in clashes)


def materializations(stack: ProductionStack, asset: str) -> list[tuple[str, str]]:
    """(run_id, partition) of every materialization of ``asset`` in the event log."""
    engine = create_engine(stack.postgres_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "select run_id, partition from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                "and asset_key = :key"
            ), {"key": json.dumps(asset.split("/"))}).fetchall()]
    finally:
        engine.dispose()


# -- Evidence from the lake and the warehouse --------------------------------------------------------


def event_id(line: str) -> str:
    """The clean step's key: the MD5 of the line as delivered."""
    return hashlib.md5(line.encode()).hexdigest()


def assert_every_manifest_whole(stack: ProductionStack) -> None:
    """Every partition of the lake (weeks of every layer, and the month's unroutable lines, which every raw
    run publishes): its manifest names objects that exist, of one generation (one run's publish), and
    nothing else is there, not even a writer's marker."""
    s3 = stack.s3()
    objects: dict[str, set[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/"):
        for item in page.get("Contents", []):
            folder, name = item["Key"].rsplit("/", 1)
            objects.setdefault(folder, set()).add(name)
    partitions = [folder for folder, names in objects.items() if "_manifest.json" in names]
    assert len(partitions) == 1 + 3 * len(WEEKS), sorted(objects)  # the unroutable month, every week's three layers
    for folder in partitions:
        named = set(json.loads(s3.get_object(Bucket=BUCKET, Key=f"{folder}/_manifest.json")["Body"].read())["files"])
        assert named <= objects[folder], f"{folder}: the manifest names missing objects {sorted(named - objects[folder])}"
        assert objects[folder] == {*named, "_manifest.json"}, f"{folder}: objects outside the manifest {sorted(objects[folder] - named)}"
        assert len({name.split("-", 1)[0] for name in named}) <= 1, f"{folder}: files of several publishes {sorted(named)}"
    assert not [folder for folder in objects if folder not in partitions and not folder.startswith("lake/landing")], sorted(objects)


def published_week(stack: ProductionStack, week: str, lines: list[str]) -> tuple[dict, list[Path]]:
    """Check the week's raw and clean partitions against the landed lines; return the clean manifest and the
    clean Parquet files it names (downloaded)."""
    s3 = stack.s3()

    def partition(layer: str) -> tuple[dict, str]:
        prefix = f"lake/{layer}/events/week={week}/"
        return json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "_manifest.json")["Body"].read()), prefix

    raw, prefix = partition("raw")
    raw_lines: list[str] = []
    for name in (n for n in raw["files"] if n.endswith(".csv.gz")):
        body = s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        raw_lines += gzip.decompress(body).decode().splitlines()[1:]  # each part has the header
    assert raw["rows"] == len(raw_lines) == len(lines), (week, raw["rows"], len(raw_lines), len(lines))
    assert Counter(raw_lines) == Counter(lines), f"{week}: the raw parts are not the landed lines"

    clean, prefix = partition("clean")
    files = []
    for name in clean["files"]:
        files.append(stack.root / "read" / week / name)
        files[-1].parent.mkdir(parents=True, exist_ok=True)
        files[-1].write_bytes(s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read())
    with duckdb.connect() as connection:
        ids = [row[0] for row in connection.execute("select event_id from read_parquet(?)", [[str(f) for f in files]]).fetchall()]
    expected = {event_id(line) for line in lines}
    assert clean["clean_rows"] == len(ids) == len(set(ids)) == len(expected) > 0, (week, clean, len(ids), len(expected))
    assert set(ids) == expected, f"{week}: clean event ids differ from the landed lines'"
    assert clean["rejected_rows"] == 0 and clean["duplicates"] == len(lines) - len(expected), (week, clean)
    assert partition("quarantine")[0]["rejected_rows"] == 0, week
    return clean, files


@contextmanager
def warehouse(stack: ProductionStack, timeout: float = 300) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection to the DuckDB file, once no writer holds it."""
    path = str(stack.data / "warehouse.duckdb")
    connection = wait_for(lambda: _try_connect(path), "the DuckDB file readable", timeout, poll=1)
    try:
        yield connection
    finally:
        connection.close()


def _try_connect(path: str) -> duckdb.DuckDBPyConnection | None:
    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.IOException:
        return None


def assert_warehouse_is_one_publish_per_week(stack: ProductionStack, landed: dict[str, list[str]],
                                             published: dict[str, tuple[dict, list[Path]]]) -> None:
    """raw.events holds, for every week, exactly the rows (every column) of the clean files its manifest
    names: one run's output, none twice, none missing; core.fct_events has the same events, once each."""
    with warehouse(stack) as connection:
        columns = [c[0] for c in connection.execute("select * from read_parquet(?) limit 0", [str(published[WEEKS[0]][1][0])]).description]
        listed = ", ".join(f'"{c}"' for c in columns)
        weeks = dict(connection.execute("select event_week::varchar, count(*) from raw.events group by 1").fetchall())
        assert sorted(weeks) == WEEKS, weeks  # nothing of another week, nothing missing
        for week in WEEKS:
            clean, files = published[week]
            paths = [str(f) for f in files]
            differ = connection.execute(
                f"select count(*) from ((select {listed} from raw.events where event_week = ?::date "
                f"except all select {listed} from read_parquet(?)) union all (select {listed} from read_parquet(?) "
                f"except all select {listed} from raw.events where event_week = ?::date))",
                [week, paths, paths, week],
            ).fetchone()[0]
            assert weeks[week] == clean["clean_rows"] and differ == 0, (week, weeks[week], clean["clean_rows"], differ)
            facts = [row[0] for row in connection.execute(
                "select event_id from core.fct_events where event_week = ?::date", [week]).fetchall()]
            assert len(facts) == len(set(facts)) == clean["clean_rows"], (week, len(facts), len(set(facts)))
            assert set(facts) == {event_id(line) for line in landed[week]}, f"{week}: fct_events differs from the landed lines"


# -- 0. two publishes of one week at once, in the order that used to break it --------------------------


@pytest.mark.parametrize("first", ["A", "B"])
def test_two_publishes_of_one_week_at_once_leave_it_whole(tmp_path, first):
    """Runs A and B both publish week 2019-10-14 to the S3 lake: both upload, then one switches its manifest
    in, and the other switches in while the first is still cleaning up (between its switch and the removal
    of its publishing marker). The stack's runs meet this way only by chance; here always. The manifest
    written last names objects that all exist, of its own generation only, and nothing else is left."""
    import boto3

    from ecommerce_assets.lib.lake import PUBLISHING, S3Lake

    key, bucket = "raw/events/week=2019-10-14", "race-lake"
    with moto_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="race", aws_secret_access_key="race")
        client.create_bucket(Bucket=bucket)

        def staged(text: str) -> Path:
            folder = tmp_path / f"staged-{text}"
            folder.mkdir()
            for part in ("part-00000.csv.gz", "part-00001.csv.gz"):
                (folder / part).write_bytes(gzip.compress(f"header\n{text}\n".encode()))
            return folder

        S3Lake(client, bucket, "lake", tmp_path / "staging").publish(staged("before"), key, {"rows": 0})
        uploaded = {run: threading.Event() for run in "AB"}
        switched = {run: threading.Event() for run in "AB"}
        second = "B" if first == "A" else "A"

        class Run(S3Lake):
            def __init__(self, name: str) -> None:
                super().__init__(client, bucket, "lake", tmp_path / f"staging-{name}")
                self.name = name

            def _switch(self, *args) -> None:
                uploaded[self.name].set()
                assert all(event.wait(60) for event in uploaded.values())  # both generations are uploaded
                if self.name == second:
                    assert switched[first].wait(60)
                super()._switch(*args)
                switched[self.name].set()

            def delete(self, object_keys: list[str]) -> None:
                if self.name == first and switched[first].is_set() and any(PUBLISHING in k for k in object_keys):
                    assert switched[second].wait(60)  # the other run switches in before this one's marker goes
                super().delete(object_keys)

        other = threading.Thread(target=Run("A").publish, args=(staged("A"), key, {"rows": 1}))
        other.start()
        Run("B").publish(staged("B"), key, {"rows": 2})
        other.join(60)
        assert switched["A"].is_set() and switched["B"].is_set()

        prefix = f"lake/{key}/"
        manifest = json.loads(client.get_object(Bucket=bucket, Key=prefix + "_manifest.json")["Body"].read())
        listed = {item["Key"][len(prefix):] for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert manifest["rows"] == {"A": 1, "B": 2}[second], manifest  # the last switch wins
    assert set(manifest["files"]) <= listed, f"the manifest names deleted objects: {sorted(set(manifest['files']) - listed)}"
    assert listed == {*manifest["files"], "_manifest.json"}, sorted(listed)
    assert len({name.split("-", 1)[0] for name in manifest["files"]}) == 1, manifest["files"]


# -- 1 and 2: two overlapping backfills at once, while the replay sensor and the weekly schedule fire ------


def schedule_selector(name: str) -> dict:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": name}


@contextmanager
def instance_of(stack: ProductionStack):
    """The stack's Dagster instance in this process (its PostgreSQL settings come from the environment)."""
    from dagster import DagsterInstance

    with mock.patch.dict(os.environ, {k: v for k, v in stack.env.items() if k.startswith("DAGSTER_")}):
        instance = DagsterInstance.from_config(str(stack.home))
        try:
            yield instance
        finally:
            instance.dispose()


def last_monday_one_am(now: dt.datetime) -> dt.datetime:
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=1, minute=0, second=0, microsecond=0)
    return monday if monday <= now else monday - dt.timedelta(days=7)


def start_schedule_as_of(stack: ProductionStack, name: str, since: dt.datetime) -> str:
    """Start the schedule through GraphQL, then move its start back to ``since``: the daemon's next pass
    (on the minute) then takes the tick after ``since`` as due. Started early in a minute, so that the
    pass sees the moved start."""
    from dagster._core.scheduler.instigation import (
        InstigatorType,
        ScheduleInstigatorData,
    )

    with instance_of(stack) as instance:  # opened first: the start and the move are a fraction of a second apart
        if not 3 <= time.time() % 60 <= 40:
            time.sleep((63 - time.time() % 60) % 60)
        started = graphql(stack.graphql_url, START_SCHEDULE, {"selector": schedule_selector(name)})["startSchedule"]
        assert started["__typename"] == "ScheduleStateResult" and started["scheduleState"]["status"] == "RUNNING", started
        [state] = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE) if s.name == name]
        instance.update_instigator_state(
            state.with_data(ScheduleInstigatorData(state.instigator_data.cron_schedule, since.timestamp()))
        )
    return started["scheduleState"]["id"]


@pytest.fixture(scope="module")
def scenario(stack) -> dict:
    """Two backfills launched back to back through GraphQL, as two users pressing "Materialize" in the UI at
    the same moment, overlapping on 2019-10-14; while their runs are in flight the history replay sensor is
    started (stopped after its first tick) and the weekly schedule fires its daemon tick. Everything is
    waited for; what happened is returned for the tests to judge."""
    started = time.time()
    backfills = {"first": launch_backfill(stack, FIRST, "first"), "second": launch_backfill(stack, SECOND, "second")}
    # Both backfills' runs exist (queued or running) before the sensor and the schedule fire.
    wait_for(lambda: all(backfill_state(stack, b)[1] for b in backfills.values()), "the backfills' runs created", 300, poll=1)

    sensor = graphql(stack.graphql_url, START_SENSOR, {"selector": sensor_selector("history_replay_sensor")})["startSensor"]
    assert sensor["__typename"] == "Sensor", sensor
    # The schedule's tick is the last Monday 01:00, whose week is outside the replayed history.
    schedule = start_schedule_as_of(stack, "weekly_events_schedule",
                                    last_monday_one_am(dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=1))

    def ticks(query: str, field: str, selector: dict) -> list[dict]:
        state = graphql(stack.graphql_url, query, {"selector": selector})[field]["sensorState" if field == "sensorOrError" else "scheduleState"]
        return [t for t in state["ticks"] if t["status"] in ("SUCCESS", "SKIPPED", "FAILURE")]

    sensor_ticks = wait_for(lambda: ticks(SENSOR, "sensorOrError", sensor_selector("history_replay_sensor")),
                            "a tick of the replay sensor", 300)
    stopped = graphql(stack.graphql_url, STOP_SENSOR, {"id": sensor["sensorState"]["id"]})["stopSensor"]
    assert stopped["__typename"] == "StopSensorMutationResult", stopped
    schedule_ticks = wait_for(lambda: ticks(SCHEDULE, "scheduleOrError", schedule_selector("weekly_events_schedule")),
                              "the weekly schedule's tick", 300)
    stopped = graphql(stack.graphql_url, STOP_SCHEDULE, {"id": schedule})["stopRunningSchedule"]
    assert stopped["__typename"] == "ScheduleStateResult", stopped

    sensor_runs = {run_id for tick in sensor_ticks for run_id in tick["runIds"]}
    wait_for_runs(stack, sensor_runs)
    by_backfill = wait_for_backfills(stack, list(backfills.values()))
    runs = {run["runId"]: run for run in all_runs(stack)}
    return {
        "backfill_runs": {name: [runs[r["runId"]] for r in by_backfill[b]] for name, b in backfills.items()},
        "sensor_ticks": sensor_ticks, "schedule_ticks": schedule_ticks,
        "sensor_runs": [runs[r] for r in sensor_runs], "runs": runs, "seconds": round(time.time() - started),
    }


def test_overlapping_backfills_one_writer_whole_weeks_one_result(stack, landed, scenario):
    first, second = scenario["backfill_runs"]["first"], scenario["backfill_runs"]["second"]
    assert len(first) == len(second) == 1, (first, second)  # single-run backfills: one run each
    a, b = first[0], second[0]
    # They did run at once: otherwise this test proves nothing about concurrency.
    assert a["startTime"] < b["endTime"] and b["startTime"] < a["endTime"], (a, b)
    # The production shape: run history is in PostgreSQL, not in DAGSTER_HOME's files, and the Spark
    # executors ran on the standalone worker, not in a run's driver.
    engine = create_engine(stack.postgres_url)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("select run_id, status from runs")).fetchall())
    engine.dispose()
    assert stored[a["runId"]] == stored[b["runId"]] == "SUCCESS", stored
    assert not list(stack.home.glob("history")) and not list(stack.home.rglob("*.db"))
    assert list((stack.root / "spark" / "worker").glob("app-*"))

    # Never two warehouse writers at once, across every run of the instance (the sensor's included).
    intervals = step_intervals(stack, warehouse_steps())
    assert_one_writer_at_a_time(intervals)
    for run in (a, b):
        assert {i.step for i in intervals if i.run_id == run["runId"]} >= {"warehouse_events", "weekly_dbt_models"}, intervals
    # Both runs wrote the shared week, each in its own turn.
    facts = Counter(materializations(stack, "core/fct_events"))
    assert facts[(a["runId"], "2019-10-14")] == facts[(b["runId"], "2019-10-14")] == 1, facts

    # Every week whole in the lake, and in the warehouse exactly one publish's rows, equal to the landed lines.
    assert_every_manifest_whole(stack)
    published = {week: published_week(stack, week, landed[week]) for week in WEEKS}
    assert_warehouse_is_one_publish_per_week(stack, landed, published)


def test_backfills_while_replay_sensor_and_weekly_schedule_fire(stack, scenario):
    runs = scenario["runs"]
    # Everything completed: no run of the instance failed or was canceled (no run was retried either).
    assert all(run["status"] == "SUCCESS" for run in runs.values()), runs
    backfill_runs = [r for rs in scenario["backfill_runs"].values() for r in rs]
    opened = min(r["creationTime"] for r in backfill_runs)
    closed = max(r["endTime"] for r in backfill_runs)

    # The sensor ticked once while the backfills' runs were in flight, and requested only the week they did
    # not cover: 2019-09-30 .. 2019-10-21 were being processed (2019-09-30 not yet materialized).
    [tick] = scenario["sensor_ticks"]
    assert tick["status"] == "SUCCESS" and opened <= tick["timestamp"] <= closed, (tick, opened, closed)
    [run] = scenario["sensor_runs"]
    assert weeks_of_run(run) == [SENSOR_WEEK] and run["tags"].get("ecommerce/replay") == "true", run
    assert run["startTime"] < closed, (run, closed)  # its run overlapped the backfills'

    # The schedule's daemon tick fired while they ran, and skipped, naming the week.
    [tick] = scenario["schedule_ticks"]
    due = last_monday_one_am(dt.datetime.now(dt.UTC))
    assert tick["status"] == "SKIPPED" and tick["timestamp"] == due.timestamp(), tick
    assert f"week {(due.date() - dt.timedelta(days=7)).isoformat()} is outside the weekly partitions" in tick["skipReason"], tick
    assert tick["endTimestamp"] is not None and opened <= tick["endTimestamp"] <= closed, (tick, opened, closed)


# -- 3. secrets never stored or shown ------------------------------------------------------------------

GRAPHQL_SURFACES = """
query Surfaces($repository: RepositorySelector!) {
  instance { info runLauncher { name } runQueueConfig { maxConcurrentRuns } }
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name displayMetadata { key value }
        locationOrLoadError { ... on RepositoryLocation { name environmentPath repositories { name displayMetadata { key value } } } }
      }
    }
  }
  allTopLevelResourceDetailsOrError(repositorySelector: $repository) {
    ... on ResourceDetailsList { results { name configuredValues { key value type } } }
  }
  utilizedEnvVarsOrError(repositorySelector: $repository) {
    ... on EnvVarWithConsumersList { results { envVarName } }
  }
}
"""
RUN_LOGS = """
query Logs($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor) {
    ... on EventConnection {
      cursor hasMore
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on DisplayableEvent { label description metadataEntries { ...Entry } }
        ... on ExecutionStepFailureEvent { error { message stack cause { message stack } } }
        ... on RunFailureEvent { pipelineRunError: error { message stack } }
        ... on LogsCapturedEvent { logKey }
      }
    }
  }
}
fragment Entry on MetadataEntry {
  label
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
  ... on MarkdownMetadataEntry { mdStr }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on TableMetadataEntry { table { records } }
}
"""
CAPTURED = """
query Captured($logKey: [String!]!) { capturedLogs(logKey: $logKey) { stdout stderr } }
"""


def _found(haystack: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in haystack]


def _readable(value: object) -> str:
    """A stored value as text: Dagster keeps snapshots zlib-compressed."""
    if isinstance(value, (bytes, memoryview)):
        raw = bytes(value)
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        return raw.decode("utf-8", "replace")
    return str(value)


def _file_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            pass
    return raw.decode("utf-8", "replace")


def test_secret_values_never_stored_or_shown(stack, scenario):
    runs = all_runs(stack)
    assert len(runs) >= 3, "the backfills of the tests above ran first"
    # The values were there to leak: in the environment of the processes that ran everything.
    for name in ("code-server", "daemon", "webserver"):
        environ = Path(f"/proc/{stack.processes[name].pid}/environ").read_bytes().decode("utf-8", "replace")
        assert not set(SECRETS) - set(_found(environ)), f"{name} did not get the secrets"

    leaks: dict[str, list[str]] = {}

    def look(where: str, haystack: str) -> None:
        if found := _found(haystack):
            leaks[where] = found

    # PostgreSQL: every row of every table of Dagster's database (event log, runs, snapshots, ticks, ...).
    engine = create_engine(stack.postgres_url)
    try:
        with engine.connect() as connection:
            tables = [row[0] for row in connection.execute(text(
                "select table_name from information_schema.tables where table_schema = 'public'"))]
            dumped = {table: "\n".join(" ".join(_readable(v) for v in row)
                                       for row in connection.execute(text(f'select * from "{table}"')))
                      for table in tables}
    finally:
        engine.dispose()
    assert {"event_logs", "runs", "snapshots"} <= set(tables), tables
    assert "s3://ecommerce-lake/lake" in dumped["event_logs"]  # the dump reads what the runs wrote
    for table, content in dumped.items():
        look(f"postgres table {table}", content)

    # Files: DAGSTER_HOME (compute logs under storage/), the Dagster and Spark processes' logs, the lake's
    # local staging and the warehouse, and dbt's per-invocation target folders written during this module.
    compute_logs = [p for p in (stack.home / "storage").rglob("*") if p.is_file()]
    assert any(p.suffix == ".err" and p.stat().st_size for p in compute_logs), "no compute logs captured"
    module_start = min(r["creationTime"] for r in runs) - 60
    dbt_files = [p for p in (ROOT / "ecommerce_dbt").rglob("*") if p.is_file() and p.stat().st_mtime >= module_start]
    for path in [*stack.root.rglob("*"), *dbt_files]:
        if path.is_file() and path.stat().st_size < 200_000_000:
            look(str(path.relative_to(stack.root if path.is_relative_to(stack.root) else ROOT)), _file_text(path))

    # GraphQL: every run's config, tags and logs, its captured stdout/stderr, and what the instance, the
    # workspace and the resources show.
    look("runsOrError", json.dumps(runs))
    log_keys = set()
    for run in runs:
        cursor, pages = None, []
        while True:
            page = graphql(stack.graphql_url, RUN_LOGS, {"runId": run["runId"], "cursor": cursor})["logsForRun"]
            pages.append(json.dumps(page))
            # The UI's key of a step's captured stdout/stderr: run id, "compute_logs", the event's file key.
            log_keys |= {(run["runId"], "compute_logs", e["logKey"]) for e in page["events"] if e.get("logKey")}
            cursor = page["cursor"]
            if not page["hasMore"]:
                break
        look(f"logsForRun {run['runId']}", "\n".join(pages))
    assert log_keys, "no captured logs announced"
    for key in log_keys:
        captured = graphql(stack.graphql_url, CAPTURED, {"logKey": list(key)})["capturedLogs"]
        look(f"capturedLogs {'/'.join(key)}", json.dumps(captured))
    surfaces = graphql(stack.graphql_url, GRAPHQL_SURFACES,
                       {"repository": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}})
    assert surfaces["allTopLevelResourceDetailsOrError"]["results"], surfaces
    look("instance, workspace, resources", json.dumps(surfaces))
    assert not leaks, f"secret values found: {leaks}"
