"""The pure Spark transforms on hand-written rows: every reject reason, de-duplication, imputation order."""

import csv
import datetime as dt
import gzip
import hashlib
from decimal import Decimal

import pytest

from ecommerce_assets.lib.kaggle import HEADER
from ecommerce_assets.lib.spark.lineage import read_line_maps, with_landing_lines
from ecommerce_assets.lib.spark.pipeline import clean_events
from ecommerce_assets.lib.spark.rules import REJECT_REASONS, classify, read_raw, rejected_rows

pytestmark = pytest.mark.integration

WEEK = "2019-10-28"
PHONE = "2053013555631882655"
T = "2019-10-29 10:00:{:02d} UTC"

VALID = [
    # product 100: brand apple twice, samsung once, then once without brand or code -> product's values
    f"{T.format(1)},view,100,{PHONE},electronics.smartphone,apple,10.00,500,s1",
    f"{T.format(2)},cart,100,{PHONE},electronics.smartphone,apple,10.00,500,s1",
    f"{T.format(3)},view,100,{PHONE},electronics.smartphone,samsung,10.00,501,s2",
    f"{T.format(4)},purchase,100,{PHONE},,,10.00,500,s1",
    # product 200 never has brand or code: category 777's most common code applies; its brand stays unknown
    # (the category's most common brand, acme, is not the product's)
    f"{T.format(5)},view,201,777,kids.toys,acme,5.50,502,s3",
    f"{T.format(6)},view,202,777,kids.toys,acme,5.50,502,s3",
    f"{T.format(7)},view,203,777,kids.toys.dolls,zeta,5.50,502,s3",
    f"{T.format(8)},view,200,777,,,5.50,502,s3",
    # product 300 in a category with nothing known -> 'unknown'
    f"{T.format(9)},view,300,888,,,0.00,503,",
    # week boundaries are half-open: Monday 00:00:00 and Sunday 23:59:59 are in
    "2019-10-28 00:00:00 UTC,view,100,2053013555631882655,electronics.smartphone,apple,10.00,504,s4",
    "2019-11-03 23:59:59 UTC,remove_from_cart,100,2053013555631882655,electronics.smartphone,apple,10.00,504,s4",
]
DUPLICATE = VALID[0]
REJECTED = {
    "malformed_line": f"{T.format(10)},view,100,{PHONE}",
    "bad_event_time": f"2019-10-29T10:00:00Z,view,100,{PHONE},,,1.00,500,s",
    "outside_week": f"2019-11-04 00:00:00 UTC,view,100,{PHONE},,,1.00,500,s",
    "unknown_event_type": f"{T.format(11)},click,100,{PHONE},,,1.00,500,s",
    "missing_product_id": f"{T.format(12)},view,,{PHONE},,,1.00,500,s",
    "invalid_product_id": f"{T.format(13)},view,1x0,{PHONE},,,1.00,500,s",
    "missing_category_id": f"{T.format(14)},view,100,,,,1.00,500,s",
    "invalid_category_id": f"{T.format(15)},view,100,2.05e18,,,1.00,500,s",
    "missing_user_id": f"{T.format(16)},view,100,{PHONE},,,1.00,,s",
    "invalid_user_id": f"{T.format(17)},view,100,{PHONE},,,1.00,-500,s",
    "missing_price": f"{T.format(18)},view,100,{PHONE},,,,500,s",
    "negative_price": f"{T.format(19)},view,100,{PHONE},,,-1.00,500,s",
    "non_numeric_price": f"{T.format(20)},view,100,{PHONE},,,1.234,500,s",
    "invalid_category_code": f"{T.format(21)},view,100,{PHONE},electronics\x00smartphone,,1.00,500,s",
    "invalid_brand": f"{T.format(22)},view,100,{PHONE},,{'x' * 256},1.00,500,s",
    "invalid_user_session": f"{T.format(23)},view,100,{PHONE},,,1.00,500,s\x01",
}


@pytest.fixture(scope="module")
def classified(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("raw") / "events"
    folder = base / f"week={WEEK}"
    folder.mkdir(parents=True)
    with gzip.open(folder / "part-0.csv.gz", "wt") as handle:
        handle.write(HEADER + "\n" + "\n".join([*VALID, DUPLICATE, *REJECTED.values()]) + "\n")
    return classify(read_raw(spark, [str(folder)], str(base))).cache()


def test_every_reject_reason_is_detected(classified):
    assert set(REJECTED) == set(REJECT_REASONS)
    rows = rejected_rows(classified).collect()
    assert {r["reject_reason"]: r["raw_line"] for r in rows} == REJECTED
    assert all(r["source_file"].endswith("part-0.csv.gz") for r in rows)
    assert {r["source_week"] for r in rows} == {dt.date(2019, 10, 28)}


def test_exact_duplicates_are_dropped_and_counted(classified):
    valid = classified.where("reject_reason is null").count()
    clean = clean_events(classified).count()
    assert valid == len(VALID) + 1
    assert clean == len(VALID)
    assert valid - clean == 1


def test_brand_only_from_the_product_code_from_product_then_category(classified):
    rows = {r["product_id"]: r for r in clean_events(classified).where("event_hour = 10 and user_id != 504").collect()}
    no_brand = [r for r in clean_events(classified).collect() if r["product_id"] == 100 and r["brand_source"] != "observed"]
    assert len(no_brand) == 1
    assert (no_brand[0]["brand"], no_brand[0]["brand_source"], no_brand[0]["brand_imputed"]) == ("apple", "product", True)
    assert (no_brand[0]["category_code"], no_brand[0]["category_code_source"]) == ("electronics.smartphone", "product")
    assert (rows[200]["brand"], rows[200]["brand_source"], rows[200]["brand_imputed"]) == ("unknown", "default", True)
    assert (rows[200]["category_code"], rows[200]["category_code_source"]) == ("kids.toys", "category")
    assert rows[200]["category_code_imputed"] is True
    assert (rows[300]["brand"], rows[300]["brand_source"]) == ("unknown", "default")
    assert (rows[300]["category_code"], rows[300]["category_l1"], rows[300]["category_l2"]) == ("unknown", "unknown", None)
    assert (rows[203]["brand"], rows[203]["brand_imputed"], rows[203]["brand_source"]) == ("zeta", False, "observed")


def test_types_and_derived_columns(classified):
    by_line = {r["event_time"]: r for r in clean_events(classified).collect()}
    first = by_line[dt.datetime(2019, 10, 29, 10, 0, 1)]
    assert first["event_id"] == hashlib.md5(VALID[0].encode()).hexdigest()
    assert first["price"] == Decimal("10.00")
    assert first["category_id"] == int(PHONE)
    assert (first["category_l1"], first["category_l2"], first["category_l3"]) == ("electronics", "smartphone", None)
    assert (first["event_date"], first["event_hour"], first["event_week"]) == (dt.date(2019, 10, 29), 10, dt.date(2019, 10, 28))
    doll = by_line[dt.datetime(2019, 10, 29, 10, 0, 7)]
    assert (doll["category_l1"], doll["category_l2"], doll["category_l3"]) == ("kids", "toys", "dolls")
    assert by_line[dt.datetime(2019, 10, 29, 10, 0, 9)]["user_session"] is None
    assert dt.datetime(2019, 11, 3, 23, 59, 59) in by_line and dt.datetime(2019, 10, 28) in by_line


def _part(folder, name, lines, runs=None):
    with gzip.open(folder / f"{name}.csv.gz", "wt") as handle:
        handle.write(HEADER + "\n" + "\n".join(lines) + "\n")
    if runs is not None:
        with gzip.open(folder / f"{name}.lines.gz", "wt", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([("part_line", "landing_file", "landing_line"), *runs])
    return [str(folder / f"{name}.lines.gz")] if runs is not None else []


def test_rejected_rows_get_their_landing_line_from_the_line_maps(spark, tmp_path):
    """Several parts read by one task (as at scale, where small parts share a Spark partition), a run that
    starts on a rejected line, a landing name that needs CSV quoting, and a part without a line map."""
    base = tmp_path / "events"
    folder = base / f"week={WEEK}"
    folder.mkdir(parents=True)
    good, bad = VALID[0], REJECTED["negative_price"]
    zipped = 'kaggle, "v2".zip:2019-Nov.csv'
    bad_lines = [bad.replace(",s", f",s{n}") for n in range(5)]
    maps = _part(folder, "part-a", [good, bad_lines[0], good, bad_lines[1], good, bad_lines[2]],
                 [(2, "2019-Oct.csv", 10), (5, "2019-Oct.csv", 40)])  # landing lines 10-12, then 40-42
    maps += _part(folder, "part-b", [bad_lines[3], good], [(2, zipped, 2)])
    maps += _part(folder, "part-c", [good, bad_lines[4]])  # split before line maps existed
    packed = {"spark.sql.files.openCostInBytes": "1", "spark.sql.files.minPartitionNum": "1"}  # files share a task
    previous = {key: spark.conf.get(key, None) for key in packed}
    for key, value in packed.items():
        spark.conf.set(key, value)
    try:
        raw = read_raw(spark, sorted(str(p) for p in folder.glob("*.csv.gz")), str(base), positions=True)
        assert raw.rdd.getNumPartitions() == 1
        located = with_landing_lines(rejected_rows(classify(raw), positions=True), read_line_maps(spark, maps))
        rows = {r["raw_line"]: r for r in located.collect()}
    finally:
        for key, value in previous.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    assert {line: (r["landing_file"], r["landing_line"]) for line, r in rows.items()} == {
        bad_lines[0]: ("2019-Oct.csv", 11),
        bad_lines[1]: ("2019-Oct.csv", 40),
        bad_lines[2]: ("2019-Oct.csv", 42),
        bad_lines[3]: (zipped, 2),
        bad_lines[4]: (None, None),
    }
    assert all(r["reject_reason"] == "negative_price" and r["source_file"].endswith(".csv.gz") for r in rows.values())
    assert located.columns == ["raw_line", "reject_reason", "source_file", "source_week", "landing_file", "landing_line"]
