import datetime as dt
import json

from ecommerce_assets.assets.dbt import dbt_build_args, dbt_window_vars

UTC = dt.timezone.utc


def test_window_is_passed_as_half_open_week_range():
    start = dt.datetime(2019, 10, 28, tzinfo=UTC)
    end = dt.datetime(2019, 11, 11, tzinfo=UTC)  # a two-week range
    assert dbt_window_vars(start, end) == {"min_week": "2019-10-28", "max_week": "2019-11-11"}
    args = dbt_build_args(start, end)
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"min_week": "2019-10-28", "max_week": "2019-11-11"}
