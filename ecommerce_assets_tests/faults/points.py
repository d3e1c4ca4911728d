"""Kill points: where each stage can be killed (marker points and timed points), and where a stage's own work begins and ends."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ecommerce_assets_tests.faults.folders import W1, W2

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
    from ecommerce_assets.lib.warehouses.duckdb import DuckDBWarehouse

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


