"""Bad lines end in quarantine with their reason and the accounting still balances; a missing month fails clearly."""

import csv
import datetime as dt
import functools
import gzip
import io
import random
import zipfile

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.lib import raw_split
from ecommerce_assets.defs.raw import raw_events
from ecommerce_assets.defs.checks import clean_check_results
from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.lake import Lake, read_manifest, write_manifest
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
    quarantined = duckdb.execute(
        "select raw_line, reject_reason, landing_file, landing_line "
        f"from read_parquet('{settings.lake}/quarantine/events/week=2019-10-28/*.parquet')"
    ).fetchall()
    rejected = {line: reason for line, reason, _, _ in quarantined}
    # Injected after the header and 99 lines: the n-th bad line is line 101 + n of the file as delivered.
    position = {line: 101 + n for n, line in enumerate(BAD_LINES)}
    assert {(line, file, number) for line, _, file, number in quarantined} == {
        (line, "2019-Oct.csv.gz", position[line]) for line, (where, _) in BAD_LINES.items() if where == "rejected"
    }
    for line, (where, reason) in BAD_LINES.items():
        if where == "unroutable":
            assert unroutable[line]["reject_reason"] == reason
            assert unroutable[line]["source_file"] == "2019-Oct.csv.gz"
            assert int(unroutable[line]["line_number"]) == position[line]
        else:
            assert rejected[line] == reason
    assert len(unroutable) == 2 and len(rejected) == 3
    manifest = read_manifest(settings.lake / "clean" / "events" / "week=2019-10-28")
    assert manifest["rejected_by_reason"] == {"malformed_line": 1, "negative_price": 1, "unknown_event_type": 1}
    assert manifest["raw_rows"] == manifest["clean_rows"] + manifest["duplicates"] + manifest["rejected_rows"]


REJECTABLE = (  # lines the split routes (a readable time) and Spark rejects: {day} {n} keep each one unique
    "2019-{day} 10:00:{n:02d} UTC,view,1004856,2053013555631882655,,samsung,-130.76,543272936,s",
    "2019-{day} 10:01:{n:02d} UTC,click,1004856,2053013555631882655,,samsung,130.76,543272936,s",
    "2019-{day} 10:02:{n:02d} UTC,view,1004856,2053013555631882655,,samsung",
    "2019-{day} 10:03:{n:02d} UTC,view,1004856,2053013555631882655,,samsung,1.234,,s",
)


def _with_bad_lines(generated, month: str, days: range, seed: int) -> tuple[str, set[str]]:
    """A generated month's text with rejectable and unroutable lines scattered over ``days``, weeks
    interleaved around the first day after them, and a stretch of CRLF line ends (so the split takes both
    its block and its text path); and the rejectable lines injected."""
    rng = random.Random(seed)
    with gzip.open(generated, "rt", newline="") as handle:
        header, *lines = handle.read().splitlines()
    boundary = next(i for i, line in enumerate(lines) if int(line[8:10]) == days.stop)
    mixed = lines[boundary - 600 : boundary + 600]
    rng.shuffle(mixed)
    lines[boundary - 600 : boundary + 600] = mixed
    targets = [i for i, line in enumerate(lines) if int(line[8:10]) in days]
    injected = set()
    for n, position in enumerate(sorted(rng.sample(targets, 40), reverse=True)):
        bad = REJECTABLE[n % len(REJECTABLE)].format(day=f"{month}-{lines[position][8:10]}", n=n) if n % 5 else f"garbled ### {n}"
        injected |= {bad} if n % 5 else set()
        lines.insert(position, bad)
    ends = ["\r\n" if boundary - 300 <= i < boundary - 200 else "\n" for i in range(len(lines))]
    return header + "\n" + "".join(line + end for line, end in zip(lines, ends)), injected


def _numbered(text: str) -> dict[int, str]:
    """Line number (header = 1) -> line, as plain Python's text mode splits the file."""
    return {n: line.rstrip("\r\n") for n, line in enumerate(io.StringIO(text, newline=""), 1)}


def test_quarantined_rows_name_their_landing_file_and_line(spark, settings, tmp_path, monkeypatch):
    # October as a member of the Kaggle zip, November as .csv.gz; small blocks and 150-line parts, so
    # parts roll over inside runs and the split mixes its paths.
    generated = generate(tmp_path / "generated", 0.0002, parse_months("2019-10..2019-11"), seed=9)
    october, october_bad = _with_bad_lines(generated[0], "10", range(21, 28), seed=1)  # week 2019-10-21
    november, november_bad = _with_bad_lines(generated[1], "11", range(1, 4), seed=2)  # week 2019-10-28
    landing = settings.lake / "landing"
    landing.mkdir(parents=True)
    with zipfile.ZipFile(landing / "ecommerce-behavior-data.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2019-Oct.csv", october)
    (landing / "2019-Nov.csv.gz").write_bytes(gzip.compress(november.encode()))
    monkeypatch.setattr(raw_split, "BLOCK_BYTES", 8192)
    monkeypatch.setattr(raw_events, "split_month", functools.partial(raw_split.split_month, part_rows=150))
    result = materialize_weeks(
        settings, "2019-10-21", "2019-10-28", selection=dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events")
    )
    assert result.success and all(check_results(result).values())
    assert len(list((settings.lake / "raw" / "events" / "week=2019-10-21").glob("*.lines.gz"))) > 5

    delivered = {"ecommerce-behavior-data.zip:2019-Oct.csv": _numbered(october), "2019-Nov.csv.gz": _numbered(november)}
    expected = {  # every rejectable line injected, where it is in its landing file
        (name, number) for name, lines in delivered.items() for number, line in lines.items()
        if line in october_bad | november_bad
    }
    quarantined = duckdb.execute(
        "select landing_file, landing_line, raw_line, source_file, reject_reason "
        f"from read_parquet('{settings.lake}/quarantine/events/*/*.parquet')"
    ).fetchall()
    assert len(quarantined) == len(expected) > 20
    for name, number, line, source_file, _ in quarantined:
        assert delivered[name][number] == line, (name, number)
        assert "/raw/events/week=" in source_file and source_file.endswith(".csv.gz")  # the raw part, still
    assert {(name, number) for name, number, *_ in quarantined} == expected

    with open(settings.lake / "quarantine" / "unroutable" / "month=2019-10" / "unroutable.csv", newline="") as handle:
        unroutable = list(csv.DictReader(handle))
    assert unroutable and {r["source_file"] for r in unroutable} == {"ecommerce-behavior-data.zip:2019-Oct.csv"}
    assert all(delivered[r["source_file"]][int(r["line_number"])] == r["raw_line"] for r in unroutable)


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
