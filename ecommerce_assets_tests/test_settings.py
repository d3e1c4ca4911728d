import datetime as dt

import pytest
import yaml

from ecommerce_assets.defs.partitions import weekly_partitions, weeks_in_range
from ecommerce_assets.lib.settings import SettingsError, load_settings, machine_defaults
from ecommerce_assets.lib.span import span_of
from ecommerce_assets_tests.conftest import ROOT


@pytest.mark.unit
def test_defaults_cover_the_dataset(tmp_path):
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.data_dir == tmp_path / "data"
    assert settings.lake == tmp_path / "data" / "lake"
    assert settings.duckdb_path == tmp_path / "data" / "warehouse.duckdb"
    assert settings.warehouse == "duckdb"
    assert settings.spark_master == "local[*]"
    # With the seven months landed, the partitions are the dataset's 31 weeks.
    months = [dt.date(2019 + (9 + i) // 12, (9 + i) % 12 + 1, 1) for i in range(7)]
    keys = weekly_partitions(span_of(settings, months)).get_partition_keys()
    assert len(keys) == 31
    assert keys[0] == "2019-09-30" and keys[-1] == "2020-04-27"
    assert all(dt.date.fromisoformat(k).weekday() == 0 for k in keys)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("cores", "gib", "driver", "partitions", "duckdb"),
    [(2, 24, "4g", "8", "4GB"), (1, 2, "1g", "4", "1GB"), (16, 128, "8g", "64", "4GB"), (4, 12, "2g", "16", "2GB")],
)
def test_spark_and_duckdb_sizes_follow_the_machine(cores, gib, driver, partitions, duckdb):
    assert machine_defaults(cores, gib) == {
        "ECOMMERCE_SPARK_DRIVER_MEMORY": driver,
        "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": partitions,
        "ECOMMERCE_DUCKDB_MEMORY_LIMIT": duckdb,
    }


@pytest.mark.unit
def test_machine_sizes_are_defaults_only(tmp_path):
    env = {"ECOMMERCE_SPARK_DRIVER_MEMORY": "3g", "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": "5",
           "ECOMMERCE_DUCKDB_MEMORY_LIMIT": "512MB"}
    settings = load_settings(env=env, cwd=tmp_path)
    assert (settings.spark_driver_memory, settings.spark_shuffle_partitions, settings.duckdb_memory_limit) == (
        "3g", 5, "512MB")


@pytest.mark.unit
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
        ({"ECOMMERCE_DUCKDB_MEMORY_LIMIT": "4G"}, "ECOMMERCE_DUCKDB_MEMORY_LIMIT='4G': expected e.g. 4GB"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_settings(env=env)


@pytest.mark.unit
def test_a_week_spanning_two_months_reads_both(tmp_path):
    span = span_of(load_settings(env={"ECOMMERCE_LAST_MONTH": "2020-04"}, cwd=tmp_path), [])
    weeks = weeks_in_range("2019-10-28", "2019-11-04")
    assert span.months_overlapping(weeks) == [dt.date(2019, 10, 1), dt.date(2019, 11, 1)]
    # The first week starts in September, which is not a source month.
    assert span.months_overlapping([dt.date(2019, 9, 30)]) == [dt.date(2019, 10, 1)]
    # The last week runs into May: only April is read.
    assert span.months_overlapping([dt.date(2020, 4, 27)]) == [dt.date(2020, 4, 1)]


@pytest.mark.unit
def test_the_docs_document_every_variable():
    from ecommerce_assets.lib.settings import markdown_table

    # docs/configuration.md carries the table `ecommerce settings --markdown` prints, row for row.
    assert markdown_table() in (ROOT / "docs" / "configuration.md").read_text()


@pytest.mark.integration
def test_the_duckdb_warehouse_and_dbt_get_the_memory_limit(tmp_path):
    from ecommerce_assets.defs.resources import build_resources

    settings = load_settings(env={"ECOMMERCE_DUCKDB_MEMORY_LIMIT": "512MB"}, cwd=tmp_path)
    warehouse = build_resources(settings)["warehouse"]
    with warehouse.connect() as connection:
        assert connection.execute("select current_setting('memory_limit')").fetchone() == ("488.2 MiB",)
    assert warehouse.dbt_vars()["duckdb_memory_limit"] == "512MB"
    profile = yaml.safe_load((ROOT / "ecommerce_dbt" / "profiles.yml").read_text())
    duckdb_settings = profile["ecommerce"]["outputs"]["duckdb"]["settings"]
    assert "var('duckdb_memory_limit'" in duckdb_settings["memory_limit"]


@pytest.mark.unit
def test_the_process_environment_is_read_and_blanks_are_unset(monkeypatch, tmp_path):
    from ecommerce_assets.lib.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ECOMMERCE_LAST_WEEK", "2020-01-06")
    monkeypatch.setenv("ECOMMERCE_WAREHOUSE", "   ")  # blank: the default, not an error
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("ECOMMERCE_DATA_DIR", "here")
    for settings in (load_settings(), Settings()):
        assert (settings.last_week, settings.warehouse, settings.aws_region) == (dt.date(2020, 1, 6), "duckdb", "eu-west-1")
        assert settings.data_dir == tmp_path / "here" and settings.lake == tmp_path / "here" / "lake"
    # A mapping given to load_settings is the whole environment: nothing comes from the process's.
    assert load_settings(env={}, cwd=tmp_path).last_week is None
    assert load_settings(env={"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}).aws_region == "us-west-2"
