"""The lake on S3 (a moto server on 127.0.0.1): two weeks end to end with the same checks, an idempotent
rerun, and a run killed in the middle of publishing that leaves the previous week readable."""

import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import boto3
import dagster as dg
import duckdb
import pytest

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets.lib.spark.config import s3a_config, s3a_lake_url, spark_config
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.helpers import check_results, lines_by_week, materialize_weeks
from ecommerce_assets_tests.services import moto_server

pytestmark = pytest.mark.stack

BUCKET, PREFIX = "ecommerce-lake", "lake"
WEEKS = ("2019-10-07", "2019-10-14")
# Lines the split routes (their time is readable) and Spark rejects, injected into the weeks' landing file.
REJECTABLE = {
    "2019-10-08 10:00:00 UTC,click,1004856,2053013555631882655,,samsung,130.76,543272936,s": "unknown_event_type",
    "2019-10-16 10:00:01 UTC,view,1004856,2053013555631882655,,samsung,-130.76,543272936,s": "negative_price",
}


@pytest.fixture(scope="module")
def s3():
    """A moto S3 endpoint with the lake bucket; fake keys in the environment, as boto3's chain reads them."""
    with pytest.MonkeyPatch.context() as patch, moto_server() as endpoint:
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(name, value)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client


def _env(tmp_path, endpoint) -> dict[str, str]:
    return {
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "SPARK_MASTER": "local[2]",
        "ECOMMERCE_LAKE": f"s3://{BUCKET}/{PREFIX}", "ECOMMERCE_S3_ENDPOINT_URL": endpoint,
    }


def _manifest(client, key: str) -> dict:
    return json.loads(client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}/_manifest.json")["Body"].read())


def _objects(client) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _raw_lines(client, week: str) -> int:
    """Lines in the week's current raw files, read through the manifest as any reader must."""
    key = f"raw/events/week={week}"
    return sum(
        len(gzip.decompress(client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}/{name}")["Body"].read()).splitlines()) - 1
        for name in _manifest(client, key)["files"]
        if name.endswith(".csv.gz")  # not the parts' line maps
    )


def _inject(path) -> None:
    """Each REJECTABLE line before the first generated line of its day."""
    with gzip.open(path, "rt", newline="") as handle:
        header, *lines = handle.read().splitlines()
    for line in REJECTABLE:
        lines.insert(next(i for i, other in enumerate(lines) if other[:10] >= line[:10]), line)
    path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode()))


@pytest.fixture(scope="module")
def lake_on_s3(spark, s3, tmp_path_factory):
    """Landing files uploaded to the bucket, then the two weeks materialized once for the module's tests
    (each leaves the lake as consistent as it found it)."""
    endpoint, client = s3
    tmp_path = tmp_path_factory.mktemp("s3-lake")
    files = generate(tmp_path / "landing", 0.0002, parse_months("2019-10"), seed=13)
    _inject(files[0])
    for path in files:
        client.upload_file(str(path), BUCKET, f"{PREFIX}/landing/{path.name}")
    settings = load_settings(env=_env(tmp_path, endpoint))
    result = materialize_weeks(settings, *WEEKS)
    assert result.success
    return settings, client, files, result, tmp_path


def test_two_weeks_on_s3_pass_the_same_checks(lake_on_s3):
    settings, client, files, result, _ = lake_on_s3
    checks = check_results(result)
    assert {"row_accounting", "rows_match_clean"} <= set(checks) and all(checks.values()), checks

    expected = lines_by_week(files)
    for week in WEEKS:
        raw = _manifest(client, f"raw/events/week={week}")
        assert raw["rows"] == len(expected[dt.date.fromisoformat(week)]) == _raw_lines(client, week)
        clean = _manifest(client, f"clean/events/week={week}")
        assert clean["raw_rows"] == raw["rows"] and clean["clean_rows"] > 0
        # Every listed object exists; nothing but the listed generation and the manifest is left.
        for prefix in (f"raw/events/week={week}", f"clean/events/week={week}"):
            listed = {f"{PREFIX}/{prefix}/{name}" for name in _manifest(client, prefix)["files"]}
            present = {key for key in _objects(client) if key.startswith(f"{PREFIX}/{prefix}/")}
            assert present == listed | {f"{PREFIX}/{prefix}/_manifest.json"}
    assert not [key for key in _objects(client) if "_staging" in key]
    assert not any(settings.staging_dir.rglob("*.parquet")) and not any(settings.staging_dir.rglob("*.gz"))

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        loaded = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    assert loaded == {week: _manifest(client, f"clean/events/week={week}")["clean_rows"] for week in WEEKS}


def test_quarantine_on_s3_names_the_landing_file_and_line(lake_on_s3):
    """Parts and line maps staged from S3 (generation-prefixed names) still meet: every quarantined row
    names the line of the dump as delivered."""
    _, client, files, _, tmp_path = lake_on_s3
    with gzip.open(files[0], "rt", newline="") as handle:
        delivered = {number: line.rstrip("\n") for number, line in enumerate(handle, 1)}
    rows = []
    for week in WEEKS:
        raw = _manifest(client, f"raw/events/week={week}")["files"]
        parts = {name.removesuffix(".csv.gz") for name in raw if name.endswith(".csv.gz")}
        assert parts and parts == {name.removesuffix(".lines.gz") for name in raw if name.endswith(".lines.gz")}
        key = f"quarantine/events/week={week}"
        for name in _manifest(client, key)["files"]:
            target = tmp_path / "quarantine" / week / name
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(BUCKET, f"{PREFIX}/{key}/{name}", str(target))
            rows += duckdb.execute(
                "select landing_file, landing_line, raw_line, reject_reason from read_parquet(?)", [str(target)]
            ).fetchall()
    assert {line: reason for _, _, line, reason in rows} == REJECTABLE and len(rows) == len(REJECTABLE)
    for name, number, line, _ in rows:
        assert (name, delivered[number]) == ("2019-Oct.csv.gz", line)


def test_rerun_on_s3_is_idempotent(lake_on_s3):
    settings, client, _, _, _ = lake_on_s3
    before = {key: _manifest(client, key) for week in WEEKS for key in (f"raw/events/week={week}", f"clean/events/week={week}")}
    count_before = len(_objects(client))
    again = materialize_weeks(settings, *WEEKS)
    assert again.success and all(check_results(again).values())
    after = {key: _manifest(client, key) for key in before}
    strip = lambda m: {k: v for k, v in m.items() if k not in ("files", "generation")}  # noqa: E731
    assert {k: strip(v) for k, v in after.items()} == {k: strip(v) for k, v in before.items()}
    # A new generation replaced the old one, whose objects are gone.
    assert all(after[k]["generation"] != before[k]["generation"] for k in before)
    assert all(set(after[k]["files"]).isdisjoint(before[k]["files"]) for k in before)
    assert all(name.startswith(f"g{after[k]['generation']}-") for k in after for name in after[k]["files"])
    assert len(_objects(client)) == count_before
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from raw.events").fetchone()[0] == sum(
            after[f"clean/events/week={w}"]["clean_rows"] for w in WEEKS
        )


KILLED_RUN = """
import sys, time
from ecommerce_assets.lib import lake
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import materialize_weeks
import dagster as dg

upload = lake.S3Lake.upload
def slow_upload(self, path, key):
    upload(self, path, key)
    if "raw/events" in key:
        time.sleep(30)  # long enough to be killed between two objects of one week
lake.S3Lake.upload = slow_upload
materialize_weeks(load_settings(), sys.argv[1], selection=dg.AssetSelection.assets("raw_events"))
"""


def test_a_run_killed_while_publishing_leaves_the_previous_week_readable(lake_on_s3, s3, tmp_path):
    settings, client, _, _, lake_tmp = lake_on_s3
    endpoint, _ = s3
    week = WEEKS[0]
    key = f"raw/events/week={week}"
    before, lines_before = _manifest(client, key), _raw_lines(client, week)
    script = tmp_path / "killed_run.py"
    script.write_text(textwrap.dedent(KILLED_RUN))
    env = {**os.environ, **_env(lake_tmp, endpoint), "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen([sys.executable, str(script), week], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 180
        new_objects: list[str] = []
        while not new_objects:
            assert run.poll() is None and time.time() < deadline, run.stdout.read() if run.poll() is not None else "timeout"
            listed = set(before["files"])
            new_objects = [k for k in _objects(client)
                           if k.startswith(f"{PREFIX}/{key}/g") and k.rsplit("/", 1)[-1] not in listed]
            time.sleep(0.2)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    # Half of a new generation is in the bucket, but the manifest still names the old one, whole.
    assert _manifest(client, key) == before
    assert _raw_lines(client, week) == lines_before == before["rows"]
    # The next run cleans the week from what the manifest lists, and its own publish removes the orphans.
    cleaned = materialize_weeks(settings, week, selection=dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events"))
    assert cleaned.success and all(check_results(cleaned).values())
    assert _manifest(client, f"clean/events/week={week}")["raw_rows"] == before["rows"]
    assert not [k for k in new_objects if k in _objects(client)]


def test_s3a_configuration_for_a_cluster_image():
    settings = load_settings(env={
        "ECOMMERCE_LAKE": "s3://bucket/lake", "ECOMMERCE_S3_ENDPOINT_URL": "http://minio:9000",
        "SPARK_MASTER": "spark://spark-master:7077", "ECOMMERCE_SPARK_LAKE_ACCESS": "s3a",
        "ECOMMERCE_SPARK_EXECUTOR_MEMORY": "3g", "ECOMMERCE_SPARK_EXECUTOR_CORES": "2", "ECOMMERCE_SPARK_CORES_MAX": "4",
        "AWS_SECRET_ACCESS_KEY": "never-in-config",
    })
    config = spark_config(settings)
    assert config["spark.master"] == "spark://spark-master:7077"
    assert (config["spark.executor.memory"], config["spark.executor.cores"], config["spark.cores.max"]) == ("3g", "2", "4")
    s3a = s3a_config(settings)
    assert s3a["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert s3a["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert s3a.items() <= config.items()
    assert not any("never-in-config" in value for value in config.values())
    assert s3a_lake_url(settings.lake_url, "raw/events/week=2019-10-07") == "s3a://bucket/lake/raw/events/week=2019-10-07"
    staged = load_settings(env={"ECOMMERCE_LAKE": "s3://bucket/lake", "SPARK_MASTER": "local[2]"})
    assert not any(key.startswith("spark.hadoop.fs.s3a") for key in spark_config(staged))
