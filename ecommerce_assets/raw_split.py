"""Split monthly dumps into weekly raw files, line for line, without parsing more than the timestamp.

The raw layer keeps the text as delivered so that every later step can be replayed from it. The only
decision taken here is routing: a line whose ``event_time`` cannot be read cannot be placed in a week,
so it goes to the month's unroutable quarantine with its file and line number instead of vanishing.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import zipfile
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ecommerce_assets.kaggle import HEADER
from ecommerce_assets.lake import LandingFile

UNROUTABLE_HEADER = ("source_file", "line_number", "reject_reason", "raw_line")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC")
# Lines per raw part: gzip does not split, so several parts let Spark read a week in parallel.
DEFAULT_PART_ROWS = 1_000_000


class LandingFormatError(ValueError):
    """A landing file is not in the Kaggle format (empty, or wrong header)."""


@contextmanager
def open_text(source: LandingFile) -> Iterator[IO[str]]:
    """Open a ``.csv`` or ``.csv.gz`` dump (local or on S3), or a CSV inside a zip, as text."""
    with source.open_binary() as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8", newline="")


def check_header(source: LandingFile, first_line: str | None) -> None:
    where = f"{source.path}:{source.member}" if source.member else str(source.path)  # path or s3:// URL
    if first_line is None:
        raise LandingFormatError(f"{where}: file is empty (expected the header line {HEADER!r})")
    found = first_line.rstrip("\r\n").lstrip("\ufeff")
    if found != HEADER:
        raise LandingFormatError(f"{where}, line 1: header is {found!r}; expected {HEADER!r}")


def read_header(source: LandingFile) -> str:
    """Validate a landing file's header and return it."""
    try:
        with open_text(source) as handle:
            check_header(source, next(handle, None))
    except (OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise LandingFormatError(f"{source.path}: cannot be read as a Kaggle dump: {error}") from None
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
    """Gzip CSV parts of at most ``part_rows`` lines, each with the Kaggle header.

    Lines are gathered in blocks and compressed on a thread of the writer's own (zlib releases the
    GIL), so routing the month's lines and compressing its weeks use two cores.
    """

    BLOCK_LINES = 20_000
    IN_FLIGHT = 8  # blocks queued per writer at most: memory stays bounded if compression lags

    def __init__(self, folder: Path, prefix: str, part_rows: int) -> None:
        self.folder, self.prefix, self.part_rows = folder, prefix, part_rows
        self.parts = 0
        self.rows_in_part = 0
        self._handle: gzip.GzipFile | None = None
        self._block: list[str] = []
        self._compressor = ThreadPoolExecutor(max_workers=1)  # one thread: blocks stay in order
        self._in_flight: deque[Future[object]] = deque()

    def write(self, line: str) -> None:
        if self._handle is None or self.rows_in_part >= self.part_rows:
            self._next_part()
        self._block.append(line)
        self.rows_in_part += 1
        if len(self._block) >= self.BLOCK_LINES:
            self._send()

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
        path = self.folder / f"part-{self.prefix}-{self.parts:05d}.csv.gz"
        # No time in the header: the bytes depend only on name and content. Level 1: these files are
        # rewritten often, and CPU matters more than a few percent of bytes.
        self._handle = gzip.GzipFile(filename=path, mode="wb", compresslevel=1, mtime=0)
        self._block.append(HEADER + "\n")
        self.parts += 1
        self.rows_in_part = 0

    def _finish_part(self) -> None:
        self._send()
        if self._handle is not None:
            self._submit(self._handle.close)
            self._handle = None

    def close(self) -> None:
        try:
            self._finish_part()
            while self._in_flight:
                self._in_flight.popleft().result()
        finally:
            self._compressor.shutdown()


def split_month(
    source: LandingFile,
    month: dt.date,
    week_folders: dict[dt.date, Path],
    unroutable_folder: Path,
    part_rows: int = DEFAULT_PART_ROWS,
) -> MonthSplit:
    """Route the lines of one monthly dump into the requested weeks' folders.

    Lines of weeks not requested are counted and skipped (their own partition reads them); lines whose
    timestamp is unreadable, or outside the file's month, are written to ``unroutable_folder``.
    """
    result = MonthSplit(source=source)
    month_prefix = f"{month:%Y-%m}"
    week_of_day: dict[str, dt.date | None] = {}
    writers: dict[dt.date, _WeekWriter] = {}
    with (
        open_text(source) as handle,
        open(unroutable_folder / "unroutable.csv", "w", encoding="utf-8", newline="") as bad_handle,
    ):
        bad = csv.writer(bad_handle)
        bad.writerow(UNROUTABLE_HEADER)
        check_header(source, next(handle, None))
        for line_number, line in enumerate(handle, start=2):
            result.rows_read += 1
            text = line.rstrip("\r\n")
            reason = None
            if not text.strip():
                reason = "empty_line"
            elif not (_TIME.fullmatch(text, 0, 23) and text[23:24] == ","):
                reason = "bad_event_time"
            else:
                day = text[:10]
                if day not in week_of_day:
                    try:
                        date = dt.date.fromisoformat(day)
                        week_of_day[day] = date - dt.timedelta(days=date.weekday())
                    except ValueError:
                        week_of_day[day] = None
                week = week_of_day[day]
                if week is None:
                    reason = "bad_event_time"
                elif not day.startswith(month_prefix):
                    reason = "outside_source_month"
                elif week not in week_folders:
                    result.rows_other_weeks += 1
                    continue
                else:
                    writer = writers.get(week)
                    if writer is None:
                        writer = writers[week] = _WeekWriter(week_folders[week], month_prefix, part_rows)
                    writer.write(text + "\n")
                    result.rows_by_week[week] += 1
                    continue
            result.unroutable[reason] += 1
            bad.writerow((source.name, line_number, reason, text))
    for writer in writers.values():
        writer.close()
    return result
