"""Fault injection, shared by test_faults.py and bench/faults.py: a pipeline stage run in a child process
and killed with SIGKILL at a chosen point, and what the lake and the warehouse must look like afterwards.

A scenario works on a copy of a *reference* data folder in which the weeks W1 and W2 went through every
stage with no fault. The killed run materializes one stage again on the same inputs, so whichever
generation each partition is at after the kill, its rows must be the reference's: every difference is
a row lost or a half-written partition. Then a plain rerun of the stage must give the reference's rows
again (clean rows and event_ids, warehouse and mart rows; compared as sorted rows, not file bytes).

Kill points are named: a *marker* point makes the child pause (or just report) at a place in the code
(the child patches the function that gets there, writes a marker file and sleeps; the parent kills it
when the marker appears); a *timed* point kills after a delay drawn from a seeded RNG within the stage's
measured duration, counted from an anchor marker (the stage's start, or Spark's session being up).
Whom the kill hits: the child's whole process group (the run's process, Spark's JVM, dbt: a crash of
the machine or the container), the Python driver only, Spark's JVM only, or dbt only.

The child is ``python -m ecommerce_assets_tests.faults child SPEC``; everything else runs in the caller.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
W1, W2 = "2019-10-07", "2019-10-14"
WEEKS = (W1, W2)
MONTH = "2019-10"
SCALE, SEED = 0.0002, 17
# Lines the raw split routes but Spark rejects, and one it cannot route: the quarantines are not empty.
INJECTED = [
    "2019-10-08 10:00:00 UTC,click,1004856,2053013555631882655,,samsung,130.76,543272936,s",
    "2019-10-16 10:00:01 UTC,view,1004856,2053013555631882655,,samsung,-130.76,543272936,s",
    "2019-10-17 99:00:00 UTC,view,1004856,2053013555631882655,,samsung,130.76,543272936,s",
]
PIPELINE_STAGES = ["raw split", "spark clean", "warehouse load", "weekly dbt", "history dbt", "dashboard"]
STAGES = [*PIPELINE_STAGES, "land", "generate"]
# Columns stamped by the run (its times) or naming where its lake is (raw.event_weeks.folder), not a
# function of the data: left out of row comparisons.
RUN_TIME_COLUMNS = {"loaded_at", "refreshed_at", "folder"}
_GENERATION = re.compile(r"^g[0-9a-f]{12}-")


# -- scenario folders ------------------------------------------------------------------------------------

@dataclass
class Folder:
    """A data folder (lake, warehouse, reports, staging) and how the pipeline reaches its lake."""

    data: Path
    lake_url: str | None = None  # None: <data>/lake; or s3://bucket/prefix
    endpoint: str | None = None

    @property
    def on_s3(self) -> bool:
        return bool(self.lake_url and self.lake_url.startswith("s3://"))

    def env(self) -> dict[str, str]:
        env = {
            "ECOMMERCE_DATA_DIR": str(self.data), "SPARK_MASTER": "local[2]", "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
            "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": "4", "ECOMMERCE_DUCKDB_MEMORY_LIMIT": "1GB",
        }
        if self.lake_url:
            env["ECOMMERCE_LAKE"] = self.lake_url
        if self.endpoint:
            env["ECOMMERCE_S3_ENDPOINT_URL"] = self.endpoint
        return env

    def settings(self):
        from ecommerce_assets.lib.settings import load_settings

        return load_settings(env=self.env())

    def store(self):
        from ecommerce_assets.defs.resources import build_resources

        return build_resources(self.settings())["lake"].lake

    def copy(self, data: Path, lake_url: str | None = None) -> Folder:
        """This folder's files under ``data`` (an S3 lake's objects under ``lake_url``, copied in the bucket)."""
        shutil.copytree(self.data, data, symlinks=True)
        if not self.on_s3:
            return Folder(data)
        assert lake_url is not None
        store, (bucket, prefix) = self.store(), _split(self.lake_url)
        _, new_prefix = _split(lake_url)
        for item in _list_objects(store.client, bucket, prefix + "/"):
            store.client.copy_object(Bucket=bucket, Key=new_prefix + item[len(prefix):],
                                     CopySource={"Bucket": bucket, "Key": item})
        return Folder(data, lake_url, self.endpoint)


def _split(url: str) -> tuple[str, str]:
    from ecommerce_assets.lib.settings import split_s3_url

    return split_s3_url(url)


def _list_objects(client, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def landing_files(out: Path, scale: float = SCALE, seed: int = SEED) -> list[Path]:
    """The weeks' days (October only), generated, with INJECTED lines placed in time order."""
    from ecommerce_assets.lib.generator.synthetic import generate

    files = generate(out, scale, seed=seed, start=dt.date(2019, 10, 7), end=dt.date(2019, 10, 20), workers=1)
    for path in files:
        with gzip.open(path, "rt", newline="") as handle:
            header, *lines = handle.read().splitlines()
        for line in INJECTED:
            lines.insert(next((i for i, other in enumerate(lines) if other[:10] >= line[:10]), len(lines)), line)
        path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))
    return files


# -- running a stage (in process, or in the child) ----------------------------------------------------------

def materialize(folder_env: dict[str, str], stage: str, weeks: list[str]):
    """One stage as one run (a range of weeks in one run), in this process; the Dagster result."""
    import dagster as dg

    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets_tests.helpers import ALL_ASSETS, STAGES

    tags, partition = {}, None
    if stage in PIPELINE_STAGES[:4]:
        if len(weeks) == 1 or weeks[0] == weeks[-1]:
            partition = weeks[0]
        else:
            tags = {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]}
    return dg.materialize(
        ALL_ASSETS, selection=STAGES[stage], partition_key=partition, tags=tags,
        resources=build_resources(load_settings(env=folder_env)), raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )


def failure_message(result) -> str:
    """The failed steps' error messages, as the run's event log shows them."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            texts.append(error.to_string() if error else str(event.message))
    return "\n".join(texts)


def run_cli(argv: list[str]) -> int:
    from ecommerce_assets.cli import main

    return main(argv)


# -- kill points ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """Where a run is killed. ``marker``: the child writes it (pausing there unless ``passing``); else a
    timed kill, ``anchor`` + a delay. ``target``: group (every process of the run), driver, jvm or dbt."""

    stage: str
    name: str
    description: str
    marker: str | None = None
    passing: bool = False  # the child does not pause at the marker (dbt's events): killed just after it
    anchor: str = "body"  # timed points: the stage's own work began (see install_anchors)
    target: str = "group"
    weeks: tuple[str, ...] = (W2,)
    lakes: tuple[str, ...] = ("local",)

    @property
    def timed(self) -> bool:
        return self.marker is None

    @property
    def label(self) -> str:
        return f"{self.stage}: {self.name}"


BOTH = (W1, W2)
POINTS: list[Point] = [
    # raw split: a two-week run over weeks already published (a backfill of the range)
    Point("raw split", "staged", "both weeks' parts written to staging, none published", "raw:staged", weeks=BOTH, lakes=("local", "s3")),
    Point("raw split", "between weeks", "W1 published, W2 not yet", "raw:second-publish", weeks=BOTH, lakes=("local", "s3")),
    Point("raw split", "after swap", "W2's new folder swapped in, the old one not yet deleted", "raw:after-swap", weeks=BOTH),
    Point("raw split", "mid upload", "W1's first new object uploaded, its manifest not yet switched", "raw:mid-upload", weeks=BOTH, lakes=("s3",)),
    Point("raw split", "manifest switched", "W1's manifest names the new objects, the old ones not yet deleted", "raw:switched", weeks=BOTH, lakes=("s3",)),
    Point("raw split", "at t", "a random time after the run started", weeks=BOTH, lakes=("local", "s3")),
    # Spark clean
    Point("spark clean", "at t (run)", "while Spark runs: the run's process, its JVM and workers", weeks=BOTH, lakes=("local", "s3")),
    Point("spark clean", "at t (driver)", "while Spark runs: the Python driver only", target="driver", weeks=BOTH, lakes=("local", "s3")),
    Point("spark clean", "at t (JVM)", "while Spark runs: Spark's JVM only", target="jvm", weeks=BOTH, lakes=("local", "s3")),
    Point("spark clean", "written", "the batch (both weeks) written by Spark to staging, none published", "clean:written", weeks=BOTH, lakes=("local", "s3")),
    Point("spark clean", "clean published", "W1's clean events published, its quarantine not", "clean:second-publish", weeks=BOTH, lakes=("local", "s3")),
    Point("spark clean", "between weeks", "W1 published, W2 not yet", "clean:third-publish", weeks=BOTH, lakes=("local", "s3")),
    # warehouse load: W2 replaced, W1 untouched
    Point("warehouse load", "deleted", "inside the transaction: W2's rows deleted, none inserted", "load:deleted"),
    Point("warehouse load", "inserted", "inside the transaction: W2's rows inserted, not committed", "load:inserted"),
    Point("warehouse load", "at t", "a random time after the run started"),
    # dbt (each model commits on its own; the kill follows the named model's end)
    Point("weekly dbt", "after fct_events", "dbt reported fct_events built", "dbt:fct_events", passing=True),
    Point("weekly dbt", "after int_user_weeks", "dbt reported int_user_weeks built", "dbt:int_user_weeks", passing=True),
    Point("weekly dbt", "at t", "a random time after the run started"),
    Point("weekly dbt", "at t (dbt)", "a random time: dbt only (the run's process sees it die)", target="dbt"),
    Point("weekly dbt", "at t (driver)", "a random time: the run's process only, dbt left running", target="driver"),
    Point("history dbt", "after dim_users", "dbt reported dim_users built (dimensions), marts pending", "dbt:dim_users", passing=True),
    Point("history dbt", "after mart_daily_kpis", "dbt reported mart_daily_kpis built, other marts pending", "dbt:mart_daily_kpis", passing=True),
    Point("history dbt", "at t", "a random time after the run started"),
    Point("history dbt", "at t (dbt)", "a random time: dbt only", target="dbt"),
    Point("history dbt", "at t (driver)", "a random time: the run's process only, dbt left running", target="driver"),
    # dashboard
    Point("dashboard", "partial written", "the new page written aside, not yet renamed", "replace:dashboard.html.partial"),
    Point("dashboard", "at t", "a random time after the run started"),
    # ecommerce land: a changed 2019-Oct.csv over one landed before
    Point("land", "moved aside", "the landed file moved to _replaced/, the new copy not yet renamed in", "replaced:2019-Oct.csv"),
    Point("land", "copied", "the copy complete and checked, not yet renamed", "replace:2019-Oct.csv.partial"),
    Point("land", "renamed", "the new file renamed into place, its checksum file not yet updated", "replaced:2019-Oct.csv.partial"),
    Point("land", "checksum opened", "the checksum file opened for writing, nothing written yet", "sidecar:2019-Oct.csv"),
    Point("land", "at t", "a random time after the command started", anchor="started"),
    # ecommerce generate: two months into an empty folder
    Point("generate", "one month done", "October complete, November being generated", "replaced:2019-Oct.csv.gz.partial"),
    Point("generate", "at t", "a random time after the command started", anchor="started"),
]


def points(stage: str | None = None, lake: str = "local") -> list[Point]:
    return [p for p in POINTS if (stage is None or p.stage == stage) and lake in p.lakes]


def choose(rng: random.Random, stage: str, count: int, lake: str = "local") -> list[Point]:
    """``count`` distinct points of a stage on a lake, drawn with ``rng``: from two on, at least one timed
    point and one marker point."""
    candidates = points(stage, lake)
    timed, marked = [p for p in candidates if p.timed], [p for p in candidates if not p.timed]
    if count < 2 or not timed or not marked:
        return rng.sample(candidates, min(count, len(candidates)))
    first = [rng.choice(timed), rng.choice(marked)]
    rest = [p for p in candidates if p not in first]
    return first + rng.sample(rest, min(count - 2, len(rest)))


# -- where a stage's own work begins and ends ----------------------------------------------------------------

def install_anchors(event) -> Callable[[], None]:
    """Call ``event("body")`` when a stage's own work begins, after Dagster has started the run and the
    step (the raw split reading its month, Spark's session up, the load's transaction, dbt starting, the
    dashboard's queries), and ``event("done")`` after each of its writes (a partition published, the
    load returned, dbt's events read to the end, the page written). The stage's measured duration, within
    which a timed kill falls, is from the first "body" to the last "done". Returns what undoes it."""
    from dagster_dbt import DbtCliResource
    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

    from ecommerce_assets.lib import dashboard_page, lake
    from ecommerce_assets.defs.raw import raw_events
    from ecommerce_assets.defs.resources import ReportsResource, SparkResource
    from ecommerce_assets.warehouses.duckdb import DuckDBWarehouse

    def before(function):
        def wrapper(*args, **kwargs):
            event("body")
            return function(*args, **kwargs)

        return wrapper

    def after(function):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            event("done")
            return result

        return wrapper

    def stream_then_done(function):
        def wrapper(*args, **kwargs):
            yield from function(*args, **kwargs)
            event("done")

        return wrapper

    session = SparkResource.spark_session

    def spark_up(resource):
        value = session.fget(resource)
        event("body")
        return value

    patches = [
        (raw_events, "split_month", before), (DuckDBWarehouse, "replace_weeks", lambda f: after(before(f))),
        (DbtCliResource, "cli", before), (dashboard_page, "render_dashboard", before),
        (lake.Lake, "publish", after), (lake.S3Lake, "publish", after), (ReportsResource, "write", after),
        (DbtCliInvocation, "stream_raw_events", stream_then_done), (SparkResource, "spark_session", lambda _: property(spark_up)),
    ]
    saved = [(owner, name, vars(owner)[name]) for owner, name, _ in patches]
    for owner, name, wrap in patches:
        setattr(owner, name, wrap(getattr(owner, name)))

    def undo() -> None:
        for owner, name, original in saved:
            setattr(owner, name, original)

    return undo


# -- the child: hooks, then the stage ------------------------------------------------------------------------

class _Child:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.markers = spec, Path(spec["markers"])
        self.point: str | None = spec.get("marker")
        self.passing = spec.get("passing", False)
        self.counts: dict[str, int] = {}

    def mark(self, name: str) -> None:
        partial = self.markers / f".{name}.tmp"
        partial.write_text(f"{time.time()}\n")
        os.replace(partial, self.markers / name)

    def reached(self, name: str) -> None:
        """At the kill point: report it, and wait there to be killed (unless the point is passing)."""
        if name != self.point:
            return
        self.mark("point")
        if not self.passing:
            time.sleep(3600)

    def nth(self, key: str) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def install(self) -> None:
        point = self.point or ""
        if point.startswith(("raw:", "clean:")):
            self._lake_hooks()
        if point.startswith("load:"):
            self._load_hooks()
        if point.startswith("dbt:"):
            self._dbt_hooks()
        if point.startswith(("replace:", "replaced:", "sidecar:")):
            self._file_hooks()
        install_anchors(lambda name: self.mark(name) if name == "body" and not (self.markers / name).exists() else None)

    def _lake_hooks(self) -> None:
        from ecommerce_assets.lib import lake
        from ecommerce_assets.defs.raw import raw_events
        from ecommerce_assets.lib.spark import pipeline

        child = self
        split_month = raw_events.split_month

        def split_then_pause(*args, **kwargs):
            result = split_month(*args, **kwargs)
            child.reached("raw:staged")
            return result

        raw_events.split_month = split_then_pause
        write_batch = pipeline._write_batch

        def write_then_pause(*args, **kwargs):
            write_batch(*args, **kwargs)
            child.reached("clean:written")

        pipeline._write_batch = write_then_pause
        for cls in (lake.Lake, lake.S3Lake):
            original = cls.publish

            def counted(self, staged, key, manifest, _original=original):
                layer = "raw" if key.startswith("raw/events") else "clean" if key.startswith(("clean/", "quarantine/events")) else None
                if layer:
                    n = child.nth(layer)
                    child.reached({2: f"{layer}:second-publish", 3: f"{layer}:third-publish"}.get(n, ""))
                return _original(self, staged, key, manifest)

            cls.publish = counted
        exchange = lake._exchange

        def exchange_then_pause(staged, final):
            swapped = exchange(staged, final)
            if "raw/events/week=" + W2 in str(final):
                child.reached("raw:after-swap")
            return swapped

        lake._exchange = exchange_then_pause
        upload, delete = lake.S3Lake.upload, lake.S3Lake.delete

        def upload_then_pause(self, path, key):
            upload(self, path, key)
            if key.startswith("raw/events"):
                child.reached("raw:mid-upload")

        def pause_then_delete(self, object_keys):
            if any("/raw/events/" in k for k in object_keys):
                child.reached("raw:switched")
            delete(self, object_keys)

        lake.S3Lake.upload, lake.S3Lake.delete = upload_then_pause, pause_then_delete

    def _load_hooks(self) -> None:
        from ecommerce_assets.warehouses.duckdb import DuckDBWarehouse

        child, connect = self, DuckDBWarehouse.connect

        class Watched:
            def __init__(self, connection) -> None:
                self._connection = connection

            def execute(self, sql, *args, **kwargs):
                result = self._connection.execute(sql, *args, **kwargs)
                # The table's copy (a lake on S3) or the view's registry of weeks (a local lake).
                if sql.startswith(("delete from raw.events", "delete from raw.event_weeks")):
                    child.reached("load:deleted")
                elif sql.startswith(("insert into raw.events", "insert into raw.event_weeks")):
                    child.reached("load:inserted")
                return result

            def __getattr__(self, name):
                return getattr(self._connection, name)

        @contextlib.contextmanager
        def watched(self, read_only: bool = False):
            with connect(self, read_only=read_only) as connection:
                yield Watched(connection)

        DuckDBWarehouse.connect = watched

    def _dbt_hooks(self) -> None:
        from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

        child, stream = self, DbtCliInvocation.stream_raw_events
        model = (self.point or "").split(":", 1)[1]

        def watched(self):
            for event in stream(self):
                info, data = event.raw_event.get("info", {}), event.raw_event.get("data", {})
                node = data.get("node_info", {})
                # LogModelResult: dbt's line for a finished model (NodeFinished is debug level, not streamed)
                if info.get("name") == "LogModelResult" and node.get("node_name") == model:
                    child.reached(f"dbt:{model}")
                yield event

        DbtCliInvocation.stream_raw_events = watched

    def _file_hooks(self) -> None:
        import builtins

        from ecommerce_assets.lib import landing_copy

        child, replace = self, Path.replace

        def watched_replace(path, target):
            child.reached(f"replace:{Path(path).name}")
            result = replace(path, target)
            child.reached(f"replaced:{Path(path).name}")
            return result

        def watched_open(file, mode="r", *args, **kwargs):
            handle = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 (returned open, as open does)
            name = Path(file).name
            if ".sha256" in name and "w" in mode:  # opened for writing (truncated), nothing written yet
                child.reached(f"sidecar:{name.split('.sha256')[0]}")
            return handle

        Path.replace = watched_replace
        landing_copy.open = watched_open  # the module's own name for open, ahead of the builtin

    def run(self) -> int:
        self.install()
        self.mark("started")
        stage = self.spec["stage"]
        if stage in ("land", "generate"):
            code = run_cli(self.spec["argv"])
        else:
            result = materialize(dict(os.environ), stage, self.spec["weeks"])
            code = 0 if result.success else 1
            if not result.success:
                print(failure_message(result)[-3000:], file=sys.stderr)
        self.mark("done")
        return code


# -- the parent: start, kill, outcome ---------------------------------------------------------------------

@dataclass
class Outcome:
    killed: bool  # the kill was delivered while the run was still going
    reached: bool  # the point was reached (timed points: the delay elapsed before the run ended)
    exit_code: int | None
    seconds: float
    delay: float | None = None
    detail: str = ""
    log: str = ""

    @property
    def text(self) -> str:
        if not self.reached:
            return f"finished before the point (exit {self.exit_code})"
        what = "killed" if self.killed else f"exited {self.exit_code}"
        at = "" if self.delay is None else f" at +{self.delay * 1000:.0f} ms" if self.delay < 1 else f" at +{self.delay:.1f} s"
        return what + at + (f"; {self.detail}" if self.detail else "")


def descendants(pid: int) -> list[int]:
    """``pid``'s descendants (none if it is gone)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def parent(pid: int) -> int:
    """``pid``'s parent process id, 0 if it is gone."""
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return 0


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def _program(pid: int) -> str:
    """``java``, ``dbt``, ``python``: the program a process runs (a script's name, not its interpreter's)."""
    return _program_args(cmdline(pid).split())[0]


def _program_args(args: list[str]) -> list[str]:
    if len(args) > 1 and Path(args[0]).name.startswith("python") and not args[1].startswith("-"):
        return [Path(args[1]).name, *args[2:]]
    return [Path(args[0]).name, *args[1:]] if args else ["?"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def run_and_kill(folder: Folder, point: Point, delay: float | None = None, timeout: float = 600,
                 argv: list[str] | None = None, log: Path | None = None) -> Outcome:
    """Run ``point.stage`` in a child process on ``folder`` and kill it at ``point`` (after ``delay``
    seconds from the anchor for a timed point)."""
    markers = folder.data.parent / f"markers-{folder.data.name}-{time.monotonic_ns()}"
    markers.mkdir(parents=True)
    spec = {"stage": point.stage, "weeks": list(point.weeks), "markers": str(markers), "marker": point.marker,
            "passing": point.passing, "argv": argv or []}
    env = {**os.environ, **folder.env(), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "SPARK_LOCAL_IP": "127.0.0.1", "DAGSTER_TELEMETRY_DISABLED": "1", "PYSPARK_PYTHON": sys.executable}
    env.pop("DAGSTER_HOME", None)
    log = log or markers / "child.log"
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ecommerce_assets_tests.faults", "child", json.dumps(spec)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        trigger = markers / ("point" if point.marker else point.anchor)
        deadline = began + timeout
        while not trigger.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not trigger.exists():
            code = proc.poll()
            return Outcome(False, False, code, time.monotonic() - began, log=_tail(log))
        if point.timed:  # counted from when the child wrote the anchor, not from when it was seen
            end = float(trigger.read_text().split()[0]) + (delay or 0.0)
            while proc.poll() is None and time.time() < end:
                time.sleep(0.002)
            if proc.poll() is not None:
                return Outcome(False, False, proc.returncode, time.monotonic() - began, delay, log=_tail(log))
        detail = _kill(proc, point.target)
        code = proc.wait(timeout=300)

        killed = code == -signal.SIGKILL
        return Outcome(killed, True, code, time.monotonic() - began, delay, detail, log=_tail(log))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the kill left of the run
        proc.wait()
        shutil.rmtree(markers, ignore_errors=True)


def _kill(proc: subprocess.Popen, target: str) -> str:
    """Deliver the SIGKILL; for a partial kill, report what became of the rest."""
    if target == "group":
        os.killpg(proc.pid, signal.SIGKILL)
        return ""
    if target == "driver":  # the run's Python process only: what becomes of its JVM or dbt?
        rest = {p: _program(p) for p in descendants(proc.pid) if _alive(p)}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at, deadline = time.monotonic(), time.monotonic() + 120
        while any(_alive(p) for p in rest) and time.monotonic() < deadline:
            time.sleep(0.1)
        names = ", ".join(sorted(set(rest.values()))) or "nothing"
        if any(_alive(p) for p in rest):
            return f"left running: {names}, still alive after 120 s"
        return f"left running: {names}, exited by itself within {time.monotonic() - killed_at:.0f} s" if rest else "no child process yet"
    wanted = {"jvm": lambda args: Path(args[0]).name == "java",
              # dagster-dbt runs `dbt --version` first: the build is the one to kill
              "dbt": lambda args: _program_args(args)[0] == "dbt" and "build" in args}[target]
    waited, deadline = time.monotonic(), time.monotonic() + 120
    while not (found := [p for p in descendants(proc.pid) if _alive(p) and (args := cmdline(p).split()) and wanted(args)]):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            return f"no {target} process: the whole run killed"
        time.sleep(0.02)
    late = f" (+{time.monotonic() - waited:.1f}s for it to start)" if time.monotonic() - waited > 0.1 else ""
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    again, deadline = False, time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        again = again or any(p not in found and _alive(p) and wanted(cmdline(p).split() or ["?"]) for p in descendants(proc.pid))
        time.sleep(0.05)
    if proc.poll() is None:
        return f"{target} killed{late}; the run hung (killed after 240 s)"
    retried = f", after starting {target} again (the step's retry policy)" if again else ""
    return f"{target} killed{late}; the run exited {proc.returncode} by itself{retried}"


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


# -- what a folder holds: comparable state, and what must never be seen --------------------------------------

def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()[:16]


def _strip_generation(name: str) -> str:
    return _GENERATION.sub("", Path(name).name)


def lake_state(folder: Folder, weeks: tuple[str, ...] = WEEKS) -> dict[str, Any]:
    """Every partition of the weeks (and their month's unroutable lines) as a reader sees it: manifest
    (without the S3 file list and the generation) and rows, read through the lake's own interface (an S3 lake: what the
    manifest lists). A missing partition is ``None``."""
    import duckdb

    from ecommerce_assets.lib.lake import LINE_MAP_SUFFIX, RAW_SUFFIX, MissingPartition

    store = folder.store()
    state: dict[str, Any] = {}

    def manifest(key: str) -> dict | None:
        try:
            found = store.read_manifest(key)
        except MissingPartition:
            return None
        return {k: v for k, v in found.items() if k not in ("files", "generation")}

    month = dt.date.fromisoformat(MONTH + "-01")
    keys = {f"unroutable {MONTH}": (store.unroutable_month(month), ".csv")}
    for week in weeks:
        day = dt.date.fromisoformat(week)
        keys |= {f"raw {week}": (store.raw_week(day), (RAW_SUFFIX, LINE_MAP_SUFFIX)),
                 f"clean {week}": (store.clean_week(day), ".parquet"),
                 f"rejected {week}": (store.rejected_week(day), ".parquet")}
    with store.local_files([key for key, _ in keys.values()], (RAW_SUFFIX, LINE_MAP_SUFFIX, ".parquet", ".csv")) as local:
        for label, (key, suffix) in keys.items():
            found = manifest(key)
            if found is None:
                state[label] = None
                continue
            files = [p for p in local[key] if p.endswith(suffix)]
            entry: dict[str, Any] = {"manifest": found}
            if label.startswith(("raw", "unroutable")):
                content = {}
                for path in files:
                    data = Path(path).read_bytes()
                    content[_strip_generation(path)] = hashlib.sha256(gzip.decompress(data) if path.endswith(".gz") else data).hexdigest()[:16]
                entry["files"] = content
                entry["rows"] = sum(
                    len(gzip.decompress(Path(p).read_bytes()).splitlines()) - 1 for p in files if p.endswith(RAW_SUFFIX)
                ) if label.startswith("raw") else found.get("rows")
            else:
                rows = duckdb.execute("select * exclude (week) from read_parquet($f, hive_partitioning = true)",
                                      {"f": files}).fetchall() if files else []
                columns = [c[0] for c in duckdb.execute("select * exclude (week) from read_parquet($f, hive_partitioning = true) limit 0",
                                                        {"f": files}).description] if files else []
                if "source_file" in columns:  # a path in this folder: keep the part's name only
                    at = columns.index("source_file")
                    rows = [(*r[:at], _strip_generation(r[at]), *r[at + 1:]) for r in rows]
                entry["rows"], entry["digest"] = len(rows), _digest(rows)
                if "event_id" in columns:
                    ids = [r[columns.index("event_id")] for r in rows]
                    entry["event_ids"] = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
            state[label] = entry
    return state


def warehouse_state(folder: Folder) -> dict[str, Any]:
    """Every table of the DuckDB file (sorted rows, run-time columns left out), and raw.events per week.
    Opening it read-only also fails if a dead run left a lock behind."""
    import duckdb

    path = folder.settings().duckdb_path
    if not path.exists():
        return {}
    state: dict[str, Any] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_type = 'BASE TABLE' and table_name <> 'refresh_watermarks' order by 1, 2").fetchall()
        for schema, table in tables:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table]).fetchall() if c not in RUN_TIME_COLUMNS]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns)} from "{schema}"."{table}"').fetchall()
            state[f"{schema}.{table}"] = {"rows": len(rows), "digest": _digest(rows)}
        if ("raw", "events") in tables:
            state["raw.events by week"] = {str(w): n for w, n in con.execute(
                "select event_week, count(*) from raw.events group by 1 order by 1").fetchall()}
    return state


def dashboard_state(folder: Folder) -> dict[str, Any] | None:
    """The page, with the ids plotly draws at random for each figure made equal."""
    page = folder.settings().reports_dir / "dashboard.html"
    if not page.exists():
        return None
    text = page.read_text()
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
    return {"bytes": len(text), "complete": text.rstrip().endswith("</html>"), "digest": hashlib.sha256(text.encode()).hexdigest()[:16]}


def state(folder: Folder, layers: tuple[str, ...] = ("lake", "warehouse", "dashboard")) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "lake" in layers:
        out.update(lake_state(folder))
    if "warehouse" in layers:
        out["warehouse"] = warehouse_state(folder)
    if "dashboard" in layers:
        out["dashboard"] = dashboard_state(folder)
    return out


def rows_lost(expected: dict[str, Any], found: dict[str, Any]) -> int:
    """Rows of the expected state that are not there, whole and unchanged."""
    lost = 0
    for key, want in expected.items():
        have = found.get(key)
        if key == "warehouse":
            for table, entry in (want or {}).items():
                if table == "raw.events by week":
                    continue
                got = (have or {}).get(table)
                if got != entry:
                    lost += max(entry["rows"] - (got or {}).get("rows", 0), 0) or entry["rows"]
        elif key == "dashboard":
            continue
        elif want is not None and have != want:
            lost += int((want or {}).get("rows") or 0)
    return lost


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(expected) | set(found)):
        want, have = expected.get(key), found.get(key)
        if key == "warehouse":
            for table in sorted(set(want or {}) | set(have or {})):
                if (want or {}).get(table) != (have or {}).get(table):
                    out.append(f"{table}: expected {(want or {}).get(table)}, found {(have or {}).get(table)}")
        elif want != have:
            out.append(f"{key}: expected {want}, found {have}")
    return out


PUBLISHED = {"raw/events": "week", "clean/events": "week", "quarantine/events": "week", "quarantine/unroutable": "month"}
DATA_NAME = re.compile(r"^(part-[\w.-]+\.(csv\.gz|lines\.gz|parquet)|unroutable\.csv|_manifest\.json|\.part-[\w.-]+\.crc)$")


def half_written(folder: Folder) -> list[str]:
    """What a reader must never see: in a local lake's published folders, a name that is not a
    partition (a moved-aside or half-deleted copy) or a file that is not data or a manifest; a partition
    whose rows differ from its manifest's count, or whose week breaks raw = clean + duplicates + rejected;
    on S3, a manifest that lists a missing object; in the warehouse, a week of raw.events that is not
    whole, a DuckDB file that does not open."""
    from ecommerce_assets.lib.lake import MissingPartition

    problems: list[str] = []
    store = folder.store()
    if not folder.on_s3:
        lake = folder.settings().lake
        for parent, kind in PUBLISHED.items():
            base = lake / parent
            for entry in sorted(base.iterdir()) if base.is_dir() else []:
                if not re.fullmatch(rf"{kind}=\d{{4}}-\d{{2}}(-\d{{2}})?", entry.name) or not entry.is_dir():
                    problems.append(f"{entry}: not a partition, in a published folder")
                    continue
                for file in sorted(entry.rglob("*")):
                    if file.is_file() and not DATA_NAME.match(file.name):
                        problems.append(f"{file}: not data, in a published partition")
                    if file.is_dir():
                        problems.append(f"{file}: a folder inside a published partition")
                if not (entry / "_manifest.json").is_file():
                    problems.append(f"{entry}: no manifest")
    else:
        objects, listed = _s3_listing(folder)
        problems += [f"{folder.lake_url}: a manifest lists {key}, which is missing" for key in sorted(listed - objects)]
    state_now = lake_state(folder)
    for week in WEEKS:
        raw, clean, rejected = (state_now[f"{k} {week}"] for k in ("raw", "clean", "rejected"))
        if raw is not None and raw["rows"] != raw["manifest"]["rows"]:
            problems.append(f"raw {week}: {raw['rows']} lines, manifest says {raw['manifest']['rows']}")
        if clean is not None:
            m = clean["manifest"]
            if clean["rows"] != m["clean_rows"]:
                problems.append(f"clean {week}: {clean['rows']} rows, manifest says {m['clean_rows']}")
            if m["raw_rows"] != m["clean_rows"] + m["duplicates"] + m["rejected_rows"]:
                problems.append(f"clean {week}: raw {m['raw_rows']} != clean + duplicates + rejected in its manifest")
            if raw is not None and raw["manifest"]["rows"] != m["raw_rows"]:
                problems.append(f"clean {week}: cleaned from {m['raw_rows']} raw rows, the raw week has {raw['manifest']['rows']}")
        if rejected is not None and rejected["rows"] != rejected["manifest"]["rejected_rows"]:
            problems.append(f"rejected {week}: {rejected['rows']} rows, manifest says {rejected['manifest']['rejected_rows']}")
    try:
        by_week = warehouse_state(folder).get("raw.events by week", {})
    except Exception as error:  # noqa: BLE001 (any failure to open is the finding)
        problems.append(f"warehouse: cannot be opened: {error}")
        by_week = {}
    for week, rows in by_week.items():
        try:
            expected = int(store.read_manifest(store.clean_week(dt.date.fromisoformat(week)))["clean_rows"])
        except MissingPartition:
            expected = None
        if rows != expected:
            problems.append(f"raw.events {week}: {rows} rows, the clean week has {expected}")
    return problems


def leftovers(folder: Folder) -> list[str]:
    """Scratch a dead run left behind (never visible to readers): staging folders, partial files."""
    settings = folder.settings()
    places = [settings.staging_dir, settings.lake / "_staging"] if not folder.on_s3 else [settings.staging_dir]
    found = [str(p) for place in places if place.is_dir() for p in sorted(place.iterdir())]
    found += [str(p) for p in sorted(folder.data.rglob("*.partial"))]
    if folder.on_s3:  # objects of a generation no manifest lists
        objects, listed = _s3_listing(folder)
        bucket, prefix = _split(folder.lake_url)
        found += [f"s3://{bucket}/{o}" for o in sorted(objects - listed)
                  if not o.endswith("/_manifest.json") and not o.startswith(f"{prefix}/landing/")]
    return found


def _s3_listing(folder: Folder) -> tuple[set[str], set[str]]:
    """The S3 lake's object keys, and the keys its manifests list."""
    store, (bucket, prefix) = folder.store(), _split(folder.lake_url)
    objects, listed = set(_list_objects(store.client, bucket, prefix + "/")), set()
    for key in (o for o in objects if o.endswith("/_manifest.json")):
        base = key.rsplit("/", 1)[0]
        manifest = json.loads(store.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        listed |= {f"{base}/{name}" for name in manifest.get("files", [])}
    return objects, listed


# -- references and scenarios -----------------------------------------------------------------------------

@dataclass
class Reference:
    """A folder after a run with no fault, what it holds, and each stage's duration there (seconds)."""

    folder: Folder
    expected: dict[str, Any]
    durations: dict[str, float]
    layers: tuple[str, ...] = ("lake", "warehouse", "dashboard")
    extra: dict[str, Any] = field(default_factory=dict)


def build_reference(data: Path, lake_url: str | None = None, endpoint: str | None = None,
                    stages: list[str] = PIPELINE_STAGES) -> Reference:
    """Landing files, then ``stages`` over both weeks, in this process, one run per stage; timed."""
    folder = Folder(data, lake_url, endpoint)
    landing = data / "landing-files"
    files = landing_files(landing)
    if folder.on_s3:
        store = folder.store()
        for path in files:
            store.client.upload_file(str(path), store.bucket, store.object_key(f"landing/{path.name}"))
    else:
        (folder.settings().lake / "landing").mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy2(path, folder.settings().lake / "landing" / path.name)
    durations = {}
    for stage in stages:
        times: dict[str, float] = {}

        def clock(name: str, times: dict[str, float] = times) -> None:  # the first "body", the last "done"
            if name == "done" or name not in times:
                times[name] = time.perf_counter()

        undo = install_anchors(clock)
        try:
            result = materialize(folder.env(), stage, list(WEEKS))
        finally:
            undo()
        if not result.success:
            raise RuntimeError(f"reference {stage} failed: {failure_message(result)[-3000:]}")
        durations[stage] = times["done"] - times["body"]
    layers = ("lake", "warehouse", "dashboard") if stages == PIPELINE_STAGES else ("lake",)
    return Reference(folder, state(folder, layers), durations, layers)


@dataclass
class Report:
    """One scenario: a row of the table."""

    lake: str
    point: Point
    outcome: Outcome
    problems: list[str]  # half-written output visible after the kill
    lost: int
    diffs: list[str]  # published state after the kill vs the reference
    rerun_ok: bool
    rerun_identical: bool
    rerun_diffs: list[str]
    rerun_message: str = ""
    leftovers: list[str] = field(default_factory=list)  # scratch the kill left (invisible to readers)
    seconds: float = 0.0
    after_rerun: list[str] = field(default_factory=list)  # scratch still there after the rerun

    @property
    def ok(self) -> bool:
        return (not self.problems and not self.lost and not self.diffs and self.rerun_ok and self.rerun_identical
                and not self.after_rerun)

    def row(self) -> list[str]:
        where = self.point.description + (f" [{self.point.target}]" if self.point.target != "group" else "")
        outcome = self.outcome.text
        if self.problems:
            outcome += "; VISIBLE: " + "; ".join(self.problems)[:160]
        elif self.diffs:
            outcome += "; CHANGED: " + "; ".join(self.diffs)[:160]
        else:
            outcome += "; published output intact"
        if self.leftovers:
            outcome += f"; {len(self.leftovers)} scratch left"
        rerun = "yes" if self.rerun_identical else ("NO: " + ("; ".join(self.rerun_diffs) or self.rerun_message)[:160])
        if self.after_rerun:
            rerun += f"; SCRATCH LEFT: {', '.join(self.after_rerun)[:160]}"
        return [f"{self.point.stage} ({self.lake})", where, outcome, str(self.lost), rerun]


def kill_scenario(reference: Reference, point: Point, work: Path, delay: float | None = None,
                  lake_url: str | None = None) -> Report:
    """Copy the reference, run ``point.stage`` killed at ``point``, look, rerun it plainly, look again."""
    began = time.perf_counter()
    folder = reference.folder.copy(work, lake_url)
    if point.stage == "land":
        return _land_scenario(reference, folder, point, delay, began)
    if point.stage == "generate":
        return _generate_scenario(reference, folder, point, delay, began)
    outcome = run_and_kill(folder, point, delay)
    problems = half_written(folder)
    after = state(folder, reference.layers)
    lost, diffs = rows_lost(reference.expected, after), differences(reference.expected, after)
    scratch = leftovers(folder)
    result = materialize(folder.env(), point.stage, list(point.weeks))
    final = state(folder, reference.layers) if result.success else {}
    rerun_diffs = differences(reference.expected, final) if result.success else []
    rerun_diffs += half_written(folder) if result.success else []
    return Report("s3" if folder.on_s3 else "local", point, outcome, problems, lost, diffs, result.success,
                  result.success and not rerun_diffs, rerun_diffs,
                  "" if result.success else failure_message(result)[-600:], scratch, time.perf_counter() - began,
                  leftovers(folder))


# ``ecommerce land --replace``: a changed 2019-Oct.csv landed over the one landed before, which is kept.
LAND_NAME = "2019-Oct.csv"


def land_reference(data: Path, megabytes: int = 24) -> Reference:
    """``landing/`` holding a dump landed before, and ``incoming/`` a changed copy of it to land."""
    from ecommerce_assets.lib.kaggle import HEADER
    from ecommerce_assets.lib.landing_copy import land

    source, incoming, landing = data / "source", data / "incoming", data / "landing"
    for folder in (source, incoming):
        folder.mkdir(parents=True)
    line = "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n"
    body = HEADER + "\n" + line * (megabytes * 2**20 // len(line))
    (source / LAND_NAME).write_text(body)
    (incoming / LAND_NAME).write_text(body.replace("shiseido,35.79", "shiseido,35.78", 1))
    land(source / LAND_NAME, landing)
    scratch = data.parent / f"{data.name}-timing"
    shutil.copytree(data, scratch)
    began = time.perf_counter()
    land(scratch / "incoming" / LAND_NAME, scratch / "landing", replace=True)
    seconds = time.perf_counter() - began
    expected = landing_state(scratch / "landing")
    shutil.rmtree(scratch)
    old, new = (hashlib.sha256((folder / LAND_NAME).read_bytes()).hexdigest() for folder in (source, incoming))
    return Reference(Folder(data), expected, {"land": seconds}, (), {"old": old, "new": new, "lines": body.count("\n") - 1})


def landing_state(landing: Path) -> dict[str, Any]:
    """The landed file's and its checksum file's contents, and the SHA-256 of each file kept in ``_replaced/``."""
    from ecommerce_assets.lib.landing_copy import REPLACED

    target, sidecar = landing / LAND_NAME, landing / f"{LAND_NAME}.sha256"
    kept = sorted((landing / REPLACED).glob(f"{LAND_NAME}.*"))
    return {
        "file": hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else None,
        "sidecar": sidecar.read_text() if sidecar.exists() else None,
        "kept": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in kept if not p.name.endswith((".sha256", ".partial"))},
    }


def landing_problems(reference: Reference, landing: Path) -> list[str]:
    """The landed file is one of the two whole versions or absent while the old one is kept; the old version
    is in place or kept; a checksum file beside the landed file matches it."""
    found, problems = landing_state(landing), []
    old, new = reference.extra["old"], reference.extra["new"]
    if found["file"] not in (old, new, None):
        problems.append(f"{LAND_NAME}: neither the old nor the new version (sha256 {str(found['file'])[:12]})")
    if old != found["file"] and old not in found["kept"].values():
        problems.append(f"{LAND_NAME}: the version landed before is neither in place nor kept in _replaced/ (lost)")
    if found["sidecar"] is not None:
        words = found["sidecar"].split()
        if not words:
            problems.append(f"{LAND_NAME}.sha256: empty")
        elif words[0] != found["file"]:
            problems.append(f"{LAND_NAME}.sha256: {words[0][:12]}… does not match the landed file ({str(found['file'])[:12]}…)")
    return problems


def _land_scenario(reference: Reference, folder: Folder, point: Point, delay: float | None, began: float) -> Report:
    landing, incoming = folder.data / "landing", folder.data / "incoming" / LAND_NAME
    argv = ["land", "--replace", str(incoming), "--to", str(landing)]
    outcome = run_and_kill(folder, point, delay, argv=argv)
    problems = landing_problems(reference, landing)
    lost = reference.extra["lines"] if any("neither" in p or "lost" in p for p in problems) else 0
    scratch = [str(p) for p in landing.glob("*.partial")]
    rerun = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    final = landing_state(landing)
    diffs = [] if final == reference.expected else [f"landing: expected {reference.expected}, found {final}"]
    return Report("local", point, outcome, problems, lost, [], rerun.returncode == 0,
                  rerun.returncode == 0 and not diffs, diffs, (rerun.stderr or rerun.stdout)[-600:], scratch,
                  time.perf_counter() - began)


# ``ecommerce generate``: two months into an empty folder.
GENERATE_ARGS = ["--scale", "0.002", "--start", "2019-10-24", "--end", "2019-11-06", "--seed", "7", "--workers", "1"]


def generate_reference(data: Path) -> Reference:
    out = data / "generated"
    began = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", "generate", *GENERATE_ARGS, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if code.returncode != 0:
        raise RuntimeError(code.stderr)
    expected = generated_state(out)
    lines = {name: len(gzip.decompress((out / name).read_bytes()).splitlines()) - 1 for name in expected}
    shutil.rmtree(out)
    (data / "empty").mkdir(parents=True, exist_ok=True)
    return Reference(Folder(data), expected, {"generate": seconds}, (), {"lines": lines})


def generated_state(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.csv.gz"))} if out.is_dir() else {}


def _generate_scenario(reference: Reference, folder: Folder, point: Point, delay: float | None, began: float) -> Report:
    out = folder.data / "generated"
    argv = ["generate", *GENERATE_ARGS, "--out", str(out)]
    outcome = run_and_kill(folder, point, delay, argv=argv)
    found = generated_state(out)
    problems = [f"{name}: looks complete but differs from a whole run's" for name, digest in found.items()
                if reference.expected.get(name) != digest]
    lost = sum(reference.extra["lines"].get(name, 0) for name in found if reference.expected.get(name) != found[name])
    scratch = [str(p) for p in out.glob("*.partial")] if out.is_dir() else []
    rerun = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    final = generated_state(out)
    diffs = [] if final == reference.expected else [f"generated: {sorted(final)} vs {sorted(reference.expected)}"]
    return Report("local", point, outcome, problems, lost, [], rerun.returncode == 0,
                  rerun.returncode == 0 and not diffs and not list(out.glob("*.partial")), diffs,
                  (rerun.stderr or rerun.stdout)[-600:], scratch, time.perf_counter() - began)


def table(reports: list[Report]) -> str:
    """The scenarios as a Markdown table: scenario | injected where | outcome | rows lost | rerun identical."""
    head = ["scenario", "injected where", "outcome", "rows lost", "rerun identical"]
    rows = [head, ["---"] * len(head), *[[cell.replace("|", "/") for cell in r.row()] for r in reports]]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# -- disk full ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def small_disk(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mount_point`` (root only); unmounted at the end."""
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PermissionError(f"mount -t tmpfs at {mount_point} failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def fill(disk: Path, keep: int) -> Path:
    """Fill ``disk`` with a file until it is full, then give ``keep`` bytes back; the filler's path."""
    filler = disk / "filler"
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
                handle.flush()
        with contextlib.suppress(OSError):
            handle.flush()
    size = filler.stat().st_size
    with open(filler, "r+b") as handle:
        handle.truncate(max(size - keep, 0))
    return filler


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def names_the_disk(message: str, folder: Path) -> bool:
    """The message says the disk is full and names the folder (or a path inside it)."""
    return ("No space left on device" in message or os.strerror(errno.ENOSPC) in message) and str(folder) in message


@dataclass
class DiskFullReport:
    stage: str
    folder: Path  # what the failure must name: the lake, or the warehouse's folder
    free: int  # bytes left on the disk for the run
    success: bool
    message: str
    problems: list[str]
    diffs: list[str]
    lost: int
    rerun_ok: bool
    rerun_identical: bool
    rerun_diffs: list[str]
    rerun_message: str = ""

    def row(self) -> list[str]:
        said = "names the folder and ENOSPC" if names_the_disk(self.message, self.folder) else "MESSAGE: " + self.message[-200:].replace("\n", " ")
        outcome = ("SUCCEEDED" if self.success else "failed, " + said) + (
            "; VISIBLE: " + "; ".join(self.problems)[:160] if self.problems else
            "; CHANGED: " + "; ".join(self.diffs)[:160] if self.diffs else "; published output intact")
        rerun = "yes" if self.rerun_identical else "NO: " + ("; ".join(self.rerun_diffs) or self.rerun_message)[:160]
        return [f"{self.stage} (disk full)", f"{self.free // 1024} KiB left on a tmpfs", outcome, str(self.lost), rerun]


DISK_FULL_WEEKS = {"raw split": BOTH, "spark clean": BOTH, "warehouse load": (W2,)}


def disk_full_scenario(reference: Reference, stage: str, disk: Path) -> DiskFullReport:
    """The reference's folder on ``disk`` (a small filesystem), filled until the stage's run has about a
    third of the bytes it writes; the run must fail naming the disk, leave what was published, and
    succeed with the reference's rows once the space is freed."""
    folder = reference.folder.copy(disk / "data")
    settings = folder.settings()
    lake = settings.lake
    written = {
        "raw split": sum(folder_size(lake / "raw" / "events" / f"week={w}") for w in BOTH),
        "spark clean": sum(folder_size(lake / layer / "events" / f"week={w}") for w in BOTH for layer in ("clean", "quarantine")),
        "warehouse load": 64 * 1024,
    }[stage]
    named = settings.duckdb_path.parent if stage == "warehouse load" else lake
    filler = fill(disk, max(written // 3, 16 * 1024))
    free = free_bytes(disk)
    weeks = list(DISK_FULL_WEEKS[stage])
    try:
        result = materialize(folder.env(), stage, weeks)
        message = failure_message(result)
        problems = half_written(folder)
        after = state(folder, reference.layers)
        diffs, lost = differences(reference.expected, after), rows_lost(reference.expected, after)
    finally:
        filler.unlink()
    rerun = materialize(folder.env(), stage, weeks)
    rerun_diffs = differences(reference.expected, state(folder, reference.layers)) + half_written(folder) if rerun.success else []
    return DiskFullReport(stage, named, free, result.success, message, problems, diffs, lost, rerun.success,
                          rerun.success and not rerun_diffs, rerun_diffs, "" if rerun.success else failure_message(rerun)[-600:])


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
        sys.exit(_Child(json.loads(sys.argv[2])).run())
    sys.exit("usage: python -m ecommerce_assets_tests.faults child SPEC")
