"""`ecommerce land`: put real dumps into the lake's landing zone, checksummed and never partial; a landed
file is never lost: a different file under the same name is refused, or with ``replace`` the landed one is
kept under ``landing/_replaced/`` first."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ecommerce_assets.lib.kaggle import month_of_stem, weeks_of_month
from ecommerce_assets.lib.lake import LandingFile, S3Lake
from ecommerce_assets.lib.landing_versions import recorded_sha256, sha256_of
from ecommerce_assets.lib.raw_split import read_header

_DUMP_NAME = re.compile(r"^\d{4}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.csv(\.gz)?$")
_CHUNK = 8 * 1024 * 1024


# Where a replaced landing file is kept: a folder the pipeline never reads (it looks for the dumps' own names
# in landing/ itself).
REPLACED = "_replaced"


class LandError(ValueError):
    """A file offered for landing is not a Kaggle dump, or would replace a different landed file."""


@dataclass(frozen=True)
class Landed:
    source: Path
    target: Path | str  # a local path, or the object's s3:// URL
    sha256: str
    bytes: int
    copied: bool  # False: an identical file was already there
    replaced: Path | str | None = None  # where the different file landed before is now kept
    months: tuple[dt.date, ...] = ()  # the months the replacement changes
    weeks: tuple[dt.date, ...] = ()  # the weeks holding a day of them: to recompute


def _validate(path: Path) -> None:
    """The name Kaggle uses and the exact header; for a zip, every monthly CSV inside it."""
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if _DUMP_NAME.match(Path(m).name)]
        except zipfile.BadZipFile as error:
            raise LandError(f"{path}: not a readable zip ({error})") from None
        if not members:
            raise LandError(f"{path}: no monthly dump (YYYY-Mon.csv) inside the zip")
        for member in members:
            read_header(LandingFile(path, member))
        return
    if not _DUMP_NAME.match(path.name):
        raise LandError(f"{path}: expected a Kaggle dump name such as 2019-Oct.csv, 2019-Oct.csv.gz or a .zip")
    read_header(LandingFile(path))


def _no_follow(file: str, flags: int) -> int:
    """``open`` opener that refuses a symbolic link in the last component (closes the window between the
    check in :func:`_target` and the write)."""
    return os.open(file, flags | os.O_NOFOLLOW, 0o666)


def _target(path: Path, landing: Path) -> Path:
    """``landing/<name>``, refused where a copy could write outside the landing folder: a name that is not
    a plain file name, a landing folder that is a symbolic link, or a symbolic link in place of the file, its
    ``.partial`` or its ``.sha256`` (writing them would write wherever the link points)."""
    name = path.name
    if name in ("", ".", ".."):
        raise LandError(f"{path}: {name!r} is not a file name inside the landing folder {landing}")
    if landing.is_symlink():
        raise LandError(
            f"{landing}: the landing folder is a symbolic link (to {os.readlink(landing)}); refusing to write through it"
        )
    target = landing / name
    for written in (target, target.with_name(name + ".partial"), target.with_name(name + ".sha256")):
        if written.is_symlink():
            raise LandError(f"{written}: is a symbolic link (to {os.readlink(written)}); refusing to write through it")
    return target


def _landed_sum(target: Path) -> str:
    """The landed file's SHA-256: its checksum file's, unless the file is newer than it (replaced by hand)."""
    return recorded_sha256(target) or sha256_of(target)


def _replaced(path: Path, landed: Landed, kept: Path | str) -> Landed:
    """``landed`` as a replacement of ``kept``: with the months inside ``path`` and the weeks to recompute."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [Path(m).name for m in archive.namelist() if _DUMP_NAME.match(Path(m).name)]
    else:
        names = [path.name]
    months = sorted({month_of_stem(name.split(".")[0]) for name in names})
    weeks = sorted({week for month in months for week in weeks_of_month(month)})
    return dataclasses.replace(landed, replaced=kept, months=tuple(months), weeks=tuple(weeks))


def _refusal(landed: Path | str, landed_bytes: int, landed_sum: str, path: Path, source_sum: str, kept: Path | str) -> LandError:
    return LandError(
        f"{landed} is already landed and differs from {path}: landed {landed_bytes:,} bytes, sha256 {landed_sum}; "
        f"offered {path.stat().st_size:,} bytes, sha256 {source_sum}. Nothing was changed. To replace it, "
        f"run `ecommerce land --replace {path}`: the landed file is kept as {kept}."
    )


def land(path: Path, landing: Path, replace: bool = False) -> Landed:
    """Copy ``path`` into ``landing`` under its own name.

    The copy goes to ``<name>.partial`` and is renamed only after its SHA-256 matches the source's, so an
    interrupted or corrupted copy never leaves a file that looks complete. The checksum is kept beside
    the file (``<name>.sha256``); landing the same file again copies nothing. A different file already
    landed under the name is refused (:class:`LandError`, naming both), unless ``replace``: then it is
    moved to ``landing/_replaced/<name>.<its checksum's first 16 hex digits>`` (with its checksum file)
    before the new one is renamed into place, and the weeks of its months are returned as changed.
    Nothing is written outside ``landing`` (see :func:`_target`).
    """
    if not path.is_file():
        raise LandError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    target = _target(path, landing)
    _validate(path)
    landing.mkdir(parents=True, exist_ok=True)
    sidecar = target.with_name(target.name + ".sha256")
    source_sum = sha256_of(path)
    previous = None
    if target.is_file():
        landed_sum = _landed_sum(target)
        if landed_sum == source_sum:
            if not sidecar.is_file():
                _write_sidecar(sidecar, source_sum, target.name)
            return Landed(path, target, source_sum, target.stat().st_size, copied=False)
        kept = landing / REPLACED / f"{target.name}.{landed_sum[:16]}"
        if not replace:
            raise _refusal(target, target.stat().st_size, landed_sum, path, source_sum, kept)
        previous = (target, kept, landed_sum)
    partial = target.with_name(target.name + ".partial")
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as src, open(partial, "wb", opener=_no_follow) as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != source_sum or sha256_of(partial) != source_sum:
            raise LandError(f"{path}: the copy's checksum differs from the source's (file changed while copying?)")
        if previous:
            # The landed file is moved aside, not copied (same folder tree, one rename), before the new one
            # takes its name: killed in between, the month is missing (an error naming it), never lost.
            old, kept, kept_sum = previous
            kept.parent.mkdir(exist_ok=True)
            _write_sidecar(kept.with_name(kept.name + ".sha256"), kept_sum, kept.name)
            sidecar.unlink(missing_ok=True)
            old.replace(kept)
        # The old checksum goes before the old file: killed in between, a file without a checksum is
        # checked again next time, where a stale checksum beside a new file would pass as "unchanged".
        sidecar.unlink(missing_ok=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    _write_sidecar(sidecar, source_sum, target.name)
    landed = Landed(path, target, source_sum, target.stat().st_size, copied=True)
    return _replaced(path, landed, previous[1]) if previous else landed


def land_on_s3(path: Path, lake: S3Lake, replace: bool = False) -> Landed:
    """:func:`land` for a lake on S3: the object ``landing/<name>`` carries its SHA-256 as user metadata
    (``sha256``); one written by another tool without it is compared by its content. A replaced object is
    copied to ``landing/_replaced/<name>.<sha16>`` (server-side) before the new one is uploaded over it."""
    if not path.is_file():
        raise LandError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    _validate(path)
    key, source_sum = f"landing/{path.name}", sha256_of(path)
    url = f"{lake.url}/{key}"
    landed = lake.stat(key)
    kept = None
    if landed is not None:
        size, metadata = landed
        landed_sum = metadata.get("sha256") or lake.sha256(key)
        if landed_sum == source_sum:
            return Landed(path, url, source_sum, size, copied=False)
        kept_key = f"landing/{REPLACED}/{path.name}.{landed_sum[:16]}"
        kept = f"{lake.url}/{kept_key}"
        if not replace:
            raise _refusal(url, size, landed_sum, path, source_sum, kept)
        lake.copy(key, kept_key, {"sha256": landed_sum})
    lake.upload(path, key, {"sha256": source_sum})
    stat = lake.stat(key)
    if stat is None or stat[0] != path.stat().st_size:
        raise LandError(f"{url}: the uploaded object's size differs from {path}'s ({path.stat().st_size:,} bytes)")
    landed = Landed(path, url, source_sum, stat[0], copied=True)
    return _replaced(path, landed, kept) if kept else landed


def _write_sidecar(sidecar: Path, checksum: str, name: str) -> None:
    """Written aside and renamed, like the file: never an empty or half-written checksum (sha256sum's format)."""
    partial = sidecar.with_name(sidecar.name + ".partial")
    with open(partial, "w", opener=_no_follow) as out:
        out.write(f"{checksum}  {name}\n")
    partial.replace(sidecar)
