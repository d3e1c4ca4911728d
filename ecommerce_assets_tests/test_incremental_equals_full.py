"""The incremental path equals a full rebuild, row for row, on every fact, part, dimension and mart.

Weeks arrive through the pipeline's own assets (warehouse load, weekly dbt models, then the history models
refreshing incrementally, as the automation sensor runs them). The reference is `dbt build --full-refresh`
over the same raw.events, in the same warehouse: every table is compared before and after it.

Scenarios: (a) a 29-week backfill in one run on top of a warehouse that already holds 2 weeks and their
marts; (b) weeks replayed one at a time, in order; (c) a rerun of a middle week; (d) weeks arriving out
of order, one at a time.
"""

import json
import subprocess

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.defs.dbt import models as dbt_models
from ecommerce_assets.lib.batching import week_batches
from ecommerce_assets.defs.dbt.project import dbt_executable
from ecommerce_assets.lib.settings import DBT_PROJECT_DIR
from ecommerce_assets.lib.generator.synthetic import generate
from ecommerce_assets.defs.partitions import weeks_in_range
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import ALL_ASSETS, HISTORY, materialize_weeks

pytestmark = pytest.mark.integration

FIRST, LAST = "2019-09-30", "2020-04-27"
LAKE = dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events")
WEEKLY_WAREHOUSE = dg.AssetSelection.assets("warehouse_events") | dg.AssetSelection.groups("staging", "facts")
# Stamps of when a week was built differ between any two builds by design.
VOLATILE = {"core.int_weeks_built": "refreshed_at"}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """The 31 weeks' clean lake, built once; each scenario loads it into a warehouse of its own."""
    root = tmp_path_factory.mktemp("incremental")
    settings = _settings(root, "lake")
    generate(settings.lake / "landing", 0.00005, seed=11, workers=1)
    assert materialize_weeks(settings, FIRST, LAST, selection=LAKE).success
    return root


def _settings(root, name):
    return load_settings(env={
        "ECOMMERCE_DATA_DIR": str(root / name), "ECOMMERCE_LAKE": str(root / "lake" / "lake"),
        "SPARK_MASTER": "local[2]",
    })


def _arrive(settings, first, last=None):
    """A week (or a range, in one run) arrives: loaded, weekly models built, then the history refresh."""
    assert materialize_weeks(settings, first, last, selection=WEEKLY_WAREHOUSE).success
    assert dg.materialize(ALL_ASSETS, selection=HISTORY, resources=build_resources(settings)).success


def _tables(con) -> list[str]:
    return [f"{schema}.{name}" for schema, name in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('core', 'marts') and table_type = 'BASE TABLE' and table_name <> 'refresh_watermarks' "
        "order by 1, 2").fetchall()]


def _snapshot(settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        snapshot = {}
        for table in _tables(con):
            skip = VOLATILE.get(table)
            columns = f"* exclude ({skip})" if skip else "*"
            snapshot[table] = sorted(con.execute(f"select {columns} from {table}").fetchall(), key=repr)
    return snapshot


def _full_rebuild(settings) -> None:
    """The reference: every model rebuilt from scratch over all of raw.events (plain dbt, as documented)."""
    done = subprocess.run(
        [dbt_executable(), "build", "--full-refresh", "--vars", json.dumps({"duckdb_path": str(settings.duckdb_path)}),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(settings.duckdb_path.parent / "dbt-target")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def _assert_equals_full_rebuild(settings) -> None:
    incremental = _snapshot(settings)
    _full_rebuild(settings)
    full = _snapshot(settings)
    assert set(incremental) == set(full)
    assert len(full) >= 25  # facts, parts, dimensions and marts
    assert full["core.fct_sessions"] and full["marts.mart_rfm"] and full["core.dim_products"]  # fct_events is a view
    different = [table for table in full if incremental[table] != full[table]]
    assert not different, {t: (len(incremental[t]), len(full[t])) for t in different}


def test_a_backfill_on_top_of_history_then_a_rerun_of_a_middle_week(lake, monkeypatch):
    settings = _settings(lake, "backfill")
    weeks = [week.isoformat() for week in weeks_in_range(FIRST, LAST)]
    assert len(weeks) == 31
    _arrive(settings, weeks[0], weeks[1])
    # (a) 29 weeks in one run, marts refreshed incrementally; the weekly models in several dbt builds of
    # about 8 weeks each here, as a long range at full scale goes in builds of BATCH_ROWS raw events.
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        week_rows = con.execute("select count(*) / count(distinct event_week) from raw.events").fetchone()[0]
    monkeypatch.setattr(dbt_models, "BATCH_ROWS", int(week_rows * 8))
    batches = []
    monkeypatch.setattr(dbt_models, "week_batches", lambda *a: batches.append(week_batches(*a)) or batches[-1])
    # The second dbt build fails once: the step's retry resumes at it, not at the first.
    built, build_args = [], dbt_models.dbt_build_args

    def failing_once(variables, **kwargs):
        built.append(variables["min_week"])
        return [*build_args(variables, **kwargs), *(["--no-such-flag"] if len(built) == 2 else [])]

    def weekly_args(variables, **kwargs):  # the history models' builds pass no window
        return failing_once(variables, **kwargs) if "min_week" in variables else build_args(variables, **kwargs)

    monkeypatch.setattr(dbt_models, "dbt_build_args", weekly_args)
    _arrive(settings, weeks[2], weeks[-1])
    assert [week for batch in batches[0] for week in batch] == weeks[2:] and 2 <= len(batches[0]) <= 8, batches
    firsts = [batch[0] for batch in batches[0]]
    assert built == [firsts[0], firsts[1], *firsts[1:]], (built, firsts)
    _assert_equals_full_rebuild(settings)
    # (c) a middle week again. A refresh recomputes only what the week touches: a mart row of another
    # month, altered here, is left as it is (then put back for the comparison).
    october = "marts.mart_daily_kpis set events = events + 1000000 where date_day = '2019-10-15'"
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(f"update {october}")
    _arrive(settings, "2019-12-02")
    with duckdb.connect(str(settings.duckdb_path)) as con:
        assert con.execute("select events >= 1000000 from marts.mart_daily_kpis where date_day = '2019-10-15'").fetchone() == (True,)
        con.execute(f"update {october.replace('events + 1000000', 'events - 1000000')}")
        # every incremental history model recorded the newest week stamp it processed
        stamps = con.execute("select count(distinct model_name), count(distinct refreshed_at), "
                             "max(refreshed_at) = (select max(refreshed_at) from core.int_weeks_built) "
                             "from core.refresh_watermarks").fetchone()
        assert stamps == (8, 1, True), stamps
    _assert_equals_full_rebuild(settings)


def test_weeks_one_at_a_time_in_order_then_out_of_order(lake):
    settings = _settings(lake, "replay")
    # Across the Nov/Dec month boundary and the December category move: (b) two weeks in order, then
    # (d) a later week, the one skipped between, and an earlier one; each followed by the history refresh.
    for week in ("2019-11-18", "2019-11-25", "2019-12-09", "2019-12-02", "2019-11-11"):
        _arrive(settings, week)
    _assert_equals_full_rebuild(settings)
