"""The weekly dbt models' run scope on two loaded weeks: their data tests read only the run's window, and
the run config ``full_refresh: true`` makes them ``dbt build --full-refresh``, over every week in one run
(a full refresh of fewer weeks is refused before dbt starts: it would leave only those weeks)."""

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.defs.dbt.arguments import dbt_window_vars
from ecommerce_assets.defs.dbt.models import weekly_dbt_models
from ecommerce_assets.lib.generator.synthetic import generate
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import ALL_ASSETS, check_results, materialize_weeks

pytestmark = pytest.mark.integration

W1, W2 = dt.date(2019, 10, 14), dt.date(2019, 10, 21)
WEEKS = weekly_partitions_def.get_partition_keys()
FULL_REFRESH = {"ops": {"weekly_dbt_models": {"config": {"full_refresh": True}}}}
FACTS = ("core.fct_events", "core.fct_sessions", "core.fct_daily_user_activity")
STALE_WEEK = WEEKS[-1]  # a week without data: no incremental run ever rebuilds it


@pytest.fixture(scope="module")
def loaded(spark, tmp_path_factory):
    """Two weeks through the weekly assets; each test leaves the warehouse as it found it."""
    root = tmp_path_factory.mktemp("dbt_scope")
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(root / "data"), "SPARK_MASTER": "local[2]"})
    generate(settings.lake / "landing", 0.0002, seed=13, start=W1, end=W2 + dt.timedelta(days=6))
    assert materialize_weeks(settings, W1.isoformat(), W2.isoformat()).success
    return settings


def _rows(settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {table: sorted(con.execute(f"select * from {table}").fetchall(), key=repr) for table in FACTS}


def _run_dbt(settings, run_config=FULL_REFRESH, **partitions) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ALL_ASSETS,
        selection=dg.AssetSelection.assets(weekly_dbt_models),
        run_config=run_config,
        resources=build_resources(settings),
        raise_on_error=False,
        **partitions,
    )


def test_weekly_tests_read_only_the_run_window(loaded):
    settings = loaded
    built = _rows(settings)
    # Outside week 2: a duplicated event_id and a negative price delivered in week 1. raw.events (and so
    # the facts, a view over it) reads the lake's clean files of the loaded weeks: a file planted there is rows.
    planted = settings.lake / "clean" / "events" / f"week={W1}" / "planted.parquet"
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(f"copy (with one as (select * exclude (loaded_at) from raw.events where event_week = '{W1}' limit 1) "
                    f"select * from one union all select * replace ('planted' as event_id, -1 as price) from one) "
                    f"to '{planted}' (format parquet)")
    week2 = _run_dbt(settings, run_config={}, partition_key=W2.isoformat())
    assert week2.success
    checks = check_results(week2)
    assert {"unique_stg_events_event_id", "unique_fct_events_event_id", "expression_is_true_stg_events_price__price_0",
            "unique_fct_sessions_session_id",
            "unique_combination_fct_daily_user_activity_user_id__activity_date"} <= set(checks)
    assert all(checks.values()), checks  # week 1's faults are not read

    # The same tests bite inside their window: `dbt test` over week 1 finds both faults (dbt directly: a
    # failing Dagster step is retried by the assets' retry policy, and on DuckDB reports no check results).
    resources = build_resources(settings)
    variables = {**dbt_window_vars(dt.datetime.combine(W1, dt.time()), dt.datetime.combine(W2, dt.time())),
                 **resources["warehouse"].dbt_vars()}
    week1 = resources["dbt"].cli(["test", "--select", "stg_events fct_events", "--vars", json.dumps(variables)],
                                 raise_on_error=False)
    week1.wait()
    results = week1.get_artifact("run_results.json")["results"]
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] == "fail"}
    assert failed == {"unique_stg_events_event_id", "unique_fct_events_event_id", "expression_is_true_stg_events_price__price_0"}

    planted.unlink()
    assert _run_dbt(settings, run_config={}, partition_key=W1.isoformat()).success  # week 1 rebuilt without them
    assert _rows(settings) == built


def test_full_refresh_rebuilds_the_weekly_tables_over_every_week_and_refuses_fewer(loaded):
    settings = loaded
    built = _rows(settings)
    assert all(built.values())
    # Damage an incremental run cannot repair: a row in a week that has no data (delete+insert replaces
    # only the weeks its select returns) and a column no model makes (on_schema_change='fail').
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(
            "insert into core.fct_sessions select * replace ('stale' as session_id, ?::date as session_week) "
            "from core.fct_sessions limit 1",
            [STALE_WEEK],
        )
        con.execute("alter table core.fct_sessions add column stale_marker integer")

    # One week, or any range short of every week: refused before dbt starts, with the range it needs.
    refused = _run_dbt(settings, partition_key=W2.isoformat())
    assert not refused.success
    (failure,) = refused.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert f"{W2}...{W2} refused" in message and f"{WEEKS[0]}...{WEEKS[-1]}" in message
    assert not [e for e in refused.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from core.fct_sessions where session_id = 'stale'").fetchone()[0] == 1

    # Every week in one run: the tables are recreated from raw.events, as the incremental runs built them.
    result = _run_dbt(settings, tags={"dagster/asset_partition_range_start": WEEKS[0],
                                      "dagster/asset_partition_range_end": WEEKS[-1]})
    assert result.success
    checks = check_results(result)
    assert {"unique_fct_events_event_id", "unique_fct_sessions_session_id"} <= set(checks)
    assert all(checks.values()), checks
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        columns = {name for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'core' and table_name = 'fct_sessions'"
        ).fetchall()}
    assert "stale_marker" not in columns and "session_id" in columns
    assert _rows(settings) == built  # the stale row is gone; every other row is as the weekly runs made it
    materialized = {e.partition for e in result.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey(["core", "fct_sessions"])}
    assert materialized == set(WEEKS)
