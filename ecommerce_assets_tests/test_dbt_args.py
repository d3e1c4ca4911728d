import datetime as dt
import json

import pytest

from ecommerce_assets.assets.dbt_models import dbt_build_args, dbt_window_vars

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
