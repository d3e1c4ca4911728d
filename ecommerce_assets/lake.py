"""The lake's layout and its one write rule: build a partition aside, then swap it in.

Layout under the lake root::

    landing/2019-Oct.csv.gz                      monthly dumps as delivered (.csv or .csv.gz)
    raw/events/week=2019-10-28/part-*.csv.gz     the week's lines, unchanged, several parts
    clean/events/week=2019-10-28/*.parquet       Spark-cleaned events
    quarantine/events/week=2019-10-28/*.parquet  rows Spark rejected, with reject_reason
    quarantine/unroutable/month=2019-10/         lines whose event_time cannot place them in a week

Every partition folder carries a ``_manifest.json`` with its counts; Spark and DuckDB skip files
starting with ``_``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecommerce_assets.kaggle import file_stem

MANIFEST = "_manifest.json"
LANDING_SUFFIXES = (".csv.gz", ".csv")


class MissingLandingFile(FileNotFoundError):
    """A month expected in the landing zone is not there."""


@dataclass(frozen=True)
class LandingFile:
    """A month's dump: a file, or a CSV inside a zip archive (the Kaggle download as is)."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.member}" if self.member else self.path.name

    @property
    def size(self) -> int:
        if self.member:
            with zipfile.ZipFile(self.path) as archive:
                return archive.getinfo(self.member).file_size
        return self.path.stat().st_size


@dataclass(frozen=True)
class Lake:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def landing_file(self, month: dt.date) -> LandingFile:
        """The month's dump: ``YYYY-Mon.csv.gz``, ``YYYY-Mon.csv``, or ``YYYY-Mon.csv`` inside a ``.zip``
        in the landing zone; a clear error names what was expected if none is there."""
        stem = file_stem(month)
        for suffix in LANDING_SUFFIXES:
            candidate = self.landing / f"{stem}{suffix}"
            if candidate.is_file():
                return LandingFile(candidate)
        for archive in sorted(self.landing.glob("*.zip")):
            with zipfile.ZipFile(archive) as opened:
                for member in opened.namelist():
                    if Path(member).name == f"{stem}.csv":
                        return LandingFile(archive, member)
        expected = " or ".join(str(self.landing / f"{stem}{s}") for s in LANDING_SUFFIXES)
        raise MissingLandingFile(
            f"landing file for month {month:%Y-%m} not found: expected {expected}, or {stem}.csv in a .zip there"
        )

    def raw_week(self, week: dt.date) -> Path:
        return self.root / "raw" / "events" / f"week={week.isoformat()}"

    def clean_week(self, week: dt.date) -> Path:
        return self.root / "clean" / "events" / f"week={week.isoformat()}"

    def rejected_week(self, week: dt.date) -> Path:
        return self.root / "quarantine" / "events" / f"week={week.isoformat()}"

    def unroutable_month(self, month: dt.date) -> Path:
        return self.root / "quarantine" / "unroutable" / f"month={month:%Y-%m}"

    def staging(self, name: str) -> Path:
        """A fresh folder beside the lake's data for building output before it is published."""
        path = self.root / "_staging" / f"{name}-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        return path


def publish(staged: Path, final: Path) -> None:
    """Replace ``final`` with ``staged``: readers see the old folder or the new one, never a half-written one.

    Both live on the same filesystem, so each rename is atomic; a crash between the two renames
    leaves the previous output under ``<final>.old-*`` rather than losing it.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:12]}")
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, content: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(content, indent=2, sort_keys=True, default=str))


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: materialize this partition first")
    return json.loads(path.read_text())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
