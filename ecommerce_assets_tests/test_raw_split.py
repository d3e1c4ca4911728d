"""Routing monthly lines into weekly raw files, and what happens to lines that cannot be routed."""

import csv
import datetime as dt
import gzip

import pytest

from ecommerce_assets.kaggle import HEADER
from ecommerce_assets.lake import Lake, LandingFile, MissingLandingFile
from ecommerce_assets.raw_split import LandingFormatError, split_month

pytestmark = pytest.mark.unit

OCT = dt.date(2019, 10, 1)
W1, W2 = dt.date(2019, 10, 21), dt.date(2019, 10, 28)
GOOD = "2019-10-{day:02d} 12:00:00 UTC,view,1,2053013555631882655,,,1.00,500,s"


def _write(path, lines, header=HEADER):
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join([header, *lines]) + "\n")


def _read_parts(folder):
    lines = []
    for part in sorted(folder.glob("*.csv.gz")):
        with gzip.open(part, "rt") as handle:
            assert next(handle).rstrip("\n") == HEADER
            lines += [line.rstrip("\n") for line in handle]
    return lines


def test_lines_are_copied_unchanged_into_their_weeks(tmp_path):
    source = tmp_path / "2019-Oct.csv.gz"
    lines = [GOOD.format(day=d) for d in (21, 22, 27, 28, 29, 31)] + [GOOD.format(day=1)]
    lines[1] += "extra,fields,kept,as,delivered"
    _write(source, lines)
    folders = {W1: tmp_path / "w1", W2: tmp_path / "w2"}
    for folder in folders.values():
        folder.mkdir()
    (tmp_path / "bad").mkdir()
    split = split_month(LandingFile(source), OCT, folders, tmp_path / "bad", part_rows=2)
    assert _read_parts(folders[W1]) == lines[:3]
    assert _read_parts(folders[W2]) == lines[3:6]
    assert len(list(folders[W2].glob("*.csv.gz"))) == 2  # 3 lines, 2 per part
    assert split.rows_by_week == {W1: 3, W2: 3}
    assert split.rows_other_weeks == 1
    assert split.rows_read == 7


def test_unroutable_lines_are_quarantined_with_file_and_line(tmp_path):
    source = tmp_path / "2019-Oct.csv"
    bad = ["garbled ### line", "2019-10-22 25:00:00 UTC,view,1,2,,,1.00,5,s", "2019-10-32 10:00:00 UTC,view,1,2,,,1,5,s",
           "", "2019-11-01 10:00:00 UTC,view,1,2,,,1.00,5,s"]
    source.write_text("\n".join([HEADER, GOOD.format(day=22), *bad]) + "\n")
    (tmp_path / "w1").mkdir()
    (tmp_path / "bad").mkdir()
    split = split_month(LandingFile(source), OCT, {W1: tmp_path / "w1"}, tmp_path / "bad")
    with open(tmp_path / "bad" / "unroutable.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line_number"], r["reject_reason"], r["raw_line"]) for r in rows] == [
        ("3", "bad_event_time", bad[0]),
        ("4", "bad_event_time", bad[1]),
        ("5", "bad_event_time", bad[2]),
        ("6", "empty_line", ""),
        ("7", "outside_source_month", bad[4]),
    ]
    assert {r["source_file"] for r in rows} == {"2019-Oct.csv"}
    assert split.rows_by_week == {W1: 1}
    assert sum(split.unroutable.values()) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"), (b"time,type\n", "line 1: header is 'time,type'")],
)
def test_bad_headers_are_clear_errors(tmp_path, content, message):
    source = tmp_path / "2019-Oct.csv"
    source.write_bytes(content)
    (tmp_path / "bad").mkdir()
    with pytest.raises(LandingFormatError, match=message):
        split_month(LandingFile(source), OCT, {}, tmp_path / "bad")


def test_missing_month_names_the_expected_files(tmp_path):
    lake = Lake(tmp_path)
    with pytest.raises(MissingLandingFile, match=r"month 2019-11 not found: expected .*landing/2019-Nov.csv.gz or .*landing/2019-Nov.csv"):
        lake.landing_file(dt.date(2019, 11, 1))
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "2019-Nov.csv").write_text(HEADER + "\n")
    assert lake.landing_file(dt.date(2019, 11, 1)) == LandingFile(tmp_path / "landing" / "2019-Nov.csv")
