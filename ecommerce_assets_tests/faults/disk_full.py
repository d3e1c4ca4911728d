"""A full disk: a small loop-mounted filesystem filled to a margin, and a stage run on it."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ecommerce_assets_tests.faults.folders import W2, failure_message, materialize
from ecommerce_assets_tests.faults.points import BOTH
from ecommerce_assets_tests.faults.scenarios import Reference
from ecommerce_assets_tests.faults.state import differences, half_written, rows_lost, state

@contextlib.contextmanager
def small_disk(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mount_point`` (root only); unmounted at the end."""
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PermissionError(f"mount -t tmpfs at {mount_point} failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def fill(disk: Path, keep: int) -> Path:
    """Fill ``disk`` with a file until it is full, then give ``keep`` bytes back; the filler's path."""
    filler = disk / "filler"
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
                handle.flush()
        with contextlib.suppress(OSError):
            handle.flush()
    size = filler.stat().st_size
    with open(filler, "r+b") as handle:
        handle.truncate(max(size - keep, 0))
    return filler


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def names_the_disk(message: str, folder: Path) -> bool:
    """The message says the disk is full and names the folder (or a path inside it)."""
    return ("No space left on device" in message or os.strerror(errno.ENOSPC) in message) and str(folder) in message


@dataclass
class DiskFullReport:
    stage: str
    folder: Path  # what the failure must name: the lake, or the warehouse's folder
    free: int  # bytes left on the disk for the run
    success: bool
    message: str
    problems: list[str]
    diffs: list[str]
    lost: int
    rerun_ok: bool
    rerun_identical: bool
    rerun_diffs: list[str]
    rerun_message: str = ""

    def row(self) -> list[str]:
        said = "names the folder and ENOSPC" if names_the_disk(self.message, self.folder) else "MESSAGE: " + self.message[-200:].replace("\n", " ")
        outcome = ("SUCCEEDED" if self.success else "failed, " + said) + (
            "; VISIBLE: " + "; ".join(self.problems)[:160] if self.problems else
            "; CHANGED: " + "; ".join(self.diffs)[:160] if self.diffs else "; published output intact")
        rerun = "yes" if self.rerun_identical else "NO: " + ("; ".join(self.rerun_diffs) or self.rerun_message)[:160]
        return [f"{self.stage} (disk full)", f"{self.free // 1024} KiB left on a tmpfs", outcome, str(self.lost), rerun]


DISK_FULL_WEEKS = {"raw split": BOTH, "spark clean": BOTH, "warehouse load": (W2,)}


def disk_full_scenario(reference: Reference, stage: str, disk: Path) -> DiskFullReport:
    """The reference's folder on ``disk`` (a small filesystem), filled until the stage's run has about a
    third of the bytes it writes; the run must fail naming the disk, leave what was published, and
    succeed with the reference's rows once the space is freed."""
    folder = reference.folder.copy(disk / "data")
    settings = folder.settings()
    lake = settings.lake
    written = {
        "raw split": sum(folder_size(lake / "raw" / "events" / f"week={w}") for w in BOTH),
        "spark clean": sum(folder_size(lake / layer / "events" / f"week={w}") for w in BOTH for layer in ("clean", "quarantine")),
        "warehouse load": 64 * 1024,
    }[stage]
    named = settings.duckdb_path.parent if stage == "warehouse load" else lake
    filler = fill(disk, max(written // 3, 16 * 1024))
    free = free_bytes(disk)
    weeks = list(DISK_FULL_WEEKS[stage])
    try:
        result = materialize(folder.env(), stage, weeks)
        message = failure_message(result)
        problems = half_written(folder)
        after = state(folder, reference.layers)
        diffs, lost = differences(reference.expected, after), rows_lost(reference.expected, after)
    finally:
        filler.unlink()
    rerun = materialize(folder.env(), stage, weeks)
    rerun_diffs = differences(reference.expected, state(folder, reference.layers)) + half_written(folder) if rerun.success else []
    return DiskFullReport(stage, named, free, result.success, message, problems, diffs, lost, rerun.success,
                          rerun.success and not rerun_diffs, rerun_diffs, "" if rerun.success else failure_message(rerun)[-600:])


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


