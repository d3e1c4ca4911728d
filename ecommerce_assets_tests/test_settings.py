import datetime as dt

import pytest

from ecommerce_assets.partitions import months_overlapping, weekly_partitions, weeks_in_range
from ecommerce_assets.settings import SettingsError, load_settings


def test_defaults_cover_the_dataset(tmp_path):
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "data"
    assert settings.lake == tmp_path / "data" / "lake"
    assert settings.duckdb_path == tmp_path / "data" / "warehouse.duckdb"
    assert settings.warehouse == "duckdb"
    assert settings.spark_master == "local[*]"
    keys = weekly_partitions(settings).get_partition_keys()
    assert len(keys) == 31
    assert keys[0] == "2019-09-30" and keys[-1] == "2020-04-27"
    assert all(dt.date.fromisoformat(k).weekday() == 0 for k in keys)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ECOMMERCE_WAREHOUSE": "oracle"}, "ECOMMERCE_WAREHOUSE='oracle': accepted values are duckdb"),
        ({"SPARK_MASTER": "spark:/nohost"}, "SPARK_MASTER='spark:/nohost': accepted forms"),
        ({"ECOMMERCE_FIRST_WEEK": "2019-10-01"}, "ECOMMERCE_FIRST_WEEK='2019-10-01': Tuesday"),
        ({"ECOMMERCE_LAST_WEEK": "2020-13-01"}, "ECOMMERCE_LAST_WEEK='2020-13-01': expected a date"),
        ({"ECOMMERCE_LAST_WEEK": "2019-09-23"}, "is before ECOMMERCE_FIRST_WEEK"),
        ({"ECOMMERCE_FIRST_MONTH": "2019/10"}, "ECOMMERCE_FIRST_MONTH='2019/10': expected a month"),
        ({"ECOMMERCE_SPARK_DRIVER_MEMORY": "lots"}, "ECOMMERCE_SPARK_DRIVER_MEMORY='lots'"),
        ({"ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": "0"}, "expected a positive integer"),
        ({"ECOMMERCE_LAKE": "ftp://bucket/x"}, "ECOMMERCE_LAKE='ftp://bucket/x'"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_settings(env=env)


def test_a_week_spanning_two_months_reads_both(tmp_path):
    settings = load_settings(env={}, cwd=tmp_path)
    weeks = weeks_in_range("2019-10-28", "2019-11-04")
    assert months_overlapping(weeks, settings) == [dt.date(2019, 10, 1), dt.date(2019, 11, 1)]
    # The first week starts in September, which is not a source month.
    assert months_overlapping([dt.date(2019, 9, 30)], settings) == [dt.date(2019, 10, 1)]
    # The last week runs into May: only April is read.
    assert months_overlapping([dt.date(2020, 4, 27)], settings) == [dt.date(2020, 4, 1)]


def test_readme_documents_every_variable():
    from ecommerce_assets.settings import VARIABLES
    from ecommerce_assets_tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    assert [name for name, _, _ in VARIABLES if f"| `{name}` |" not in readme] == []
