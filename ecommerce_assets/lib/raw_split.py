"""Split monthly dumps into weekly raw files, line for line, without parsing more than the timestamp.

The raw layer keeps the text as delivered so that every later step can be replayed from it. The only
decision taken here is routing: a line whose ``event_time`` cannot be read cannot be placed in a week,
so it goes to the month's unroutable quarantine with its file and line number instead of vanishing.
Lines that are routed keep their landing line number too: each raw part has a small line map beside it
(``lake.LINE_MAP_SUFFIX``) from which a quarantined row later names the line of the dump it came from.

A month is read in blocks of whole lines. A block whose every line is plainly routable (a readable time
in the file's month, ASCII or valid UTF-8, no carriage return) is checked by one regular expression
pass and copied as bytes; any other block goes line by line through the same rules as text, so both
paths write the same bytes and quarantine the same lines.

What is wrong with one line quarantines that line (its bytes are not UTF-8, it repeats the header, its
time is unreadable or of another month); what is wrong with the file fails the whole month with a
``LandingFormatError`` naming the file (and member), and where it can, the line and byte: a damaged or
truncated archive, a line longer than ``MAX_LINE_BYTES`` (no line breaks), or a file most of whose lines
belong to another month (its name does not match its content). Nothing of a failed month is published.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import zipfile
import zlib
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ecommerce_assets.lib.kaggle import HEADER
from ecommerce_assets.lib.lake import LINE_MAP_COLUMNS, LINE_MAP_SUFFIX, RAW_SUFFIX, LandingFile

UNROUTABLE_HEADER = ("source_file", "line_number", "reject_reason", "raw_line")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC")
# The same test on bytes, at every line start of a block, capturing the day. ASCII digits only: a line
# this misses (or ``_TIME`` accepts with other digits) sends its block down the line-by-line path.
_ROUTABLE_LINE = re.compile(rb"^(\d{4}-\d{2}-\d{2}) (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC,", re.MULTILINE)
BLOCK_BYTES = 4 << 20
# Real lines are ~150 bytes. A "line" this long means the file has no usable line breaks (CR-only, binary,
# a zero-filled hole): failing beats holding the month in memory. ecommerce_assets_tests/reference_clean.py reads up to it.
MAX_LINE_BYTES = 16 << 20
# What a damaged or truncated .gz / .zip raises while it is read (BadGzipFile is an OSError, but other
# OSErrors, such as a full disk while writing the parts, are not the landing file's fault).
_DAMAGED = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile)
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as ``surrogateescape`` decodes them
# Lines per raw part: gzip does not split, so several parts let Spark read a week in parallel.
DEFAULT_PART_ROWS = 1_000_000


class LandingFormatError(ValueError):
    """A landing file cannot be split: empty, wrong header, damaged, no line breaks, or another month's."""


def _where(source: LandingFile) -> str:
    return f"{source.path}:{source.member}" if source.member else str(source.path)  # path or s3:// URL


def _shown(text: str) -> str:
    """The text with bytes that are not UTF-8 written as ``\\xNN`` (as ``surrogateescape`` decoded them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _decoded(block: bytes) -> tuple[str, bool]:
    """The block as text, and whether some of its bytes are not UTF-8 (kept as surrogates, so the lines
    holding them can be quarantined one by one instead of the block failing)."""
    try:
        return block.decode("utf-8"), False
    except UnicodeDecodeError:
        return block.decode("utf-8", "surrogateescape"), True


def check_header(source: LandingFile, first_line: str | None) -> None:
    if first_line is None:
        raise LandingFormatError(f"{_where(source)}: file is empty (expected the header line {HEADER!r})")
    found = first_line.rstrip("\r\n").lstrip("\ufeff")
    if found != HEADER:
        # Binary (a .gz named .csv, say) shown as bytes; at most 200 characters of it either way.
        shown = found.encode("utf-8", "surrogateescape")[:200] if _UNDECODABLE.search(found) else found[:200]
        raise LandingFormatError(f"{_where(source)}, line 1: header is {shown!r}; expected {HEADER!r}")


def read_header(source: LandingFile) -> str:
    """Validate a landing file's header and return it. Only the first line is decoded: a bad byte further
    on is one line's problem, which the split quarantines."""
    try:
        with source.open_binary() as raw:
            first = raw.readline(len(HEADER) + 8)  # BOM, CRLF; a longer first line fails the check anyway
    except (OSError, *_DAMAGED) as error:
        raise LandingFormatError(f"{_where(source)}: cannot be read as a Kaggle dump: {error}") from None
    check_header(source, _decoded(first)[0] if first else None)
    return HEADER


@dataclass
class MonthSplit:
    """What splitting one monthly file produced."""

    source: LandingFile
    rows_read: int = 0
    rows_by_week: Counter[dt.date] = field(default_factory=Counter)
    rows_other_weeks: int = 0
    unroutable: Counter[str] = field(default_factory=Counter)


class _WeekWriter:
    """Gzip CSV parts of at most ``part_rows`` lines, each with the Kaggle header, and each part's line map.

    Lines are gathered in blocks and compressed on a thread of the writer's own (zlib releases the
    GIL), so routing the month's lines and compressing its weeks use two cores. The line map records
    where each run of consecutive landing lines starts in the part: dumps are in time order, so a part
    usually holds one run, and the block path records a block's run at once, not line by line.
    """

    BLOCK_LINES = 20_000
    IN_FLIGHT = 8  # blocks queued per writer at most: memory stays bounded if compression lags

    def __init__(self, folder: Path, prefix: str, part_rows: int, landing_file: str) -> None:
        self.folder, self.prefix, self.part_rows, self.landing_file = folder, prefix, part_rows, landing_file
        self.parts = 0
        self.rows_in_part = 0
        self._path: Path | None = None
        self._handle: gzip.GzipFile | None = None
        self._block: list[str] = []
        self._runs: list[tuple[int, int]] = []  # the current part's (part_line, landing_line) run starts
        self._next_landing = 0  # the landing line that would continue the current run
        self._compressor = ThreadPoolExecutor(max_workers=1)  # one thread: blocks stay in order
        self._in_flight: deque[Future[object]] = deque()

    def write(self, line: str, landing_line: int) -> None:
        if self._handle is None or self.rows_in_part >= self.part_rows:
            self._next_part()
        self._block.append(line)
        self._mark(landing_line, 1)
        if len(self._block) >= self.BLOCK_LINES:
            self._send()

    def write_lines(self, data: bytes, count: int, runs: list[tuple[int, int]]) -> None:
        """``count`` whole lines, each ending in a newline, already encoded; ``runs`` says where they are in
        the landing file: (first landing line, lines) of consecutive landing lines, in order, ``count`` in all."""
        run, done = 0, 0  # the run being written, and how many of its lines already are
        while count:
            if self._handle is None or self.rows_in_part >= self.part_rows:
                self._next_part()
            take = min(count, self.part_rows - self.rows_in_part)
            cut = len(data) if take == count else _after_newlines(data, take)
            self._send()  # the part's header and lines written one by one go first
            self._submit(self._handle.write, data[:cut])  # type: ignore[union-attr]
            data, count = data[cut:], count - take
            while take:  # the runs' share of this part, split where the part rolls over
                first, lines = runs[run]
                step = min(lines - done, take)
                self._mark(first + done, step)
                take -= step
                done += step
                if done == lines:
                    run, done = run + 1, 0

    def _mark(self, landing_line: int, count: int) -> None:
        """The part's next ``count`` lines are landing lines ``landing_line`` onwards."""
        if landing_line != self._next_landing:
            self._runs.append((self.rows_in_part + 2, landing_line))  # line 1 of the part is its header
        self._next_landing = landing_line + count
        self.rows_in_part += count

    def _send(self) -> None:
        if self._block and self._handle is not None:
            self._submit(self._handle.write, "".join(self._block).encode("utf-8"))
            self._block = []

    def _submit(self, *call: object) -> None:
        self._in_flight.append(self._compressor.submit(*call))  # type: ignore[arg-type]
        while len(self._in_flight) > self.IN_FLIGHT:
            self._in_flight.popleft().result()  # also raises a write error here, not later

    def _next_part(self) -> None:
        self._finish_part()
        self._path = self.folder / f"part-{self.prefix}-{self.parts:05d}{RAW_SUFFIX}"
        # No time in the header: the bytes depend only on name and content. Level 1: these files are
        # rewritten often, and CPU matters more than a few percent of bytes.
        self._handle = gzip.GzipFile(filename=self._path, mode="wb", compresslevel=1, mtime=0)
        self._block.append(HEADER + "\n")
        self.parts += 1
        self.rows_in_part = 0
        self._runs, self._next_landing = [], 0

    def _finish_part(self) -> None:
        self._send()
        if self._handle is not None:
            self._submit(self._handle.close)
            self._handle = None
            self._write_line_map()

    def _write_line_map(self) -> None:
        """The finished part's runs, beside it (a few rows: written here, not on the compressor thread)."""
        assert self._path is not None
        path = self._path.with_name(self._path.name.removesuffix(RAW_SUFFIX) + LINE_MAP_SUFFIX)
        with (
            gzip.GzipFile(filename=path, mode="wb", compresslevel=1, mtime=0) as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
        ):
            rows = csv.writer(text, lineterminator="\n")
            rows.writerow(LINE_MAP_COLUMNS)
            rows.writerows((part_line, self.landing_file, landing_line) for part_line, landing_line in self._runs)

    def close(self) -> None:
        try:
            self._finish_part()
            while self._in_flight:
                self._in_flight.popleft().result()
        finally:
            self._compressor.shutdown()


def _after_newlines(data: bytes, count: int) -> int:
    """Offset just past the ``count``-th newline of ``data``."""
    end = -1
    for _ in range(count):
        end = data.index(b"\n", end + 1)
    return end + 1


class _LineTooLong(Exception):
    """The line after the last block is longer than ``MAX_LINE_BYTES`` (line break excluded)."""


def _blocks(handle: IO[bytes]) -> Iterator[bytes]:
    """The stream in blocks that end with a newline (the last one may not)."""
    rest = b""
    while data := handle.read(BLOCK_BYTES):
        data = rest + data
        # Only the first line can have begun in an earlier read, so only it can be longer than a block.
        if len(data) > MAX_LINE_BYTES and data.find(b"\n", 0, MAX_LINE_BYTES + 1) < 0:
            raise _LineTooLong
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


class _MonthRouter:
    """Routes one month's lines to week writers; counts and quarantines what cannot be routed."""

    def __init__(self, result: MonthSplit, month: dt.date, week_folders: dict[dt.date, Path], bad: Any, part_rows: int) -> None:
        self.result, self.week_folders, self.bad, self.part_rows = result, week_folders, bad, part_rows
        self.month_prefix = f"{month:%Y-%m}"
        self.line_number = 1  # the header is line 1
        self.first_outside: tuple[int, str] | None = None  # the first line of another month, and its day
        self.writers: dict[dt.date, _WeekWriter] = {}
        self._week_of_day: dict[str, dt.date | None] = {}

    def week_of(self, day: str) -> dt.date | None:
        if day not in self._week_of_day:
            try:
                date = dt.date.fromisoformat(day)
                self._week_of_day[day] = date - dt.timedelta(days=date.weekday())
            except ValueError:
                self._week_of_day[day] = None
        return self._week_of_day[day]

    def writer(self, week: dt.date) -> _WeekWriter:
        writer = self.writers.get(week)
        if writer is None:
            writer = self.writers[week] = _WeekWriter(
                self.week_folders[week], self.month_prefix, self.part_rows, self.result.source.name
            )
        return writer

    def route_block(self, block: bytes) -> bool:
        """Copy a block whose lines are all routable to their weeks; False (nothing done) otherwise."""
        count = block.count(b"\n")
        if not block.endswith(b"\n") or b"\r" in block:
            return False
        days = _ROUTABLE_LINE.findall(block)
        if len(days) != count:  # some line does not start with a readable time
            return False
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                return False  # the text path quarantines the lines that hold such bytes
        week_of_day: dict[bytes, dt.date] = {}
        for day in set(days):
            week = self.week_of(day.decode())
            if week is None or not day.startswith(self.month_prefix.encode()):
                return False
            week_of_day[day] = week
        first = self.line_number + 1  # the block's first line in the landing file
        if len(set(week_of_day.values())) == 1:  # the usual case: dumps are in time order
            self._take(week_of_day[days[0]], block, count, [(first, count)])
        else:
            by_week: dict[dt.date, tuple[list[bytes], list[list[int]]]] = {}
            for number, (line, day) in enumerate(zip(block.split(b"\n"), days), first):
                lines, runs = by_week.setdefault(week_of_day[day], ([], []))
                lines.append(line)
                if runs and runs[-1][0] + runs[-1][1] == number:
                    runs[-1][1] += 1
                else:
                    runs.append([number, 1])
            for week, (lines, runs) in by_week.items():
                self._take(week, b"\n".join(lines) + b"\n", len(lines), [(start, n) for start, n in runs])
        return True

    def _take(self, week: dt.date, lines: bytes, count: int, runs: list[tuple[int, int]]) -> None:
        self.result.rows_read += count
        self.line_number += count
        if week in self.week_folders:
            self.writer(week).write_lines(lines, count, runs)
            self.result.rows_by_week[week] += count
        else:
            self.result.rows_other_weeks += count

    def route_text(self, lines: Iterator[str], undecodable: bool = False) -> None:
        """Route lines one by one (each with its line ending, as text mode reads them); ``undecodable``:
        some hold bytes that are not UTF-8 (see ``_decoded``)."""
        result = self.result
        for line in lines:
            self.line_number += 1
            result.rows_read += 1
            text = line.rstrip("\r\n")
            reason = None
            if undecodable and _UNDECODABLE.search(text):
                # Spark would read such bytes as U+FFFD without a word: the line cannot go to the raw layer.
                reason, text = "invalid_utf8", _shown(text)
            elif not text.strip():
                reason = "empty_line"
            elif not (_TIME.fullmatch(text, 0, 23) and text[23:24] == ","):
                # A header inside the file: dumps concatenated, each with its header.
                reason = "repeated_header" if text.lstrip("\ufeff") == HEADER else "bad_event_time"
            else:
                day = text[:10]
                week = self.week_of(day)
                if week is None:
                    reason = "bad_event_time"
                elif not day.startswith(self.month_prefix):
                    reason = "outside_source_month"
                    self.first_outside = self.first_outside or (self.line_number, day)
                elif week not in self.week_folders:
                    result.rows_other_weeks += 1
                    continue
                else:
                    self.writer(week).write(text + "\n", self.line_number)
                    result.rows_by_week[week] += 1
                    continue
            result.unroutable[reason] += 1
            self.bad.writerow((self.result.source.name, self.line_number, reason, text))


def split_month(
    source: LandingFile,
    month: dt.date,
    week_folders: dict[dt.date, Path],
    unroutable_folder: Path,
    part_rows: int = DEFAULT_PART_ROWS,
) -> MonthSplit:
    """Route the lines of one monthly dump into the requested weeks' folders.

    Lines of weeks not requested are counted and skipped (their own partition reads them); lines whose
    timestamp is unreadable, or outside the file's month, or whose bytes are not UTF-8, are written to
    ``unroutable_folder``. A file that cannot be split raises ``LandingFormatError`` (see the module).
    """
    result = MonthSplit(source=source)
    with open(unroutable_folder / "unroutable.csv", "w", encoding="utf-8", newline="") as bad_handle:
        bad = csv.writer(bad_handle)
        bad.writerow(UNROUTABLE_HEADER)
        router = _MonthRouter(result, month, week_folders, bad, part_rows)
        done = 0  # bytes of the lines routed so far, header included
        try:
            with source.open_binary() as handle:
                first = True
                for block in _blocks(handle):
                    if first:
                        # The header is read as text mode would (its own line ending, a BOM kept for the check).
                        text, undecodable = _decoded(block)
                        lines = io.StringIO(text, newline="")
                        check_header(source, next(lines, None))
                        router.route_text(lines, undecodable)
                        first = False
                    elif not router.route_block(block):
                        text, undecodable = _decoded(block)
                        router.route_text(io.StringIO(text, newline=""), undecodable)
                    done += len(block)
                if first:
                    check_header(source, None)
        except _DAMAGED as error:
            found = f"; noticed after line {router.line_number} (byte {done} of its content)" if done else ""
            raise LandingFormatError(f"{_where(source)}: damaged or incomplete ({error}){found}") from None
        except _LineTooLong:
            raise LandingFormatError(
                f"{_where(source)}, line {router.line_number + 1 if done else 1} (byte {done}): no line break within "
                f"{MAX_LINE_BYTES} bytes; not a line-per-event CSV (CR-only line ends, binary data?)"
            ) from None
        finally:
            for writer in router.writers.values():
                writer.close()
    _check_month(source, month, result, router.first_outside)
    return result


def _check_month(
    source: LandingFile, month: dt.date, result: MonthSplit, first_outside: tuple[int, str] | None
) -> None:
    """A few lines of another month are quarantined one by one; a file mostly of another month is not the
    month's dump (a misnamed or mixed-up file), and quarantining all of it line by line would hide that."""
    outside = result.unroutable["outside_source_month"]
    if first_outside and outside > sum(result.rows_by_week.values()) + result.rows_other_weeks:
        line, day = first_outside
        raise LandingFormatError(
            f"{_where(source)}: {outside} of {result.rows_read} lines are not of {month:%Y-%m} (the first, "
            f"line {line}, is of {day}): the file name does not match its content"
        )
