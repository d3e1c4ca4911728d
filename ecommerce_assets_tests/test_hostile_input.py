"""Hostile input: damaged archives, mislabelled months, garbled bytes and values, absurdly long lines.

What should happen, decided once for all of it:

- A problem of the whole file (a truncated or corrupt archive, no content, no line breaks, another
  month's file under this month's name) fails the month with ``LandingFormatError``: the message names
  the file (``archive.zip:member`` for a zip member) and, where it can be known, the line and the byte of
  its content where reading stopped. Nothing of the month is published.
- A problem of one line never stops the month. The split quarantines the lines it cannot place in a week
  (``quarantine/unroutable``: bytes that are not UTF-8, a repeated header, an unreadable time, a time of
  another month); Spark rejects the routed lines that break a rule (``quarantine/events``), each with its
  reason and its landing file and line. Every delivered line is accounted for: unroutable, or a raw row,
  and raw = clean + duplicates + rejected.
- Times are ``YYYY-MM-DD HH:MM:SS UTC`` and nothing else: another zone or fractional seconds is an
  unreadable time, not a time to convert. Ids are decimal digits that fit bigint; prices plain decimals:
  exponent notation, overflow and odd whitespace are invalid, never coerced.
- A row of another month in a month's file is quarantined (``outside_source_month``), not routed: the
  weeks of a run read only the months they overlap, so routing it would make a line's fate depend on which
  weeks a run asked for.

The DuckDB reference (ecommerce_assets_tests/reference_clean.py) applies the same rules; it is run on the same raw files
and must agree line by line, here on hand-written lines and in a property test on generated ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import re
import tempfile
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from ecommerce_assets_tests.reference_clean import compare, reference_clean
from ecommerce_assets.lib import raw_split
from ecommerce_assets.defs.raw.raw_events import raw_events
from ecommerce_assets.lib.kaggle import COLUMNS, EVENT_TYPES, HEADER
from ecommerce_assets.lib.lake import LandingFile, read_manifest
from ecommerce_assets.lib.raw_split import MAX_LINE_BYTES, LandingFormatError, read_header, split_month
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets_tests.helpers import check_results, materialize_weeks

OCT = dt.date(2019, 10, 1)
W = dt.date(2019, 10, 21)
PHONE = "2053013555631882655"
BIG_SESSION = "s" * (10 << 20)  # a 10 MB line


def _line(second: int, day: int = 22, **fields: str) -> str:
    """A valid October line (unique by day and second) with some fields replaced."""
    values = {
        "event_time": f"2019-10-{day:02d} 10:{second // 60:02d}:{second % 60:02d} UTC",
        "event_type": "view",
        "product_id": "1004856",
        "category_id": PHONE,
        "category_code": "electronics.smartphone",
        "brand": "samsung",
        "price": "130.76",
        "user_id": "543272936",
        "user_session": "2f3b4c5d-0000-4000-8000-000000000001",
    }
    values.update(fields)
    return ",".join(values[name] for name in COLUMNS)


def _gz(text: bytes) -> bytes:
    return gzip.compress(text, compresslevel=1, mtime=0)


def _zip(path: Path, member: str, data: bytes, method: int = zipfile.ZIP_DEFLATED) -> LandingFile:
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr(member, data)
    return LandingFile(path, member)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1 :]


def _month_text(lines: int = 3000) -> bytes:
    body = "".join(_line(i % 3600, 1 + i % 28) + "\n" for i in range(lines))
    return (HEADER + "\n" + body).encode()


def _split(source: LandingFile, tmp_path: Path, month: dt.date = OCT, weeks: tuple[dt.date, ...] = ()):
    folders = {week: tmp_path / f"week={week}" for week in weeks}
    for folder in [*folders.values(), tmp_path / "bad"]:
        folder.mkdir(exist_ok=True)
    return split_month(source, month, folders, tmp_path / "bad")


# ---------------------------------------------------------------------------------------------------------
# Whole-file problems: (case, build the landing file in a folder, month, expected message as a regex).
# The regex names the file as the error must (member included) and where reading stopped.


def _truncated_gzip(folder: Path) -> LandingFile:
    data = _gz(_month_text())
    (folder / "2019-Oct.csv.gz").write_bytes(data[: len(data) * 2 // 3])
    return LandingFile(folder / "2019-Oct.csv.gz")


def _corrupt_gzip(folder: Path) -> LandingFile:
    """One byte changed mid-stream: it still inflates (to wrong bytes), and the CRC at the end tells."""
    data = _gz(_month_text())
    (folder / "2019-Oct.csv.gz").write_bytes(_flip(data, len(data) // 2))
    return LandingFile(folder / "2019-Oct.csv.gz")


def _gzip_bad_block(folder: Path) -> LandingFile:
    """A deflate block of reserved type halfway: inflating stops there (zlib.error)."""
    text = _month_text()
    half = text.index(b"\n", len(text) // 2) + 1
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    head = packer.compress(text[:half]) + packer.flush(zlib.Z_FULL_FLUSH)  # ends on a byte boundary
    tail = packer.compress(text[half:]) + packer.flush()
    (folder / "2019-Oct.csv.gz").write_bytes(head + bytes([tail[0] | 0b110]) + tail[1:])  # block type 11
    return LandingFile(folder / "2019-Oct.csv.gz")


def _not_gzip(folder: Path) -> LandingFile:
    (folder / "2019-Oct.csv.gz").write_bytes(_month_text(10))
    return LandingFile(folder / "2019-Oct.csv.gz")


def _zip_bad_crc(folder: Path) -> LandingFile:
    """A stored member with one byte changed: it reads to its end, where the CRC does not match."""
    source = _zip(folder / "kaggle.zip", "data/2019-Oct.csv", _month_text(), zipfile.ZIP_STORED)
    data = (folder / "kaggle.zip").read_bytes()
    at = data.index(b"2019-10-15 10:")  # in the member's data, whose CRC is in the headers
    (folder / "kaggle.zip").write_bytes(_flip(data, at + 3))
    return source


def _zip_bad_block(folder: Path) -> LandingFile:
    """The member's first deflate block of reserved type: nothing of it inflates (zlib.error)."""
    source = _zip(folder / "kaggle.zip", "data/2019-Oct.csv", _month_text())
    data = bytearray((folder / "kaggle.zip").read_bytes())
    data[30 + len("data/2019-Oct.csv")] |= 0b110  # after the member's local header (no extra field)
    (folder / "kaggle.zip").write_bytes(bytes(data))
    return source


def _truncated_zip(folder: Path) -> LandingFile:
    source = _zip(folder / "kaggle.zip", "data/2019-Oct.csv", _month_text())
    data = (folder / "kaggle.zip").read_bytes()
    (folder / "kaggle.zip").write_bytes(data[: len(data) // 2])  # the central directory is gone
    return source


def _empty(name: str):
    def build(folder: Path) -> LandingFile:
        if name.endswith(".zip"):
            return _zip(folder / name, "2019-Oct.csv", b"")
        (folder / name).write_bytes(b"")
        return LandingFile(folder / name)

    return build


def _gzip_of_nothing(folder: Path) -> LandingFile:
    (folder / "2019-Oct.csv.gz").write_bytes(_gz(b""))
    return LandingFile(folder / "2019-Oct.csv.gz")


def _gzip_named_csv(folder: Path) -> LandingFile:
    (folder / "2019-Oct.csv").write_bytes(_gz(_month_text(10)))
    return LandingFile(folder / "2019-Oct.csv")


def _cr_only(folder: Path) -> LandingFile:
    """Old Mac line ends: not one newline in the whole file."""
    text = HEADER + "\r" + (_line(1) + "\r") * (MAX_LINE_BYTES // 80)
    (folder / "2019-Oct.csv.gz").write_bytes(_gz(text.encode()))
    return LandingFile(folder / "2019-Oct.csv.gz")


def _zero_filled(folder: Path) -> LandingFile:
    """A hole of zeros after line 3 (a copy that crashed): 17 MB without a line break."""
    text = _month_text(2) + b"\0" * (MAX_LINE_BYTES + (1 << 20))
    (folder / "2019-Oct.csv.gz").write_bytes(_gz(text))
    return LandingFile(folder / "2019-Oct.csv.gz")


def _misnamed(folder: Path) -> LandingFile:
    """October's lines (and a few of November's) in the file named for November."""
    lines = [_line(i, 1 + i % 31) for i in range(40)] + [_line(i, 1).replace("2019-10", "2019-11") for i in range(3)]
    (folder / "2019-Nov.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    return LandingFile(folder / "2019-Nov.csv")


NOV = dt.date(2019, 11, 1)
DAMAGED_AT = r"; noticed after line \d+ \(byte \d+ of its content\)"
BAD_BLOCK = r"damaged or incomplete \(Error -3 while decompressing data: invalid block type\)"
WHOLE_FILE_CASES = [
    ("truncated .csv.gz", _truncated_gzip, OCT,
     r"/2019-Oct\.csv\.gz: damaged or incomplete \(Compressed file ended before the end-of-stream marker was "
     r"reached\)" + DAMAGED_AT),
    ("corrupt .csv.gz (a byte flipped mid-stream)", _corrupt_gzip, OCT,
     r"/2019-Oct\.csv\.gz: damaged or incomplete \(CRC check failed 0x[0-9a-f]+ != 0x[0-9a-f]+\)" + DAMAGED_AT),
    (".csv.gz with an invalid deflate block mid-stream", _gzip_bad_block, OCT,
     r"/2019-Oct\.csv\.gz: " + BAD_BLOCK + DAMAGED_AT),
    (".csv.gz that is plain text", _not_gzip, OCT,
     r"/2019-Oct\.csv\.gz: damaged or incomplete \(Not a gzipped file \(b'ev'\)\)$"),
    ("zip member with a bad CRC", _zip_bad_crc, OCT,
     r"/kaggle\.zip:data/2019-Oct\.csv: damaged or incomplete \(Bad CRC-32 for file 'data/2019-Oct\.csv'\)"
     + DAMAGED_AT),
    ("zip member with an invalid deflate block", _zip_bad_block, OCT,
     r"/kaggle\.zip:data/2019-Oct\.csv: " + BAD_BLOCK + "$"),
    ("truncated zip (no central directory)", _truncated_zip, OCT,
     r"/kaggle\.zip:data/2019-Oct\.csv: damaged or incomplete \(File is not a zip file\)$"),
    ("empty .csv (0 bytes)", _empty("2019-Oct.csv"), OCT, r"/2019-Oct\.csv: file is empty \(expected the header line"),
    ("empty .csv.gz (0 bytes)", _empty("2019-Oct.csv.gz"), OCT, r"/2019-Oct\.csv\.gz: file is empty"),
    ("empty zip member", _empty("kaggle.zip"), OCT, r"/kaggle\.zip:2019-Oct\.csv: file is empty"),
    ("gzip of nothing", _gzip_of_nothing, OCT, r"/2019-Oct\.csv\.gz: file is empty"),
    ("gzip data named .csv", _gzip_named_csv, OCT, r"/2019-Oct\.csv, line 1: header is b'\\x1f\\x8b\\x08"),
    ("CR-only line ends (no newline at all)", _cr_only, OCT,
     rf"/2019-Oct\.csv\.gz, line 1 \(byte 0\): no line break within {MAX_LINE_BYTES} bytes; not a line-per-event CSV"),
    ("17 MB of zero bytes after line 3", _zero_filled, OCT,
     rf"/2019-Oct\.csv\.gz, line 4 \(byte {len(_month_text(2))}\): no line break within {MAX_LINE_BYTES} bytes"),
    ("October's rows in 2019-Nov.csv", _misnamed, NOV,
     r"/2019-Nov\.csv: 40 of 43 lines are not of 2019-11 \(the first, line 2, is of 2019-10-01\): "
     r"the file name does not match its content"),
]


@pytest.mark.unit
@pytest.mark.parametrize(("build", "month", "message"), [case[1:] for case in WHOLE_FILE_CASES],
                         ids=[case[0] for case in WHOLE_FILE_CASES])
def test_a_broken_file_fails_with_its_name_and_where(tmp_path, monkeypatch, build, month, message):
    monkeypatch.setattr(raw_split, "BLOCK_BYTES", 64 << 10)  # several blocks before the damage shows
    source = build(tmp_path)
    with pytest.raises(LandingFormatError, match=message) as failure:
        _split(source, tmp_path, month, weeks=(W,))
    assert str(source.path) in str(failure.value)
    if found := re.search(r"noticed after line (\d+)", str(failure.value)):
        assert int(found[1]) > 100  # blocks were routed before the damage showed, and the error says how far


@pytest.mark.unit
def test_the_landing_check_reads_only_the_header(tmp_path):
    """The landing check (``read_header``) fails what has no valid header and passes what only a later line
    spoils: that line is the split's to quarantine, not a reason to refuse the month."""
    for build in (_empty("2019-Oct.csv"), _gzip_named_csv, _not_gzip, _truncated_zip, _zip_bad_block):
        folder = tmp_path / build.__name__
        folder.mkdir()
        source = build(folder)
        with pytest.raises(LandingFormatError, match=re.escape(str(folder))):
            read_header(source)
    spoiled = tmp_path / "2019-Oct.csv"
    spoiled.write_bytes(HEADER.encode() + b"\n" + _line(1).encode() + b"\n" + _line(2).encode()[:-3] + b"\xff\xfe\n")
    assert read_header(LandingFile(spoiled)) == HEADER


@pytest.mark.unit
def test_header_only_file_is_an_empty_month(tmp_path):
    """A header and nothing else is a month without events (a live month that has just begun): no error,
    nothing routed, nothing quarantined."""
    (tmp_path / "2019-Oct.csv.gz").write_bytes(_gz((HEADER + "\n").encode()))
    split = _split(LandingFile(tmp_path / "2019-Oct.csv.gz"), tmp_path, weeks=(W,))
    assert (split.rows_read, sum(split.rows_by_week.values()), sum(split.unroutable.values())) == (0, 0, 0)
    assert list((tmp_path / f"week={W}").iterdir()) == []
    assert (tmp_path / "bad" / "unroutable.csv").read_text().splitlines() == [",".join(raw_split.UNROUTABLE_HEADER)]


# ---------------------------------------------------------------------------------------------------------
# One-line problems: (line as delivered, where it ends, reason). "unroutable": the split's quarantine CSV;
# "rejected": Spark's quarantine; "clean": a clean event. Bytes, because some are not UTF-8.

HOSTILE_LINES: list[tuple[bytes, str, str | None]] = [
    (HEADER.encode(), "unroutable", "repeated_header"),
    (b"\xef\xbb\xbf" + HEADER.encode(), "unroutable", "repeated_header"),  # a second dump, BOM and all
    (_line(1).replace("samsung", "sams\xffung").encode("latin-1"), "unroutable", "invalid_utf8"),
    (_line(2).encode()[:18] + b"\xc3(" + _line(2).encode()[20:], "unroutable", "invalid_utf8"),  # in the time
    (_line(3).encode() + b"\xed\xa0\x80", "unroutable", "invalid_utf8"),  # an encoded surrogate is not UTF-8
    (_line(4).replace(" UTC", "+02:00").encode(), "unroutable", "bad_event_time"),
    (_line(5).replace(" UTC", " CET").encode(), "unroutable", "bad_event_time"),
    (_line(6).replace("2019-10-22 10:00:06 UTC", "2019-10-22T10:00:06Z").encode(), "unroutable", "bad_event_time"),
    (_line(7).replace(":07 UTC", ":07.250 UTC").encode(), "unroutable", "bad_event_time"),
    (_line(8).replace(":08 UTC", ":08\0UTC").encode(), "unroutable", "bad_event_time"),
    (_line(9).replace("10:00:09", "24:00:09").encode(), "unroutable", "bad_event_time"),
    (_line(10, day=31).replace("2019-10-31", "2019-11-02").encode(), "unroutable", "outside_source_month"),
    (_line(11).replace("2019-10-22", "2019-09-30").encode(), "unroutable", "outside_source_month"),
    (b"", "unroutable", "empty_line"),
    (_line(20, brand="sam\0sung").encode(), "rejected", "invalid_brand"),
    (_line(21, user_session="2f3b\0").encode(), "rejected", "invalid_user_session"),
    (_line(22, product_id="1004\x00856").encode(), "rejected", "invalid_product_id"),
    (_line(23, user_session=BIG_SESSION).encode(), "rejected", "invalid_user_session"),
    (_line(24, brand="x" * 300).encode(), "rejected", "invalid_brand"),
    (_line(25, category_code="electronics\x7fsmartphone").encode(), "rejected", "invalid_category_code"),
    (_line(26).encode() + b",x" * 5000, "rejected", "malformed_line"),
    (_line(27, price="1e3").encode(), "rejected", "non_numeric_price"),
    (_line(28, product_id="1.5e9").encode(), "rejected", "invalid_product_id"),
    (_line(29, user_id="1.5e9").encode(), "rejected", "invalid_user_id"),
    (_line(30, category_id="2.053e18").encode(), "rejected", "invalid_category_id"),
    (_line(31, product_id="9" * 20).encode(), "rejected", "invalid_product_id"),
    (_line(32, category_id="9" * 20).encode(), "rejected", "invalid_category_id"),
    (_line(33, category_id="9223372036854775808").encode(), "rejected", "invalid_category_id"),  # 2^63
    (_line(34, user_id="9223372036854775808").encode(), "rejected", "invalid_user_id"),
    (_line(35, price="99999999999.99").encode(), "rejected", "non_numeric_price"),  # over decimal(12,2)
    (_line(36, price="\x0b-1.00").encode(), "rejected", "non_numeric_price"),
    (_line(37, price=" -1.00").encode(), "rejected", "negative_price"),
    (_line(38, product_id="\u00a0").encode(), "rejected", "invalid_product_id"),  # no-break space is not blank
    (_line(39, product_id=" ").encode(), "rejected", "missing_product_id"),
    (_line(40, event_type="VIEW").encode(), "rejected", "unknown_event_type"),
    (_line(41, brand="br\\x01and").encode(), "clean", None),  # backslash text is text
    (_line(42, category_id="9223372036854775807").encode(), "clean", None),  # bigint's largest
    (_line(43, brand="ünïcödé", category_code="").encode(), "clean", None),
    (_line(44, price="0007.5").encode(), "clean", None),
]


def _hostile_month() -> tuple[bytes, dict[int, tuple[bytes, str, str | None]]]:
    """A BOM, then October's header and valid lines of week 2019-10-21 with the hostile lines among them (one
    valid line twice); the hostile lines by their line number (header = 1)."""
    valid = [_line(100 + i, 21 + i % 7).encode() for i in range(30)]
    body = [*valid[:10], valid[3], *valid[10:]]
    for n, (line, _, _) in enumerate(HOSTILE_LINES):
        body.insert(2 * n + 1, line)
    case_of = {case[0]: case for case in HOSTILE_LINES}
    where = {number: case_of[line] for number, line in enumerate(body, 2) if line in case_of}
    return b"\xef\xbb\xbf" + HEADER.encode() + b"\n" + b"\n".join(body) + b"\n", where


@pytest.mark.unit
def test_one_bad_line_is_quarantined_by_the_split_and_nothing_is_lost(tmp_path):
    """The split alone: each "unroutable" line of the table is in the quarantine CSV at its landing line with
    its reason, as delivered (bytes that are not UTF-8 as \\xNN); every other line is routed."""
    text, where = _hostile_month()
    (tmp_path / "2019-Oct.csv.gz").write_bytes(_gz(text))
    split = _split(LandingFile(tmp_path / "2019-Oct.csv.gz"), tmp_path, weeks=(W,))
    unroutable = {int(r["line_number"]): r for r in _unroutable_rows(tmp_path / "bad")}
    expected = {number: case for number, case in where.items() if case[1] == "unroutable"}
    assert {n: r["reject_reason"] for n, r in unroutable.items()} == {n: case[2] for n, case in expected.items()}
    for number, row in unroutable.items():
        assert row["source_file"] == "2019-Oct.csv.gz"
        assert row["raw_line"] == expected[number][0].decode("utf-8", "backslashreplace")
    delivered = text.count(b"\n") - 1
    assert split.rows_read == delivered == sum(split.rows_by_week.values()) + len(unroutable) + split.rows_other_weeks
    assert split.rows_other_weeks == 0


def _unroutable_rows(folder: Path) -> list[dict[str, str]]:
    """The split's quarantine CSV, read with Python's csv module (whose default field limit is 128 KB)."""
    limit = csv.field_size_limit(1 << 30)
    try:
        with open(folder / "unroutable.csv", newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)


@pytest.mark.unit
def test_a_10_mb_line_that_is_no_event_is_quarantined_whole(tmp_path):
    """10 MB of text without a time between two events: unroutable (bad_event_time), kept whole, and the
    lines after it are still routed and numbered right."""
    (tmp_path / "2019-Oct.csv").write_text("\n".join([HEADER, _line(1), "x" * (10 << 20), _line(2)]) + "\n")
    split = _split(LandingFile(tmp_path / "2019-Oct.csv"), tmp_path, weeks=(W,))
    [row] = _unroutable_rows(tmp_path / "bad")
    assert (row["line_number"], row["reject_reason"], len(row["raw_line"])) == ("3", "bad_event_time", 10 << 20)
    assert split.rows_by_week == {W: 2} and split.rows_read == 3


def _quarantine_query(lake: Path, month: str) -> list[tuple]:
    """docs/troubleshooting.md's query for the split's quarantine."""
    return _query(f"""
      select source_file as landing_file, line_number as landing_line, reject_reason, raw_line
      from read_csv('{lake}/quarantine/unroutable/month={month}/unroutable.csv', header = true,
                    types = {{'line_number': 'bigint'}}) order by 1, 2""")


def _query(sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


@pytest.mark.integration
def test_hostile_lines_end_clean_rejected_or_unroutable_with_file_and_line(spark, settings, tmp_path):
    """The whole path (split, Spark, checks) on a month with every one-line problem: the week materializes,
    row accounting holds, each line is where the table says with its reason and landing line, and the
    DuckDB reference cleans the same raw files to the same rows and rejects."""
    text, where = _hostile_month()
    landing = settings.lake / "landing"
    landing.mkdir(parents=True)
    (landing / "2019-Oct.csv.gz").write_bytes(_gz(text))
    result = materialize_weeks(settings, W.isoformat(),
                               selection=dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events"))
    assert result.success and all(check_results(result).values())

    unroutable = _quarantine_query(settings.lake, "2019-10")
    expected = {(n, reason) for n, (_, kind, reason) in where.items() if kind == "unroutable"}
    assert {(n, reason) for _, n, reason, _ in unroutable} == expected
    assert {file for file, *_ in unroutable} == {"2019-Oct.csv.gz"}
    rejected = _query(
        "select landing_file, landing_line, reject_reason, raw_line "
        f"from read_parquet('{settings.lake}/quarantine/events/week={W}/*.parquet')"
    )
    assert {(file, n, reason) for file, n, reason, _ in rejected} == {
        ("2019-Oct.csv.gz", n, c[2]) for n, c in where.items() if c[1] == "rejected"
    }
    assert all(line.encode() == where[n][0] for _, n, _, line in rejected)  # the 10 MB line whole
    clean_parquet = f"{settings.lake}/clean/events/week={W}/*.parquet"
    clean_ids = {row[0] for row in _query(f"select event_id from read_parquet('{clean_parquet}')")}
    for line, kind, _ in HOSTILE_LINES:
        assert (hashlib.md5(line).hexdigest() in clean_ids) == (kind == "clean"), line[:80]

    manifest = read_manifest(settings.lake / "clean" / "events" / f"week={W}")
    assert manifest["duplicates"] == 1
    assert manifest["rejected_by_reason"] == dict(Counter(c[2] for c in HOSTILE_LINES if c[1] == "rejected"))
    assert manifest["raw_rows"] == manifest["clean_rows"] + manifest["duplicates"] + manifest["rejected_rows"]
    assert manifest["raw_rows"] + len(unroutable) == text.count(b"\n") - 1  # every delivered line

    raw_files = sorted(str(p) for p in (settings.lake / "raw" / "events").glob("week=*/*.csv.gz"))
    reference = reference_clean(raw_files, tmp_path / "reference", tmp_path / "reference-tmp", memory_limit="1GB")
    assert compare(settings.lake / "clean" / "events", tmp_path / "reference" / "clean", tmp_path / "cmp", "1GB") == 0
    reference_rejected = _query(
        f"select raw_line, reject_reason from read_parquet('{tmp_path}/reference/rejected/*/*')"
    )
    assert Counter(reference_rejected) == Counter((line, reason) for _, _, reason, line in rejected)
    assert reference["rejected_rows"] == len(rejected)


@pytest.mark.unit
def test_a_damaged_month_fails_the_asset_with_a_clear_message(settings):
    """Through the asset: a member whose deflate data cannot be inflated (zlib.error, which the asset's own
    list of read errors misses: it was a bare traceback) fails with the file and member named, and no raw
    week is left behind. (Invoked directly: in a run, the asset's retry policy retries it twice first.)"""
    landing = settings.lake / "landing"
    landing.mkdir(parents=True)
    source = _zip_bad_block(landing)
    context = dg.build_asset_context(partition_key=W.isoformat())
    with pytest.raises(dg.Failure) as failure:
        raw_events(context, lake=build_resources(settings)["lake"])
    assert failure.value.description == f"{source.path}:data/2019-Oct.csv: damaged or incomplete " + (
        "(Error -3 while decompressing data: invalid block type)"
    )
    assert not (settings.lake / "raw" / "events").exists() or not any((settings.lake / "raw" / "events").iterdir())


@pytest.mark.unit
def test_a_damaged_zip_hides_no_other_month_and_is_named_when_its_month_is_missing(tmp_path):
    """Kaggle's download is one zip per dump: a truncated one is skipped while looking for another month,
    and named (with zipfile's reason) when the month asked for is in no readable file."""
    from ecommerce_assets.lib.lake import Lake, MissingLandingFile

    landing = tmp_path / "lake" / "landing"
    landing.mkdir(parents=True)
    _truncated_zip(landing)  # kaggle.zip: 2019-Oct.csv, central directory gone
    with zipfile.ZipFile(landing / "nov.zip", "w") as archive:
        archive.writestr("2019-Nov.csv", HEADER + "\n")
    lake = Lake(tmp_path / "lake")
    found = lake.landing_file(dt.date(2019, 11, 1))
    assert (found.path.name, found.member) == ("nov.zip", "2019-Nov.csv")
    with pytest.raises(MissingLandingFile, match=r"2019-10 not found: .*unreadable zip archive\(s\) there, which may hold it: "
                                                 r"kaggle\.zip \(File is not a zip file\)"):
        lake.landing_file(OCT)


@pytest.mark.integration
def test_a_format_error_fails_the_run_once_without_retries(settings):
    """A header that is not the dataset's fails the same way on every attempt: the run's retry policy
    (for a landing zone that is briefly unreachable) is not spent on it."""
    landing = settings.lake / "landing"
    landing.mkdir(parents=True)
    (landing / "2019-Oct.csv").write_text("when,what\n2019-10-22 10:00:00 UTC,view\n")
    result = materialize_weeks(settings, W.isoformat(), selection=dg.AssetSelection.assets("raw_events"), raise_on_error=False)
    events = [e.event_type_value for e in result.all_events]
    assert not result.success and "STEP_UP_FOR_RETRY" not in events and events.count("STEP_FAILURE") == 1
    assert "2019-Oct.csv" in str(result.failure_data_for_node("raw_events").error.message)


# ---------------------------------------------------------------------------------------------------------
# Property: generated lines, mutated, through the split, Spark and the reference.

WEEKS = (dt.date(2019, 10, 14), dt.date(2019, 10, 21))  # the run's weeks; other October days are other weeks'
NASTY = [" ", "\t", "\0", "\x01", "\x0b", "\x7f", "\r", "\u00a0", "\u2028", "\u0085", "\ufeff", '"', "'", ",", "-",
         "+", ".", "e", "E", "0", "9", "é", "\u0663", "\uff11", "\\", "x", "\udcff"]  # \udcff: a byte not UTF-8
SPACES = [" ", "\t", "\x0b", "\x0c", "\u00a0", "\u2028", "\u0085", "\u3000"]  # what "blank" could mean
ODD_TIMES = ["2019-10-{d} 24:00:00 UTC", "2019-10-{d} 10:00:00+02:00", "2019-10-{d} 10:00:00 CET",
             "2019-10-{d}T10:00:00Z", "2019-10-{d} 10:00:00.5 UTC", "2019-11-01 00:00:00 UTC",
             "2019-10-32 10:00:00 UTC", "2019-10-31 23:59:59 UTC", "2019-10-{d} 10:00:00 utc",
             " 2019-10-{d} 10:00:00 UTC", "2019-10-{d} 23:59:60 UTC"]


@st.composite
def _record(draw) -> list[str]:
    day, hour, minute, second = (draw(st.integers(low, high)) for low, high in ((14, 27), (0, 23), (0, 59), (0, 59)))
    return [
        f"2019-10-{day:02d} {hour:02d}:{minute:02d}:{second:02d} UTC",
        draw(st.sampled_from(EVENT_TYPES)),
        draw(st.sampled_from(["1004856", "1005115", "5100816", "12", "000123"])),
        draw(st.sampled_from([PHONE, "2232732093077520756", "777"])),
        draw(st.sampled_from(["", "electronics.smartphone", "kids.toys", "construction.tools.light"])),
        draw(st.sampled_from(["", "samsung", "apple", "acme"])),
        draw(st.sampled_from(["130.76", "0.00", "2574.07", "5.5", "12"])),
        draw(st.sampled_from(["543272936", "512475445", "1"])),
        draw(st.sampled_from(["", "2f3b4c5d-0000-4000-8000-000000000001", "s"])),
    ]


@st.composite
def _mutated_line(draw) -> str:
    fields = draw(_record())
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(fields) - 1))
        kind = draw(st.sampled_from(["drop", "duplicate", "swap", "empty", "blank", "garble", "insert", "escape",
                                      "quote", "exponent", "overflow", "zeros", "spaces", "sign", "time", "type"]))
        if kind == "drop" and len(fields) > 1:
            del fields[i]
        elif kind == "duplicate":
            fields.insert(i, fields[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(fields) - 1))
            fields[i], fields[j] = fields[j], fields[i]
        elif kind == "empty":
            fields[i] = ""
        elif kind == "blank":
            fields[i] = draw(st.text(st.sampled_from(SPACES), min_size=1, max_size=3))
        elif kind == "garble":
            fields[i] = draw(st.text(st.sampled_from(NASTY), max_size=6))
        elif kind == "insert":
            at = draw(st.integers(0, len(fields[i])))
            fields[i] = fields[i][:at] + draw(st.sampled_from(NASTY)) + fields[i][at:]
        elif kind == "escape":  # backslash text, not the character it would stand for
            fields[i] += draw(st.sampled_from(["\\x01", "\\n", "\\t", "\\u0000", "\\"]))
        elif kind == "quote":
            fields[i] = f'"{fields[i]}"'
        elif kind == "exponent":
            fields[i] = draw(st.sampled_from(["1e3", "1.5e9", "2.05E18", "-1e-2"]))
        elif kind == "overflow":
            fields[i] = draw(st.sampled_from(["9" * 19, "9" * 20, "9223372036854775808", "99999999999.99", "1" * 300]))
        elif kind == "zeros":
            fields[i] = "0" * draw(st.integers(1, 20)) + fields[i]
        elif kind == "spaces":
            fields[i] = draw(st.sampled_from([" ", "\t", "\u00a0"])) + fields[i] + draw(st.sampled_from(["", " "]))
        elif kind == "sign":  # a negative number, maybe after odd whitespace: the price mostly, or an id
            i = draw(st.sampled_from([j for j in (6, 6, 6, 2, 3, 7) if j < len(fields)] or [i]))
            fields[i] = draw(st.sampled_from(["", *SPACES, *SPACES])) + "-" + fields[i]
        elif kind == "time":
            fields[0] = draw(st.sampled_from(ODD_TIMES)).format(d=draw(st.integers(14, 27)))
        elif kind == "type":
            fields[i] = draw(st.sampled_from(["VIEW", "click", "remove_from_cart", "purchase "]))
    line = ",".join(fields)
    if draw(st.integers(0, 9)) == 0:  # cut short
        line = line[: draw(st.integers(0, len(line)))]
    return line


@st.composite
def _month(draw) -> tuple[str, str]:
    """A landing file's text (lines may hold surrogates: bytes that are not UTF-8) and its kind."""
    lines = draw(st.lists(_mutated_line(), min_size=40, max_size=120))
    for _ in range(draw(st.integers(0, 6))):  # whole lines delivered twice, or a header again
        at = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from([lines[at], lines[at], HEADER])))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + HEADER + end + "".join(line + end for line in lines), draw(st.sampled_from(["csv", "csv.gz", "zip"]))


def _monday(day: str) -> dt.date:
    date = dt.date.fromisoformat(day)
    return date - dt.timedelta(days=date.weekday())


def _delivered(data: bytes) -> dict[int, str]:
    """Line number (header = 1) -> line, as the project numbers lines (text mode's line ends)."""
    text = data.decode("utf-8", "surrogateescape")
    return {n: line.rstrip("\r\n") for n, line in enumerate(io.StringIO(text, newline=""), 1)}


def _spark_lines(spark, base: Path, paths: list[str], maps: list[str]):
    """Spark on the raw parts, as clean_weeks runs it: the rejected rows with their landing lines, and the
    clean rows (column names, rows)."""
    from ecommerce_assets.lib.spark.lineage import read_line_maps, with_landing_lines
    from ecommerce_assets.lib.spark.pipeline import clean_events
    from ecommerce_assets.lib.spark.rules import classify, read_raw, rejected_rows

    rejected = rejected_rows(classify(read_raw(spark, paths, str(base), positions=True)), positions=True)
    located = with_landing_lines(rejected, read_line_maps(spark, maps)).collect()
    clean = clean_events(classify(read_raw(spark, paths, str(base)))).drop("week")
    located_rows = [(r["raw_line"], r["reject_reason"], r["landing_file"], r["landing_line"]) for r in located]
    return located_rows, clean.columns, [tuple(r) for r in clean.collect()]


def _raw_lines(paths: list[str]) -> list[str]:
    lines = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            assert next(handle) == HEADER + "\n"
            lines += [line.removesuffix("\n") for line in handle]
    return lines


@pytest.mark.integration
@hypothesis_settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(month=_month())
def test_every_line_is_classified_once_and_spark_agrees_with_the_reference(spark, month):
    """Generated lines, mutated (fields dropped, duplicated, swapped, emptied, blank with odd spaces, garbled
    with control, space, quote, comma, line-break and non-UTF-8 characters, backslash text, numbers in
    exponent, overflowing, zero-padded or negative, odd times, lines cut short, duplicated lines, repeated
    headers) and delivered as .csv, .csv.gz or a zip member, with LF or CRLF, with or without BOM.

    Every delivered line ends exactly once: unroutable (with its line), in a week not asked for, or a raw
    row that Spark classifies clean, duplicate or rejected, rejected with its landing line. The DuckDB
    reference, on the same raw files, gives every line the same class and reason and the same clean rows."""
    text, kind = month
    data = text.encode("utf-8", "surrogateescape")
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        root = Path(tmp)
        patch.setattr(raw_split, "BLOCK_BYTES", 1024)  # block and text paths both, parts rolling over
        if kind == "zip":
            source = _zip(root / "kaggle.zip", "2019-Oct.csv", data)
        else:
            (root / f"2019-Oct.{kind}").write_bytes(_gz(data) if kind == "csv.gz" else data)
            source = LandingFile(root / f"2019-Oct.{kind}")
        base = root / "raw" / "events"
        folders = {week: base / f"week={week}" for week in WEEKS}
        for folder in [*folders.values(), root / "bad"]:
            folder.mkdir(parents=True)
        split = split_month(source, OCT, folders, root / "bad", part_rows=25)

        delivered = _delivered(data)
        unroutable = _unroutable_rows(root / "bad")
        for row in unroutable:
            assert row["source_file"] == source.name
            assert raw_split._shown(delivered[int(row["line_number"])]) == row["raw_line"]
        routed = sum(split.rows_by_week.values())
        assert split.rows_read == len(delivered) - 1 == len(unroutable) + split.rows_other_weeks + routed
        if not routed:
            return
        paths = sorted(str(p) for p in base.glob("week=*/*.csv.gz"))
        maps = sorted(str(p) for p in base.glob("week=*/*.lines.gz"))
        raw = _raw_lines(paths)
        assert len(raw) == routed
        # What is neither unroutable nor routed: lines of October's weeks the run did not ask for.
        others = Counter(line for number, line in delivered.items() if number > 1)
        others.subtract(delivered[int(row["line_number"])] for row in unroutable)
        others.subtract(raw)
        assert min(others.values()) >= 0 and sum(others.values()) == split.rows_other_weeks
        assert all(_monday(line[:10]) not in WEEKS for line in +others)

        located, columns, clean = _spark_lines(spark, base, paths, maps)
        rejected = Counter((line, reason) for line, reason, _, _ in located)
        valid = Counter(raw)
        valid.subtract(line for line, _ in rejected.elements())
        assert min(valid.values()) >= 0  # every rejected row is a raw row
        valid = +valid
        # Each raw row once: rejected, or valid, of which one copy per distinct line is clean (keyed by the
        # MD5 of the line) and the others are duplicates.
        event_ids = sorted(row[columns.index("event_id")] for row in clean)
        assert event_ids == sorted(hashlib.md5(line.encode()).hexdigest() for line in valid)
        assert routed == len(clean) + (sum(valid.values()) - len(valid)) + sum(rejected.values())
        for line, _, file, number in located:
            assert (file, delivered[number]) == (source.name, line)

        # The reference, on the same raw files: the same rejects with the same reasons, the same clean rows.
        out = reference_clean(paths, root / "reference", root / "reference-tmp", memory_limit="1GB")
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            reference_rejected = Counter(con.execute(
                f"select raw_line, reject_reason from read_parquet('{root}/reference/rejected/*/*.parquet')").fetchall()
            ) if out["rejected_rows"] else Counter()
            reference_clean_rows = con.execute(
                f"select {', '.join(columns)} from read_parquet('{root}/reference/clean/*/*.parquet')"
            ).fetchall() if out["clean_rows"] else []
        assert reference_rejected == rejected
        assert Counter(map(tuple, reference_clean_rows)) == Counter(clean)

