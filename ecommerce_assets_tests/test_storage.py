"""The storage layout of the embedded default: the clean Parquet files are the one stored copy of the
events (zstd, rows ordered by user and time), ``raw.events`` is a view over them, and a week's facts
rebuilt without any copy in the warehouse (or from an older warehouse's table copy) are the same rows."""

import datetime as dt

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from ecommerce_assets.defs.dbt.models import weekly_dbt_models
from ecommerce_assets.lib.generator.synthetic import generate
from ecommerce_assets_tests.helpers import WEEKLY, check_results, materialize_weeks

pytestmark = pytest.mark.integration

W1, W2 = dt.date(2019, 10, 28), dt.date(2019, 11, 4)
FACTS = ("core.fct_events", "core.fct_sessions", "core.fct_daily_user_activity", "core.int_product_prices",
         "core.int_product_latest", "core.int_product_weeks", "core.int_session_products", "core.int_user_weeks")
LOAD_AND_FACTS = dg.AssetSelection.assets("warehouse_events") | dg.AssetSelection.assets(weekly_dbt_models)


@pytest.fixture
def built_run(spark, settings):
    """Two weeks built in one run: the settings and the run's result."""
    generate(settings.lake / "landing", 0.0002, seed=5, start=W1, end=W2 + dt.timedelta(days=6))
    result = materialize_weeks(settings, W1.isoformat(), W2.isoformat())
    assert result.success and all(check_results(result).values())
    return settings, result


@pytest.fixture
def built(built_run):
    return built_run[0]


def test_each_clean_partition_previews_rows_of_its_own_week(built_run):
    _, result = built_run
    previews = {m.partition: m.metadata["preview"] for m in result.asset_materializations_for_node("clean_events")
                if m.asset_key == dg.AssetKey("clean_events")}
    assert set(previews) == {W1.isoformat(), W2.isoformat()}
    for week, table in previews.items():
        days = {record.data["event_time"][:10] for record in table.records}
        assert len(table.records) == 5, table
        first = dt.date.fromisoformat(week)
        assert all(first <= dt.date.fromisoformat(day) < first + dt.timedelta(days=7) for day in days), (week, days)


def _facts(settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {table: sorted(con.execute(f"select * from {table}").fetchall(), key=repr) for table in FACTS}


def _raw_events(settings) -> tuple[str | None, list[tuple]]:
    """raw.events' kind (VIEW or BASE TABLE) and its rows (loaded_at aside)."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        kind = con.execute("select table_type from information_schema.tables "
                           "where table_schema = 'raw' and table_name = 'events'").fetchone()
        rows = con.execute("select * exclude (loaded_at) from raw.events").fetchall()
    return kind and kind[0], sorted(rows, key=repr)


def test_raw_events_is_a_view_over_the_ordered_zstd_clean_files(built):
    settings = built
    clean = settings.lake / "clean" / "events"
    files = sorted(clean.glob("week=*/*.parquet"))
    assert {f.parent.name for f in files} == {f"week={W1}", f"week={W2}"}
    in_files = sorted(duckdb.execute("select * from read_parquet(?, hive_partitioning = false)",
                                     [[str(f) for f in files]]).fetchall(), key=repr)
    kind, rows = _raw_events(settings)
    assert kind == "VIEW" and rows == in_files and len(rows) > 1000
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'events'").fetchone() == (0,)
        assert con.execute("select event_week from raw.event_weeks order by 1").fetchall() == [(W1,), (W2,)]
    assert not list(clean.rglob("*.crc"))  # no Hadoop checksum files beside the data
    for path in files:
        parquet = pq.ParquetFile(path)
        assert {parquet.metadata.row_group(0).column(i).compression for i in range(parquet.metadata.num_columns)} == {"ZSTD"}
        table = parquet.read(columns=["user_id", "event_time", "event_id"]).to_pylist()
        keys = [(r["user_id"], r["event_time"], r["event_id"]) for r in table]
        assert keys == sorted(keys), f"{path.name}: rows not ordered by user, time, event_id"


def test_a_week_rebuilt_without_a_copy_or_from_an_old_table_copy_gives_the_same_facts(built):
    settings = built
    facts = _facts(settings)
    _, rows = _raw_events(settings)
    # An older warehouse: raw.events a table holding a copy of the rows, and no record of the loaded weeks.
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("create table raw.events_copy as select * from raw.events")
        con.execute("drop view raw.events")
        con.execute("drop table raw.event_weeks")
        con.execute("alter table raw.events_copy rename to events")
        con.execute("delete from core.fct_sessions where session_week = ?", [W2])  # week 2's facts are to be rebuilt
    result = materialize_weeks(settings, W2.isoformat(), selection=LOAD_AND_FACTS)
    assert result.success and all(check_results(result).values())
    kind, after = _raw_events(settings)
    # The copy replaced by the view, over the weeks the copy held and the week loaded since.
    assert kind == "VIEW" and after == rows
    assert _facts(settings) == facts

    # No raw layer in the warehouse at all (view and its list of weeks gone): loading the weeks again
    # brings the facts (a view over raw.events) back, and the weekly tables rebuilt from them are the same.
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("drop view raw.events")
        con.execute("drop table raw.event_weeks")
        con.execute("delete from core.fct_sessions where session_week = ?", [W1])
    assert materialize_weeks(settings, W1.isoformat(), W2.isoformat(), selection=LOAD_AND_FACTS).success
    assert _facts(settings) == facts


def _clean_rows(settings, week) -> list[tuple]:
    files = [str(f) for f in sorted((settings.lake / "clean" / "events" / f"week={week}").glob("*.parquet"))]
    return sorted(duckdb.execute("select * from read_parquet(?, hive_partitioning = false)", [files]).fetchall(), key=repr)


def _raw_observations(result) -> dict[str, str]:
    return {e.partition: e.asset_observation_data.asset_observation.metadata["parts"].value
            for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"
            and e.asset_key == dg.AssetKey("raw_events")}


def test_raw_parts_dropped_once_clean_come_back_from_landing_when_the_week_is_cleaned_again(spark, tmp_path, monkeypatch):
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets.lib.spark import pipeline

    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "SPARK_MASTER": "local[2]",
                                  "ECOMMERCE_RAW_RETENTION": "until_clean"})
    generate(settings.lake / "landing", 0.0002, seed=5, start=W1, end=W2 + dt.timedelta(days=6))
    raw = settings.lake / "raw" / "events"
    # One week per batch, as full-scale weeks go: when Spark starts on week 2, week 1 is published and
    # its raw parts are gone already, so a long backfill never holds both copies of every week.
    monkeypatch.setattr(pipeline, "week_batches", lambda rows, weeks: [[week] for week in weeks])
    write_batch, seen = pipeline._write_batch, {}

    def spy(spark, weeks, *args, **kwargs):
        seen[weeks[0]] = (len(list((raw / f"week={W1}").iterdir())), (settings.lake / "clean" / "events" / f"week={W1}").exists())
        return write_batch(spark, weeks, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_write_batch", spy)
    result = materialize_weeks(settings, W1.isoformat(), W2.isoformat())
    assert result.success and all(check_results(result).values())  # the accounting check reads the manifests
    assert seen[W1][0] > 1 and not seen[W1][1]  # parts, line maps and manifest; nothing clean yet
    assert seen[W2] == (1, True)  # the manifest alone, and the clean week published
    for week in (W1, W2):
        assert sorted(p.name for p in (raw / f"week={week}").iterdir()) == ["_manifest.json"]
    assert set(_raw_observations(result)) == {W1.isoformat(), W2.isoformat()}
    assert all(text.startswith("dropped once clean") for text in _raw_observations(result).values())
    facts, clean = _facts(settings), _clean_rows(settings, W2)

    # Cleaning week 2 again (and what follows it) splits it from landing first, gives the same rows and
    # facts, and drops the parts again.
    again = materialize_weeks(settings, W2.isoformat(), selection=WEEKLY - dg.AssetSelection.assets("raw_events"))
    assert again.success and all(check_results(again).values())
    observed = [e.asset_observation_data.asset_observation.metadata["parts"].value
                for e in again.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert observed[0].startswith("rebuilt from landing") and observed[-1].startswith("dropped once clean")
    assert _clean_rows(settings, W2) == clean and len(clean) > 1000
    assert _facts(settings) == facts
    assert sorted(p.name for p in (raw / f"week={W2}").iterdir()) == ["_manifest.json"]
