"""End to end on tiny generated data: the two weeks around the October/November boundary."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.lake import read_manifest
from ecommerce_assets_tests.helpers import check_results, duplicate_count, lines_by_week, materialize_weeks

pytestmark = pytest.mark.integration

W1, W2 = dt.date(2019, 10, 28), dt.date(2019, 11, 4)


def _layer_counts(settings, week: dt.date) -> dict[str, int]:
    lake = settings.lake
    raw = read_manifest(lake / "raw" / "events" / f"week={week}")
    clean = read_manifest(lake / "clean" / "events" / f"week={week}")
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        warehouse, warehouse_ids = con.execute(
            "select count(*), count(distinct event_id) from raw.events where event_week = ?", [week]
        ).fetchone()
        fact, fact_ids = con.execute(
            "select count(*), count(distinct event_id) from core.fct_events where event_week = ?", [week]
        ).fetchone()
    parquet = duckdb.execute(f"select count(*) from read_parquet('{lake}/clean/events/week={week}/*.parquet')").fetchone()[0]
    return {
        "raw": raw["rows"],
        "raw_sources": len(raw["sources"]),
        "duplicates": clean["duplicates"],
        "rejected": clean["rejected_rows"],
        "clean": parquet,
        "warehouse": warehouse,
        "warehouse_distinct": warehouse_ids,
        "fact": fact,
        "fact_distinct": fact_ids,
    }


@pytest.fixture
def generated(settings):
    return generate(settings.lake / "landing", 0.0002, parse_months("2019-10..2019-11"), seed=11)


def test_two_weeks_across_the_month_boundary(spark, settings, generated):
    expected = lines_by_week(generated)
    result = materialize_weeks(settings, W1.isoformat(), W2.isoformat())  # one run for both weeks
    assert result.success
    checks = check_results(result)
    assert {"row_accounting", "no_null_keys", "event_id_unique", "accepted_event_types", "events_inside_week",
            "rows_match_clean", "unique_fct_events_event_id"} <= set(checks)
    assert all(checks.values()), checks
    for week in (W1, W2):
        lines = expected[week]
        counts = _layer_counts(settings, week)
        distinct = len(lines) - duplicate_count(lines)
        assert counts == {
            "raw": len(lines),
            "raw_sources": 2 if week == W1 else 1,  # the week of 2019-10-28 spans two files
            "duplicates": duplicate_count(lines),
            "rejected": 0,
            "clean": distinct,
            "warehouse": distinct,
            "warehouse_distinct": distinct,
            "fact": distinct,
            "fact_distinct": distinct,
        }
    assert duplicate_count(expected[W1] + expected[W2]) > 0
    # One run, yet each week's materialization carries that week's own figures (what the UI plots).
    figures = {
        (event.asset_key.to_user_string(), event.partition): event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    for week in (W1, W2):
        counts, key = _layer_counts(settings, week), week.isoformat()
        assert figures[("raw_events", key)]["rows"].value == counts["raw"]
        clean = figures[("clean_events", key)]
        assert (clean["raw_rows"].value, clean["clean_rows"].value, clean["duplicates"].value) == (
            counts["raw"], counts["clean"], counts["duplicates"])
        assert figures[("rejected_events", key)]["rejected_rows"].value == counts["rejected"]
        assert figures[("warehouse_events", key)]["rows_loaded"].value == counts["warehouse"]
        assert figures[("core/fct_events", key)]["dagster/row_count"].value == counts["fact"]
    assert figures[("raw_events", W1.isoformat())]["rows"].value != figures[("raw_events", W2.isoformat())]["rows"].value
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        assert con.execute("select min(event_time), max(event_time) from raw.events").fetchone() == (
            min(dt.datetime.fromisoformat(l[:19]) for l in expected[W1]),
            max(dt.datetime.fromisoformat(l[:19]) for l in expected[W2]),
        )


def test_rerunning_a_week_replaces_it_exactly(spark, settings, generated):
    materialize_weeks(settings, W1.isoformat(), W2.isoformat())
    before = {w: _layer_counts(settings, w) for w in (W1, W2)}
    result = materialize_weeks(settings, W1.isoformat())
    assert result.success
    assert {w: _layer_counts(settings, w) for w in (W1, W2)} == before
    assert before[W1]["warehouse"] == before[W1]["warehouse_distinct"] == before[W1]["fact_distinct"]
    staging = settings.lake / "_staging"
    assert not staging.exists() or not any(staging.iterdir())
    materialization = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("clean_events")
    ][0]
    metadata = materialization.materialization.metadata
    assert metadata["raw_rows"].value == before[W1]["raw"]
    assert metadata["duplicates"].value == before[W1]["duplicates"]
    assert metadata["clean_rows"].value == before[W1]["clean"]
