"""Partitions that follow what has landed: with the month and week bounds unset, the span ends with the
last month landed and the week holding its last day; set, the bounds win; a new month extends it."""

import datetime as dt
import gzip
import zipfile

import pytest

from ecommerce_assets.defs.partitions import monthly_partitions, weekly_partitions
from ecommerce_assets.lib.lake import Lake
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets.lib.span import span_of

OCT, NOV, DEC, MAY = dt.date(2019, 10, 1), dt.date(2019, 11, 1), dt.date(2019, 12, 1), dt.date(2020, 5, 1)


def _keys(span):
    return weekly_partitions(span).get_partition_keys(), monthly_partitions(span).get_partition_keys()


@pytest.mark.unit
def test_two_months_landed_make_the_weeks_they_hold(tmp_path):
    span = span_of(load_settings(env={}, cwd=tmp_path), [OCT, NOV])
    weeks, months = _keys(span)
    assert months == ["2019-10-01", "2019-11-01"]
    assert (weeks[0], weeks[-1], len(weeks)) == ("2019-09-30", "2019-11-25", 9)
    # The last week holds Dec 1, not landed: it is built from November alone.
    assert span.months_overlapping([dt.date(2019, 11, 25)]) == [NOV]


@pytest.mark.unit
def test_a_new_month_extends_the_partitions_and_its_half_week_reads_it(tmp_path):
    settings = load_settings(env={}, cwd=tmp_path)
    before, after = span_of(settings, [OCT, NOV]), span_of(settings, [OCT, NOV, DEC])
    assert _keys(after)[0][-1] == "2019-12-30" and _keys(after)[1][-1] == "2019-12-01"
    assert set(_keys(before)[0]) < set(_keys(after)[0])
    assert after.months_overlapping([dt.date(2019, 11, 25)]) == [NOV, DEC]
    # After April: May 2020 ends on a Sunday, so its last week ends with it.
    assert span_of(settings, [OCT, MAY]).last_week == dt.date(2020, 5, 25)


@pytest.mark.unit
def test_the_settings_bound_the_span_whatever_has_landed(tmp_path):
    bounded = load_settings(env={"ECOMMERCE_LAST_MONTH": "2019-10"}, cwd=tmp_path)
    assert _keys(span_of(bounded, [OCT, NOV, DEC]))[1] == ["2019-10-01"]
    assert span_of(bounded, [OCT, NOV, DEC]).last_week == dt.date(2019, 10, 28)
    weeks = load_settings(env={"ECOMMERCE_LAST_WEEK": "2019-10-14"}, cwd=tmp_path)
    assert _keys(span_of(weeks, [OCT, NOV]))[0][-1] == "2019-10-14"
    # A month landed before the first one counts for nothing.
    assert span_of(load_settings(env={}, cwd=tmp_path), [dt.date(2019, 9, 1)]).last_month == OCT


@pytest.mark.unit
def test_nothing_landed_is_the_first_month_alone(tmp_path):
    weeks, months = _keys(span_of(load_settings(env={}, cwd=tmp_path), []))
    assert months == ["2019-10-01"] and (weeks[0], weeks[-1]) == ("2019-09-30", "2019-10-28")


@pytest.mark.unit
def test_the_local_landing_lists_dumps_and_zip_members_only(tmp_path):
    landing = tmp_path / "landing"
    (landing / "_replaced").mkdir(parents=True)
    (landing / "2019-Oct.csv").write_text("event_time\n")
    (landing / "2019-Oct.csv.sha256").write_text("0" * 64)
    (landing / "2020-Jan.csv.gz").write_bytes(gzip.compress(b"event_time\n"))
    (landing / "2020-Feb.csv.partial").write_text("event_time\n")  # a copy under way is not landed
    (landing / "_replaced" / "2020-Mar.csv.0123456789abcdef").write_text("event_time\n")
    (landing / "notes.txt").write_text("")
    with zipfile.ZipFile(landing / "download.zip", "w") as archive:
        archive.writestr("2019-Nov.csv", "event_time\n")
        archive.writestr("readme.txt", "")
    (landing / "broken.zip").write_bytes(b"not a zip")
    assert Lake(tmp_path).months_in_landing() == [OCT, NOV, dt.date(2020, 1, 1)]
    assert Lake(tmp_path / "none").months_in_landing() == []
