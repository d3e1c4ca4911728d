"""Routing monthly lines into weekly raw files, and what happens to lines that cannot be routed."""

import csv
import datetime as dt
import gzip
import io
import itertools
import random
import zipfile

import pytest

from ecommerce_assets.lib import raw_split
from ecommerce_assets.lib.kaggle import HEADER
from ecommerce_assets.lib.lake import Lake, LandingFile, MissingLandingFile
from ecommerce_assets.lib.raw_split import LandingFormatError, split_month

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
    # What is landed, and the settings that bound the months, are named.
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "2019-Oct.csv").write_text(HEADER + "\n")
    with pytest.raises(MissingLandingFile, match=r"Landed: 2019-Oct.csv\. .*ECOMMERCE_LAST_MONTH"):
        lake.landing_file(dt.date(2019, 11, 1))
    (tmp_path / "landing" / "2019-Nov.csv").write_text(HEADER + "\n")
    assert lake.landing_file(dt.date(2019, 11, 1)) == LandingFile(tmp_path / "landing" / "2019-Nov.csv")


def _landing_lines(path, member=None):
    """The landing file's lines by number (header = 1), read with plain Python: text mode's line ends."""
    if member:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(member)
    else:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return {n: line.rstrip("\r\n") for n, line in enumerate(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""), 1)}


def _line_map(part):
    with gzip.open(part.with_name(part.name.removesuffix(".csv.gz") + ".lines.gz"), "rt", newline="") as handle:
        return [(int(r["part_line"]), r["landing_file"], int(r["landing_line"])) for r in csv.DictReader(handle)]


def _mixed_month(seed):
    """Lines of four weeks: in time order, then a stretch where weeks interleave, with bad lines scattered,
    a stretch of CRLF line ends and some non-ASCII text."""
    rng = random.Random(seed)
    lines = [f"2019-10-{7 + i // 100:02d} {i % 24:02d}:00:{i % 60:02d} UTC,view,{i},2053013555631882655,,brand{i},1.00,{i},s"
             for i in range(2000)]
    mixed = lines[600:1600]
    rng.shuffle(mixed)  # days 13..22 interleave: blocks holding lines of three weeks
    lines[600:1600] = mixed
    for i in range(300, 310):
        lines[i] += ",ünïcode"
    bad = ["garbled ### line", "", "2019-11-01 10:00:00 UTC,view,1,2,,,1.00,5,s", "2019-10-10 99:00:00 UTC,view,1,2,,,1,5,s"]
    for position in sorted(rng.sample(range(len(lines)), 25), reverse=True):
        lines.insert(position, bad[position % len(bad)])
    ends = ["\r\n" if 1500 <= i < 1600 else "\n" for i in range(len(lines))]
    return HEADER + "\n" + "".join(line + end for line, end in zip(lines, ends))


@pytest.mark.parametrize("kind", ["csv.gz", "zip", "csv"])
def test_line_maps_point_every_raw_line_at_its_landing_line(tmp_path, monkeypatch, kind):
    # Small blocks: the split mixes the block path (clean blocks, one or several weeks) and the text path
    # (the first block, blocks with a bad line or CRLF); 37 lines per part: parts roll over inside runs.
    monkeypatch.setattr(raw_split, "BLOCK_BYTES", 2048)
    text = _mixed_month(seed=len(kind))
    member = None
    if kind == "zip":
        source, member = tmp_path / "archive.zip", "data/2019-Oct.csv"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, text)
    else:
        source = tmp_path / f"2019-Oct.{kind}"
        source.write_bytes(gzip.compress(text.encode()) if kind == "csv.gz" else text.encode())
    weeks = [dt.date(2019, 10, 7) + dt.timedelta(days=7 * i) for i in range(3)]
    folders = {week: tmp_path / f"week={week}" for week in weeks[:2]}  # 2019-10-21 is another partition's
    for folder in [*folders.values(), tmp_path / "bad"]:
        folder.mkdir()
    landing = LandingFile(source, member)
    split = split_month(landing, OCT, folders, tmp_path / "bad", part_rows=37)

    expected_name = "archive.zip:data/2019-Oct.csv" if member else source.name
    assert landing.name == expected_name
    delivered = _landing_lines(source, member)
    checked, runs = set(), 0
    for part in sorted(p for folder in folders.values() for p in folder.glob("*.csv.gz")):
        with gzip.open(part, "rt", newline="") as handle:
            part_lines = [line.rstrip("\n") for line in handle]
        line_map = _line_map(part)
        assert line_map[0][0] == 2  # the first line after the part's header starts a run
        runs += len(line_map)
        for (start, _, first), (next_start, _, next_first) in itertools.pairwise(line_map):
            assert next_first != first + next_start - start  # a new run only where landing lines jump
        for number in range(2, len(part_lines) + 1):
            start, name, first = [run for run in line_map if run[0] <= number][-1]
            landing_line = first + number - start
            assert name == expected_name
            assert delivered[landing_line] == part_lines[number - 1], (part.name, number)
            checked.add(landing_line)
    assert len(checked) == sum(split.rows_by_week.values())
    assert runs < len(checked) / 3  # runs, not lines: in-order stretches take one row per part

    with open(tmp_path / "bad" / "unroutable.csv", newline="") as handle:
        unroutable = list(csv.DictReader(handle))
    assert len(unroutable) == 25 and {r["source_file"] for r in unroutable} == {expected_name}
    for row in unroutable:
        assert delivered[int(row["line_number"])] == row["raw_line"]
    # Every landing line is accounted for once: in a part, unroutable, or in the week not requested.
    assert len(checked) + len(unroutable) + split.rows_other_weeks == len(delivered) - 1
