"""Bad lines end in quarantine with their reason and the accounting still balances; a missing month fails clearly."""

import csv
import datetime as dt
import gzip

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.checks import clean_check_results
from ecommerce_assets.generator.synthetic import generate, parse_months
from ecommerce_assets.lake import Lake, read_manifest, write_manifest
from ecommerce_assets_tests.helpers import check_results, materialize_weeks

pytestmark = pytest.mark.integration

BAD_LINES = {
    "garbled ### not an event": ("unroutable", "bad_event_time"),
    "2019-10-30 24:10:00 UTC,view,1004856,2053013555631882655,,samsung,130.76,543272936,s": ("unroutable", "bad_event_time"),
    "2019-10-30 10:00:00 UTC,view,1004856,2053013555631882655,,samsung": ("rejected", "malformed_line"),
    "2019-10-30 10:00:01 UTC,view,1004856,2053013555631882655,,samsung,-130.76,543272936,s": ("rejected", "negative_price"),
    "2019-10-30 10:00:02 UTC,click,1004856,2053013555631882655,,samsung,130.76,543272936,s": ("rejected", "unknown_event_type"),
}


def _inject(path, extra):
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines[:100] + extra + lines[100:]) + "\n")
    return len(lines) - 1 + len(extra)


def test_bad_rows_are_quarantined_with_reasons(spark, settings):
    landing = settings.lake / "landing"
    generate(landing, 0.0002, parse_months("2019-10..2019-11"), seed=5)
    _inject(landing / "2019-Oct.csv.gz", list(BAD_LINES))
    result = materialize_weeks(settings, "2019-10-28")
    assert result.success
    assert all(check_results(result).values())

    with open(settings.lake / "quarantine" / "unroutable" / "month=2019-10" / "unroutable.csv") as handle:
        unroutable = {r["raw_line"]: r for r in csv.DictReader(handle)}
    rejected = dict(
        duckdb.execute(
            f"select raw_line, reject_reason from read_parquet('{settings.lake}/quarantine/events/week=2019-10-28/*.parquet')"
        ).fetchall()
    )
    for line, (where, reason) in BAD_LINES.items():
        if where == "unroutable":
            assert unroutable[line]["reject_reason"] == reason
            assert unroutable[line]["source_file"] == "2019-Oct.csv.gz"
            assert int(unroutable[line]["line_number"]) > 100
        else:
            assert rejected[line] == reason
    assert len(unroutable) == 2 and len(rejected) == 3
    manifest = read_manifest(settings.lake / "clean" / "events" / "week=2019-10-28")
    assert manifest["rejected_by_reason"] == {"malformed_line": 1, "negative_price": 1, "unknown_event_type": 1}
    assert manifest["raw_rows"] == manifest["clean_rows"] + manifest["duplicates"] + manifest["rejected_rows"]


def test_accounting_check_fails_when_rows_go_missing(spark, settings):
    generate(settings.lake / "landing", 0.0001, parse_months("2019-10"), seed=2)
    materialize_weeks(settings, "2019-10-07", selection=dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events"))
    lake = Lake(settings.lake)
    week = dt.date(2019, 10, 7)
    keys = [lake.clean_week(week), lake.rejected_week(week)]
    with lake.local_files(keys, ".parquet") as files:
        assert all(r.passed for r in clean_check_results(lake, [week], files))
    manifest = lake.read_manifest(lake.raw_week(week))
    write_manifest(lake.path(lake.raw_week(week)), {**manifest, "rows": manifest["rows"] + 1})
    with lake.local_files(keys, ".parquet") as files:
        results = {r.check_name: r for r in clean_check_results(lake, [week], files)}
    assert not results["row_accounting"].passed
    assert "2019-10-07" in results["row_accounting"].metadata["unbalanced_weeks"].value


def test_missing_month_fails_with_the_expected_file_named(spark, settings):
    generate(settings.lake / "landing", 0.0001, parse_months("2019-10"), seed=2)
    result = materialize_weeks(settings, "2019-10-28", raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    message = failure.step_failure_data.user_failure_data.description
    assert "landing file for month 2019-11 not found" in message
    assert str(settings.lake / "landing" / "2019-Nov.csv.gz") in message
    assert not (settings.lake / "raw" / "events" / "week=2019-10-28").exists()
