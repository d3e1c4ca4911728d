"""Content versions of the landed monthly dumps: the SHA-256 of each dump's stored bytes, read once per
version of the file.

A dump is recognised without reading it by its stamp (size and modification time locally, the ETag on
S3); a checksum already recorded for that stamp is reused, then the one ``ecommerce land`` left (the
``.sha256`` file beside a local dump, the object's ``sha256`` metadata on S3); only a dump with neither is
read whole. A copy by hand or by another tool is therefore hashed once, and a 9 GB month is not re-read
on every look.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ecommerce_assets.lib.lake import LakeStore, LandingFile, MissingLandingFile

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LandedMonth:
    month: dt.date
    name: str  # the dump's name in the landing zone (``archive.zip:2019-Oct.csv`` for a zip member)
    stamp: str  # changes whenever the content may have: size and mtime, or the ETag
    sha256: str
    size: int
    hashed: bool  # the dump was read to compute its checksum (no recorded one matched its stamp)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return _digest(handle)


def _digest(handle) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def recorded_sha256(path: Path) -> str | None:
    """The checksum in ``<path>.sha256`` (sha256sum's format), if that file is not older than ``path``:
    a dump replaced by hand after it was landed is newer than its checksum file."""
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file() and sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        words = sidecar.read_text().split()[:1]
        if words:
            return words[0]
    return None


def stamp_of(file: LandingFile) -> str:
    """Changes whenever the dump's content may have: its size and mtime locally, its ETag on S3."""
    if file.client is not None:
        return f"{file.size}:{file.etag}"
    stat = Path(file.path).stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}" + (f":{file.member}" if file.member else "")


def landed_sha256(file: LandingFile) -> str | None:
    """The checksum ``ecommerce land`` left with the dump (S3 metadata, or a ``.sha256`` file not older than
    the dump), without reading it; None if there is none."""
    if file.client is not None:
        return file.metadata.get("sha256")
    return recorded_sha256(Path(file.path)) if file.member is None else None


def read_version(file: LandingFile) -> dict[str, str | None]:
    """What a reader of the dump records of it, for the landing sensor to tell later whether it was read
    before a change: the stamp, and the checksum when it is known without reading."""
    return {"stamp": stamp_of(file), "sha256": landed_sha256(file)}


def outdated(read: dict[str, str | None], now: LandedMonth) -> bool:
    """Whether a dump read as ``read`` (``read_version``) differs from its version ``now``: by checksum where
    the reader knew it, else by stamp (a dump touched without change then counts as changed)."""
    return read["sha256"] != now.sha256 if read.get("sha256") else read["stamp"] != now.stamp


def landed_month(file: LandingFile, month: dt.date, known: Mapping[str, tuple[str, str]]) -> LandedMonth:
    """The version of ``file``; ``known`` maps a dump's name to the (stamp, sha256) recorded last time."""
    stamp = stamp_of(file)
    recorded = known.get(file.name)
    checksum = recorded[1] if recorded and recorded[0] == stamp else landed_sha256(file)
    hashed = checksum is None
    if checksum is None:
        with file.open_stored() as stored:
            checksum = _digest(stored)
    return LandedMonth(month, file.name, stamp, checksum, file.size, hashed)


def landed_months(lake: LakeStore, months: Iterable[dt.date],
                  known: Mapping[str, tuple[str, str]] | None = None) -> list[LandedMonth]:
    """The versions of the months that are landed; a month with no dump is left out."""
    found = []
    for month in months:
        try:
            file = lake.landing_file(month)
        except MissingLandingFile:
            continue
        found.append(landed_month(file, month, known or {}))
    return found
