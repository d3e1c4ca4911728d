"""`ecommerce land`: put real dumps into the lake's landing zone, checksummed and never partial."""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ecommerce_assets.lake import LandingFile
from ecommerce_assets.raw_split import read_header

_DUMP_NAME = re.compile(r"^\d{4}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.csv(\.gz)?$")
_CHUNK = 8 * 1024 * 1024


class LandError(ValueError):
    """A file offered for landing is not a Kaggle dump."""


@dataclass(frozen=True)
class Landed:
    source: Path
    target: Path
    sha256: str
    bytes: int
    copied: bool  # False: an identical file was already there


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def land(path: Path, landing: Path) -> Landed:
    """Copy ``path`` into ``landing`` under its own name.

    The copy goes to ``<name>.partial`` and is renamed only after its SHA-256 matches the source's, so an
    interrupted or corrupted copy never leaves a file that looks complete. The checksum is kept beside
    the file (``<name>.sha256``); landing the same file again copies nothing. Nothing is written outside
    ``landing`` (see :func:`_target`).
    """
    if not path.is_file():
        raise LandError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    target = _target(path, landing)
    _validate(path)
    landing.mkdir(parents=True, exist_ok=True)
    sidecar = target.with_name(target.name + ".sha256")
    source_sum = sha256_of(path)
    if target.is_file() and sidecar.is_file() and sidecar.read_text().split()[:1] == [source_sum]:
        return Landed(path, target, source_sum, target.stat().st_size, copied=False)
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
        # The old checksum goes before the old file: killed in between, a file without a checksum is
        # copied again next time, where a stale checksum beside a new file would pass as "unchanged".
        sidecar.unlink(missing_ok=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    # Written aside and renamed, like the file: never an empty or half-written checksum.
    sidecar_partial = sidecar.with_name(sidecar.name + ".partial")
    with open(sidecar_partial, "w", opener=_no_follow) as out:
        out.write(f"{source_sum}  {target.name}\n")
    sidecar_partial.replace(sidecar)
    return Landed(path, target, source_sum, target.stat().st_size, copied=True)
