"""Fault injection: each stage killed with SIGKILL at points drawn from a seed (a marker in the code, or a
random time within the stage's measured duration), on the local lake and, for the raw split and the
Spark clean, on S3 (moto); and the lake and the warehouse on a full disk (a small tmpfs).

After a fault, what was published before is still whole and readable (same rows, manifests, checks:
raw = clean + duplicates + rejected per week, warehouse weeks whole, the DuckDB file opens), nothing
half-written is visible, and a plain rerun gives the rows of a run with no fault. Each case works on a
copy of one reference folder built per module. ``bench/faults.py`` runs every point, more times, on
both lakes, and prints the table; ``ECOMMERCE_FAULTS_SEED`` picks other points here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import shutil

import boto3
import dagster as dg
import pytest

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.lake import RAW_SUFFIX, Lake
from ecommerce_assets_tests import faults as F
from ecommerce_assets_tests.helpers import check_results, materialize_weeks
from ecommerce_assets_tests.services import moto_server

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("ECOMMERCE_FAULTS_SEED", "20261201"))
# Set to a file path: each scenario's row of the docs/reliability.md table (Markdown) is appended to it.
TABLE = os.environ.get("ECOMMERCE_FAULTS_TABLE")
BUCKET = "faults-lake"
# Points per stage: two, one for the dbt stages (their kill and rerun cost ~40 s each; bench/faults.py runs all).
PER_STAGE = {"weekly dbt": 1, "history dbt": 1}


def _cases(lake: str, stages: list[str], count: int) -> list:
    """``count`` points per stage (at most), and for a timed point the fraction of the stage's duration it waits."""
    cases = []
    for stage in stages:
        rng = random.Random(f"{SEED}/{lake}/{stage}")
        for point in F.choose(rng, stage, min(count, PER_STAGE.get(stage, count)), lake):
            fraction = rng.uniform(0.05, 0.7) if point.timed else None
            cases.append(pytest.param(point, fraction, id=f"{stage}: {point.name}"))
    return cases


def _record(row: list[str]) -> None:
    if TABLE:
        with open(TABLE, "a") as table:
            table.write("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |\n")


def _check(report: F.Report) -> None:
    _record(report.row())
    point, outcome = report.point, report.outcome
    if not point.timed:
        assert outcome.reached, f"the run ended before {point.label}:\n{outcome.log}"
    assert "hung" not in outcome.detail, outcome.detail
    assert not report.problems, f"half-written output visible after {point.label}: {report.problems}"
    assert report.lost == 0 and not report.diffs, f"published output changed by {point.label}: {report.diffs}"
    assert report.rerun_ok, f"the rerun after {point.label} failed: {report.rerun_message}"
    assert report.rerun_identical, f"the rerun after {point.label} differs from a run with no fault: {report.rerun_diffs}"
    assert not report.after_rerun, f"scratch left after the rerun: {report.after_rerun}"


@pytest.fixture(scope="module")
def references(spark, tmp_path_factory):
    """Built on first use: the pipeline over both weeks, a landed dump, the generator's output."""
    base, built = tmp_path_factory.mktemp("faults"), {}

    def get(stage: str) -> F.Reference:
        kind = stage if stage in ("land", "generate") else "pipeline"
        if kind not in built:
            make = {"land": F.land_reference, "generate": F.generate_reference, "pipeline": F.build_reference}[kind]
            built[kind] = make(base / kind)
        return built[kind]

    return get


@pytest.mark.parametrize(("point", "fraction"), _cases("local", F.STAGES, 2))
def test_a_killed_stage_leaves_what_was_published_and_a_rerun_restores_it(references, point, fraction, tmp_path):
    reference = references(point.stage)
    delay = fraction * reference.durations[point.stage] if fraction is not None else None
    _check(F.kill_scenario(reference, point, tmp_path / "data", delay))


# -- the lake on S3 ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_reference(spark, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch, moto_server() as endpoint:
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(name, value)  # the killed child inherits them
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        base = tmp_path_factory.mktemp("faults-s3")
        yield F.build_reference(base / "reference", f"s3://{BUCKET}/reference", endpoint, ["raw split", "spark clean"])


@pytest.mark.stack
@pytest.mark.parametrize(("point", "fraction"), _cases("s3", ["raw split", "spark clean"], 1))
def test_a_killed_stage_on_s3_leaves_what_was_published(s3_reference, point, fraction, tmp_path):
    delay = fraction * s3_reference.durations[point.stage] if fraction is not None else None
    _check(F.kill_scenario(s3_reference, point, tmp_path / "data", delay, lake_url=f"s3://{BUCKET}/{tmp_path.name}"))


# -- a full disk ---------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    try:
        with F.small_disk(tmp_path / "disk", "48m") as disk:
            yield disk
    except PermissionError as error:
        pytest.skip(f"a full disk needs a small filesystem: {error}")


# Not the warehouse load: on a local lake it writes no copy of the events (raw.events is a view over the
# clean files), only a line per week, and a full disk does not stop it.
@pytest.mark.parametrize("stage", ["raw split", "spark clean"])
def test_a_full_disk_fails_the_run_by_name_and_keeps_what_was_published(references, small_disk, stage):
    report = F.disk_full_scenario(references("pipeline"), stage, small_disk)
    _record(report.row())
    assert not report.success, f"{stage} succeeded on a full disk"
    assert F.names_the_disk(report.message, report.folder), report.message[-2000:]
    assert not report.problems, report.problems
    assert not report.diffs, f"published output changed by a failed {stage}: {report.diffs}"
    assert report.rerun_ok, report.rerun_message
    assert report.rerun_identical, report.rerun_diffs


# -- the lake's own guards, without a kill ---------------------------------------------------------------------

def test_publish_without_an_atomic_exchange_keeps_the_old_copy_out_of_the_published_folder(tmp_path, monkeypatch):
    """Where the filesystem cannot exchange two folders, the old week moves into staging first: nothing
    but week folders is ever beside the published weeks."""
    from ecommerce_assets.lib import lake

    store = lake.Lake(tmp_path / "lake")
    for content, exchange in ((b"first", True), (b"second", True), (b"third", False)):
        if not exchange:
            monkeypatch.setattr(lake, "_exchange", lambda staged, final: False)
        staged = store.staging("raw-2019-10-14")
        (staged / "part-2019-10-00000.csv.gz").write_bytes(content)
        store.publish(staged, "raw/events/week=2019-10-14", {"rows": 1})
        assert (store.path("raw/events/week=2019-10-14") / "part-2019-10-00000.csv.gz").read_bytes() == content
        assert [p.name for p in store.path("raw/events").iterdir()] == ["week=2019-10-14"]
        assert not any(store.staging_root.iterdir())


def test_staging_left_by_a_dead_process_is_removed_by_the_next_run_and_a_live_ones_kept(tmp_path):
    import socket
    import subprocess
    import sys

    from ecommerce_assets.lib import lake

    store = lake.Lake(tmp_path / "lake")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = socket.gethostname()
    leftovers = [store.staging_root / f"raw-2019-10-14.{host}.{dead.stdout.strip()}.0123456789ab",
                 store.staging_root / f"clean.{host}.{os.getpid()}.0123456789ab",  # this process: alive
                 store.staging_root / f"clean.another-host.{dead.stdout.strip()}.0123456789ab",  # not ours to judge
                 store.staging_root / "made-by-hand"]
    for folder in leftovers:
        folder.mkdir(parents=True)
    fresh = store.staging("raw-2019-10-21")
    assert sorted(p.name for p in store.staging_root.iterdir()) == sorted([fresh.name, *(p.name for p in leftovers[1:])])


def test_a_raw_week_published_again_while_spark_reads_it_is_cleaned_again(spark, settings, monkeypatch):
    """Another run publishes the raw week again (here: shorter by a few lines) after the clean read its
    manifest and before Spark read its files. The clean notices the new generation, discards what it
    read, and its step runs again: the published clean week accounts for the new raw week's lines."""
    from ecommerce_assets.lib.spark import pipeline

    week = "2019-10-07"
    generate(settings.lake / "landing", 0.0002, parse_months("2019-10"), seed=3)
    materialize_weeks(settings, week, selection=dg.AssetSelection.assets("raw_events"))
    store = Lake(settings.lake)
    key = store.raw_week(dt.date.fromisoformat(week))
    before = store.read_manifest(key)

    def republish_shorter() -> int:
        stage = store.staging("republish")
        for path in store.files(key, ""):
            shutil.copy(path, stage)
        part = sorted(stage.glob(f"*{RAW_SUFFIX}"))[0]
        lines = gzip.decompress(part.read_bytes()).splitlines(keepends=True)
        part.write_bytes(gzip.compress(b"".join(lines[:-5])))  # the part's last 5 lines go; its line map still holds for the rest
        store.publish(stage, key, {k: v for k, v in before.items() if k != "generation"} | {"rows": before["rows"] - 5})
        return before["rows"] - 5

    calls, original = [], pipeline._write_outputs

    def write_outputs(*args, **kwargs):
        if not calls:
            calls.append(republish_shorter())
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_write_outputs", write_outputs)
    result = materialize_weeks(settings, week, selection=dg.AssetSelection.assets("clean_events", "rejected_events"))

    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == 1 and retried[0].step_key == "clean_events", [e.event_type_value for e in result.all_events]
    raw, clean = store.read_manifest(key), store.read_manifest(store.clean_week(dt.date.fromisoformat(week)))
    assert raw["rows"] == calls[0] == clean["raw_rows"] == clean["clean_rows"] + clean["duplicates"] + clean["rejected_rows"]
    assert raw["generation"] != before["generation"]
    assert all(check_results(result).values()), check_results(result)
