"""The first 1,000 rows of the real 2019-Oct.csv go through raw and clean untouched."""

import csv
import shutil

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.lib.lake import read_manifest
from ecommerce_assets_tests.conftest import DATA
from ecommerce_assets_tests.helpers import check_results, duplicate_count, materialize_weeks

pytestmark = pytest.mark.integration

SAMPLE = DATA / "real_sample_2019-10_first1000.csv"


def test_real_rows_pass_clean_with_ids_preserved(spark, settings):
    landing = settings.lake / "landing"
    landing.mkdir(parents=True)
    shutil.copy(SAMPLE, landing / "2019-Oct.csv")
    result = materialize_weeks(
        settings, "2019-09-30", selection=dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events")
    )
    assert all(check_results(result).values())

    lines = SAMPLE.read_text().splitlines()[1:]
    raw_week = settings.lake / "raw" / "events" / "week=2019-09-30"
    assert read_manifest(raw_week)["rows"] == 1000
    manifest = read_manifest(settings.lake / "clean" / "events" / "week=2019-09-30")
    assert manifest["rejected_rows"] == 0
    assert manifest["duplicates"] == duplicate_count(lines)
    assert manifest["clean_rows"] == 1000 - duplicate_count(lines)

    clean = duckdb.execute(
        "select cast(category_id as varchar), cast(product_id as varchar), cast(user_id as varchar), "
        "cast(price as varchar), strftime(event_time, '%Y-%m-%d %H:%M:%S') || ' UTC' "
        f"from read_parquet('{settings.lake}/clean/events/week=2019-09-30/*.parquet')"
    ).fetchall()
    original = [(r[3], r[2], r[7], r[6], r[0]) for r in csv.reader(lines)]
    assert sorted(clean) == sorted(set(original))
    assert {row[0] for row in clean} >= {"2053013555631882655", "2103807459595387724"}
