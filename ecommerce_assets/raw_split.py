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
from collections import Counter
from collections.abc import Iterator
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


def gzip_text_writer(path: Path, level: int = 1) -> IO[str]:
    """A gzip text file whose bytes depend only on its name and content (no time in the header).

    Level 1 by default: these files are rewritten often, and CPU matters more than a few percent of bytes.
    """
    return io.TextIOWrapper(
        gzip.GzipFile(filename=path, mode="wb", compresslevel=level, mtime=0), encoding="utf-8", newline=""
    )


class LandingFormatError(ValueError):
    """A landing file is not in the Kaggle format (empty, or wrong header)."""


@contextmanager
def open_text(source: LandingFile) -> Iterator[IO[str]]:
    """Open a ``.csv`` or ``.csv.gz`` dump, or a CSV inside a zip, as text."""
    if source.member:
        with zipfile.ZipFile(source.path) as archive, archive.open(source.member) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8", newline="")
    elif source.path.name.endswith(".gz"):
        with gzip.open(source.path, "rt", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        with open(source.path, encoding="utf-8", newline="") as handle:
            yield handle


def check_header(source: LandingFile, first_line: str | None) -> None:
    where = f"{source.path}:{source.member}" if source.member else str(source.path)
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
    """Gzip CSV parts of at most ``part_rows`` lines, each with the Kaggle header."""

    def __init__(self, folder: Path, prefix: str, part_rows: int) -> None:
        self.folder, self.prefix, self.part_rows = folder, prefix, part_rows
        self.parts = 0
        self.rows_in_part = 0
        self._handle: IO[str] | None = None

    def write(self, line: str) -> None:
        if self._handle is None or self.rows_in_part >= self.part_rows:
            self.close()
            path = self.folder / f"part-{self.prefix}-{self.parts:05d}.csv.gz"
            self._handle = gzip_text_writer(path)
            self._handle.write(HEADER + "\n")
            self.parts += 1
            self.rows_in_part = 0
        self._handle.write(line)
        self.rows_in_part += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


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
