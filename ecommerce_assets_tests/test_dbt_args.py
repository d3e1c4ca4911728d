import datetime as dt
import json

import dagster as dg
import pytest

from ecommerce_assets.defs.dbt.arguments import DbtBuildConfig, dbt_build_args, dbt_window_vars, require_every_week
from ecommerce_assets.defs.dbt.models import history_dbt_models, weekly_dbt_models
from ecommerce_assets.defs.dbt.row_counts import merged
from ecommerce_assets.lib.batching import week_batches

pytestmark = pytest.mark.unit
UTC = dt.timezone.utc


def test_window_is_passed_as_half_open_week_range():
    start = dt.datetime(2019, 10, 28, tzinfo=UTC)
    end = dt.datetime(2019, 11, 11, tzinfo=UTC)  # a two-week range
    assert dbt_window_vars(start, end) == {"min_week": "2019-10-28", "max_week": "2019-11-11"}
    args = dbt_build_args({**dbt_window_vars(start, end), "duckdb_path": "/w.duckdb"})
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"min_week": "2019-10-28", "max_week": "2019-11-11", "duckdb_path": "/w.duckdb"}


def test_no_variables_is_a_plain_build():
    assert dbt_build_args({}) == ["build"]


def test_full_refresh_is_passed_to_dbt_build():
    variables = {"min_week": "2019-09-30", "max_week": "2020-05-04"}
    assert dbt_build_args(variables, full_refresh=True) == [
        "build", "--vars", json.dumps(variables, sort_keys=True), "--full-refresh"
    ]
    assert dbt_build_args({}, full_refresh=True) == ["build", "--full-refresh"]
    assert "--full-refresh" not in dbt_build_args(variables)


def test_both_dbt_definitions_take_full_refresh_from_run_config_default_off():
    for assets in (weekly_dbt_models, history_dbt_models):
        field = assets.op.config_field.config_type.fields["full_refresh"]
        assert field.default_value is False and "--full-refresh" in field.description
    assert DbtBuildConfig().full_refresh is False


def test_full_refresh_must_cover_every_week():
    keys = ["2019-09-30", "2019-10-07", "2019-10-14"]
    require_every_week("2019-09-30", "2019-10-14", keys)  # every week: allowed
    for first, last in (("2019-10-07", "2019-10-07"), ("2019-09-30", "2019-10-07"), ("2019-10-07", "2019-10-14")):
        with pytest.raises(dg.Failure) as refused:
            require_every_week(first, last, keys)
        assert f"{first}...{last} refused" in refused.value.description
        assert "2019-09-30...2019-10-14" in refused.value.description  # the range to run instead
        assert refused.value.allow_retries is False  # a retry would be refused again


def test_long_ranges_go_to_dbt_in_batches_of_consecutive_weeks():
    rows = {"w1": 6, "w2": 6, "w3": 3, "w4": 20, "w5": 1}
    weeks = ["w1", "w2", "w3", "w4", "w5", "w6"]  # w6: no rows loaded
    assert week_batches(rows, weeks, 12) == [["w1", "w2"], ["w3"], ["w4"], ["w5", "w6"]]
    assert week_batches(rows, weeks, 100) == [weeks]
    assert week_batches({}, weeks[:1], 1) == [["w1"]]


def test_batches_report_each_output_once_and_a_check_failed_in_any_batch():
    key = dg.AssetKey(["core", "fct_events"])
    first = [dg.Output(1, "fct_events", metadata={"batch": 1}),
             dg.AssetCheckResult(asset_key=key, check_name="unique", passed=False, metadata={"batch": 1}),
             dg.AssetCheckResult(asset_key=key, check_name="not_null", passed=True, metadata={"batch": 1})]
    second = [dg.Output(2, "fct_events", metadata={"batch": 2}),
              dg.AssetCheckResult(asset_key=key, check_name="unique", passed=True, metadata={"batch": 2}),
              dg.AssetCheckResult(asset_key=key, check_name="not_null", passed=True, metadata={"batch": 2})]
    events = merged([first, second])
    outputs = [e for e in events if isinstance(e, dg.Output)]
    checks = {e.check_name: e for e in events if isinstance(e, dg.AssetCheckResult)}
    assert [o.value for o in outputs] == [2]
    assert set(checks) == {"unique", "not_null"} and len(events) == 3
    assert not checks["unique"].passed and checks["unique"].metadata["batch"].value == 1
    assert checks["not_null"].passed and checks["not_null"].metadata["batch"].value == 2
