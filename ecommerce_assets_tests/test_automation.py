"""The weekly schedule and the history replay sensor, evaluated with Dagster's test contexts."""

import datetime as dt
import re

import dagster as dg
import pytest

from ecommerce_assets.defs.step_helpers import FACTS
from ecommerce_assets.definitions import defs
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.defs.housekeeping.run_purge import purge_runs_job, purge_runs_schedule
from ecommerce_assets.defs.replay.weekly_schedule import weekly_schedule
from ecommerce_assets.defs.replay.history_replay_sensor import history_replay_sensor, next_week_to_replay
from ecommerce_assets_tests.conftest import ROOT

UTC = dt.timezone.utc
KEYS = weekly_partitions_def.get_partition_keys()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (dt.datetime(2019, 10, 7, 1, tzinfo=UTC), "2019-09-30"),  # the first Monday after the first week
        (dt.datetime(2019, 11, 4, 1, tzinfo=UTC), "2019-10-28"),  # the week spanning October and November
        (dt.datetime(2020, 5, 4, 1, tzinfo=UTC), "2020-04-27"),  # the last week
    ],
)
def test_schedule_requests_the_week_that_just_ended(tick, expected):
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
    request = weekly_schedule(context)
    assert (request.partition_key, request.run_key) == (expected, expected)
    assert weekly_schedule.cron_schedule == "0 1 * * 1"


@pytest.mark.unit
def test_schedule_requests_nothing_after_the_last_week():
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2020, 5, 11, 1, tzinfo=UTC), repository_def=defs.get_repository_def()
    )
    assert isinstance(weekly_schedule(context), dg.SkipReason)


def _tick(instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def())
    result = history_replay_sensor(context)
    return result, context.cursor


@pytest.mark.unit
def test_replay_sensor_advances_one_week_per_tick_and_continues_where_data_stops():
    with dg.instance_for_test() as instance:
        first, cursor = _tick(instance, None)
        assert isinstance(first, dg.RunRequest)
        assert (first.partition_key, first.run_key, cursor) == ("2019-09-30", "replay-2019-09-30", "2019-09-30")
        second, cursor = _tick(instance, cursor)
        assert (second.partition_key, cursor) == ("2019-10-07", "2019-10-07")
        # A partial backfill already built weeks up to 2019-11-04: a fresh sensor continues after it.
        for key in KEYS[: KEYS.index("2019-11-04") + 1]:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=FACTS, partition=key))
        resumed, cursor = _tick(instance, None)
        assert (resumed.partition_key, cursor) == ("2019-11-11", "2019-11-11")
        # At the end there is nothing left to request.
        done, cursor = _tick(instance, KEYS[-1])
        assert isinstance(done, dg.SkipReason) and cursor == KEYS[-1]


@pytest.mark.unit
def test_next_week_skips_weeks_in_flight_and_behind_the_cursor():
    keys = ["2019-09-30", "2019-10-07", "2019-10-14", "2019-10-21"]
    assert next_week_to_replay(keys, set(), set(), None) == "2019-09-30"
    assert next_week_to_replay(keys, {"2019-09-30"}, {"2019-10-07"}, None) == "2019-10-14"
    assert next_week_to_replay(keys, set(), set(), "2019-10-07") == "2019-10-14"
    assert next_week_to_replay(keys, set(), {"2019-10-21"}, "2019-10-14") is None
    assert next_week_to_replay(keys, set(keys), set(), None) is None


@pytest.mark.integration
def test_run_purge_deletes_old_finished_runs_only():
    @dg.asset
    def tiny() -> int:
        return 1

    with dg.instance_for_test() as instance:
        kept = [dg.materialize([tiny], instance=instance).run_id for _ in range(2)]
        # With 1 day of retention nothing is old enough yet.
        result = purge_runs_job.execute_in_process(instance=instance)
        assert result.output_for_node("purge_old_runs") == 0
        assert {run.run_id for run in instance.get_runs()} >= set(kept)
        # Runs finished before the cutoff go, with their event logs; the purge's own run stays.
        config = {"ops": {"purge_old_runs": {"config": {"days": 0}}}}
        result = purge_runs_job.execute_in_process(instance=instance, run_config=config)
        assert result.output_for_node("purge_old_runs") == 3  # two materializations and the first purge
        assert [run.run_id for run in instance.get_runs()] == [result.run_id]
        assert not instance.all_logs(kept[0])
    assert purge_runs_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.unit
def test_marts_and_dashboard_refresh_after_a_week_lands_and_catch_up():
    from ecommerce_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    # What a weekly dbt run builds: staging, the facts and their weekly parts.
    weekly = [key for key in graph.get_all_asset_keys() if graph.get(key).group_name in ("staging", "facts")]
    assert dg.AssetKey(["core", "int_user_weeks"]) in weekly and dg.AssetKey(["core", "dim_users"]) not in weekly
    marts = dg.AssetKey(["marts", "mart_daily_kpis"])
    dashboard = dg.AssetKey("dashboard")

    def land(instance, keys, partition=None):
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))

    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing upstream yet: no run that would fail
        land(instance, weekly, "2019-10-07")  # one week of 31
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(marts) == 1 and second.get_num_requested(dg.AssetKey(["core", "dim_users"])) == 1
        history = [key for key in defs.resolve_asset_graph().get_all_asset_keys() if second.get_num_requested(key)]
        land(instance, history)
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert third.get_num_requested(dashboard) == 1 and third.get_num_requested(marts) == 0
        land(instance, [dashboard])
        assert dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=third.cursor).total_requested == 0

    with dg.instance_for_test() as instance:  # weeks landed before the sensor ever ran: caught up at once
        land(instance, weekly, "2019-10-14")
        caught_up = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert caught_up.get_num_requested(marts) == 1

    with dg.instance_for_test() as instance:  # everything built in order before the sensor ran: nothing to do
        land(instance, weekly, "2019-10-14")
        land(instance, [key for key in graph.toposorted_asset_keys if key not in weekly and graph.get(key).is_materializable])
        assert dg.evaluate_automation_conditions(defs=defs, instance=instance).total_requested == 0


@pytest.mark.unit
def test_every_job_schedule_and_sensor_the_docs_name_is_the_one_the_ui_shows():
    """The names in backquotes in the README and docs/ ending in _job, _schedule or _sensor are Dagster's
    names for the definitions (a schedule left unnamed would show as `<job>_schedule`)."""
    repository = defs.get_repository_def()
    shown = ({job.name for job in repository.get_all_jobs()} | {s.name for s in repository.schedule_defs}
             | {s.name for s in repository.sensor_defs})
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {name for path in docs for name in re.findall(r"`([a-z_]+_(?:job|schedule|sensor))`", path.read_text())}
    assert {"purge_runs_schedule", "weekly_events_schedule", "history_replay_sensor"} <= named
    assert sorted(named - shown) == []
