"""References (every stage run once with no fault) and the scenarios run against them: kill a stage, then rerun it."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecommerce_assets_tests.faults.folders import Folder, PIPELINE_STAGES, ROOT, WEEKS, failure_message, landing_files, materialize
from ecommerce_assets_tests.faults.kill import Outcome, run_and_kill
from ecommerce_assets_tests.faults.points import Point, install_anchors
from ecommerce_assets_tests.faults.state import differences, half_written, leftovers, rows_lost, state

@dataclass
class Reference:
    """A folder after a run with no fault, what it holds, and each stage's duration there (seconds)."""

    folder: Folder
    expected: dict[str, Any]
    durations: dict[str, float]
    layers: tuple[str, ...] = ("lake", "warehouse", "dashboard")
    extra: dict[str, Any] = field(default_factory=dict)


def build_reference(data: Path, lake_url: str | None = None, endpoint: str | None = None,
                    stages: list[str] = PIPELINE_STAGES) -> Reference:
    """Landing files, then ``stages`` over both weeks, in this process, one run per stage; timed."""
    folder = Folder(data, lake_url, endpoint)
    landing = data / "landing-files"
    files = landing_files(landing)
    if folder.on_s3:
        store = folder.store()
        for path in files:
            store.client.upload_file(str(path), store.bucket, store.object_key(f"landing/{path.name}"))
    else:
        (folder.settings().lake / "landing").mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy2(path, folder.settings().lake / "landing" / path.name)
    durations = {}
    for stage in stages:
        times: dict[str, float] = {}

        def clock(name: str, times: dict[str, float] = times) -> None:  # the first "body", the last "done"
            if name == "done" or name not in times:
                times[name] = time.perf_counter()

        undo = install_anchors(clock)
        try:
            result = materialize(folder.env(), stage, list(WEEKS))
        finally:
            undo()
        if not result.success:
            raise RuntimeError(f"reference {stage} failed: {failure_message(result)[-3000:]}")
        durations[stage] = times["done"] - times["body"]
    layers = ("lake", "warehouse", "dashboard") if stages == PIPELINE_STAGES else ("lake",)
    return Reference(folder, state(folder, layers), durations, layers)


@dataclass
class Report:
    """One scenario: a row of the table."""

    lake: str
    point: Point
    outcome: Outcome
    problems: list[str]  # half-written output visible after the kill
    lost: int
    diffs: list[str]  # published state after the kill vs the reference
    rerun_ok: bool
    rerun_identical: bool
    rerun_diffs: list[str]
    rerun_message: str = ""
    leftovers: list[str] = field(default_factory=list)  # scratch the kill left (invisible to readers)
    seconds: float = 0.0
    after_rerun: list[str] = field(default_factory=list)  # scratch still there after the rerun

    @property
    def ok(self) -> bool:
        return (not self.problems and not self.lost and not self.diffs and self.rerun_ok and self.rerun_identical
                and not self.after_rerun)

    def row(self) -> list[str]:
        where = self.point.description + (f" [{self.point.target}]" if self.point.target != "group" else "")
        outcome = self.outcome.text
        if self.problems:
            outcome += "; VISIBLE: " + "; ".join(self.problems)[:160]
        elif self.diffs:
            outcome += "; CHANGED: " + "; ".join(self.diffs)[:160]
        else:
            outcome += "; published output intact"
        if self.leftovers:
            outcome += f"; {len(self.leftovers)} scratch left"
        rerun = "yes" if self.rerun_identical else ("NO: " + ("; ".join(self.rerun_diffs) or self.rerun_message)[:160])
        if self.after_rerun:
            rerun += f"; SCRATCH LEFT: {', '.join(self.after_rerun)[:160]}"
        return [f"{self.point.stage} ({self.lake})", where, outcome, str(self.lost), rerun]


def kill_scenario(reference: Reference, point: Point, work: Path, delay: float | None = None,
                  lake_url: str | None = None) -> Report:
    """Copy the reference, run ``point.stage`` killed at ``point``, look, rerun it plainly, look again."""
    began = time.perf_counter()
    folder = reference.folder.copy(work, lake_url)
    if point.stage == "land":
        return _land_scenario(reference, folder, point, delay, began)
    if point.stage == "generate":
        return _generate_scenario(reference, folder, point, delay, began)
    outcome = run_and_kill(folder, point, delay)
    problems = half_written(folder)
    after = state(folder, reference.layers)
    lost, diffs = rows_lost(reference.expected, after), differences(reference.expected, after)
    scratch = leftovers(folder)
    result = materialize(folder.env(), point.stage, list(point.weeks))
    final = state(folder, reference.layers) if result.success else {}
    rerun_diffs = differences(reference.expected, final) if result.success else []
    rerun_diffs += half_written(folder) if result.success else []
    return Report("s3" if folder.on_s3 else "local", point, outcome, problems, lost, diffs, result.success,
                  result.success and not rerun_diffs, rerun_diffs,
                  "" if result.success else failure_message(result)[-600:], scratch, time.perf_counter() - began,
                  leftovers(folder))


# ``ecommerce land --replace``: a changed 2019-Oct.csv landed over the one landed before, which is kept.
LAND_NAME = "2019-Oct.csv"


def land_reference(data: Path, megabytes: int = 24) -> Reference:
    """``landing/`` holding a dump landed before, and ``incoming/`` a changed copy of it to land."""
    from ecommerce_assets.lib.kaggle import HEADER
    from ecommerce_assets.lib.landing_copy import land

    source, incoming, landing = data / "source", data / "incoming", data / "landing"
    for folder in (source, incoming):
        folder.mkdir(parents=True)
    line = "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde\n"
    body = HEADER + "\n" + line * (megabytes * 2**20 // len(line))
    (source / LAND_NAME).write_text(body)
    (incoming / LAND_NAME).write_text(body.replace("shiseido,35.79", "shiseido,35.78", 1))
    land(source / LAND_NAME, landing)
    scratch = data.parent / f"{data.name}-timing"
    shutil.copytree(data, scratch)
    began = time.perf_counter()
    land(scratch / "incoming" / LAND_NAME, scratch / "landing", replace=True)
    seconds = time.perf_counter() - began
    expected = landing_state(scratch / "landing")
    shutil.rmtree(scratch)
    old, new = (hashlib.sha256((folder / LAND_NAME).read_bytes()).hexdigest() for folder in (source, incoming))
    return Reference(Folder(data), expected, {"land": seconds}, (), {"old": old, "new": new, "lines": body.count("\n") - 1})


def landing_state(landing: Path) -> dict[str, Any]:
    """The landed file's and its checksum file's contents, and the SHA-256 of each file kept in ``_replaced/``."""
    from ecommerce_assets.lib.landing_copy import REPLACED

    target, sidecar = landing / LAND_NAME, landing / f"{LAND_NAME}.sha256"
    kept = sorted((landing / REPLACED).glob(f"{LAND_NAME}.*"))
    return {
        "file": hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else None,
        "sidecar": sidecar.read_text() if sidecar.exists() else None,
        "kept": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in kept if not p.name.endswith((".sha256", ".partial"))},
    }


def landing_problems(reference: Reference, landing: Path) -> list[str]:
    """The landed file is one of the two whole versions or absent while the old one is kept; the old version
    is in place or kept; a checksum file beside the landed file matches it."""
    found, problems = landing_state(landing), []
    old, new = reference.extra["old"], reference.extra["new"]
    if found["file"] not in (old, new, None):
        problems.append(f"{LAND_NAME}: neither the old nor the new version (sha256 {str(found['file'])[:12]})")
    if old != found["file"] and old not in found["kept"].values():
        problems.append(f"{LAND_NAME}: the version landed before is neither in place nor kept in _replaced/ (lost)")
    if found["sidecar"] is not None:
        words = found["sidecar"].split()
        if not words:
            problems.append(f"{LAND_NAME}.sha256: empty")
        elif words[0] != found["file"]:
            problems.append(f"{LAND_NAME}.sha256: {words[0][:12]}… does not match the landed file ({str(found['file'])[:12]}…)")
    return problems


def _land_scenario(reference: Reference, folder: Folder, point: Point, delay: float | None, began: float) -> Report:
    landing, incoming = folder.data / "landing", folder.data / "incoming" / LAND_NAME
    argv = ["land", "--replace", str(incoming), "--to", str(landing)]
    outcome = run_and_kill(folder, point, delay, argv=argv)
    problems = landing_problems(reference, landing)
    lost = reference.extra["lines"] if any("neither" in p or "lost" in p for p in problems) else 0
    scratch = [str(p) for p in landing.glob("*.partial")]
    rerun = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    final = landing_state(landing)
    diffs = [] if final == reference.expected else [f"landing: expected {reference.expected}, found {final}"]
    return Report("local", point, outcome, problems, lost, [], rerun.returncode == 0,
                  rerun.returncode == 0 and not diffs, diffs, (rerun.stderr or rerun.stdout)[-600:], scratch,
                  time.perf_counter() - began)


# ``ecommerce generate``: two months into an empty folder.
GENERATE_ARGS = ["--scale", "0.002", "--start", "2019-10-24", "--end", "2019-11-06", "--seed", "7", "--workers", "1"]


def generate_reference(data: Path) -> Reference:
    out = data / "generated"
    began = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", "generate", *GENERATE_ARGS, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if code.returncode != 0:
        raise RuntimeError(code.stderr)
    expected = generated_state(out)
    lines = {name: len(gzip.decompress((out / name).read_bytes()).splitlines()) - 1 for name in expected}
    shutil.rmtree(out)
    (data / "empty").mkdir(parents=True, exist_ok=True)
    return Reference(Folder(data), expected, {"generate": seconds}, (), {"lines": lines})


def generated_state(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.csv.gz"))} if out.is_dir() else {}


def _generate_scenario(reference: Reference, folder: Folder, point: Point, delay: float | None, began: float) -> Report:
    out = folder.data / "generated"
    argv = ["generate", *GENERATE_ARGS, "--out", str(out)]
    outcome = run_and_kill(folder, point, delay, argv=argv)
    found = generated_state(out)
    problems = [f"{name}: looks complete but differs from a whole run's" for name, digest in found.items()
                if reference.expected.get(name) != digest]
    lost = sum(reference.extra["lines"].get(name, 0) for name in found if reference.expected.get(name) != found[name])
    scratch = [str(p) for p in out.glob("*.partial")] if out.is_dir() else []
    rerun = subprocess.run([sys.executable, "-m", "ecommerce_assets.cli", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    final = generated_state(out)
    diffs = [] if final == reference.expected else [f"generated: {sorted(final)} vs {sorted(reference.expected)}"]
    return Report("local", point, outcome, problems, lost, [], rerun.returncode == 0,
                  rerun.returncode == 0 and not diffs and not list(out.glob("*.partial")), diffs,
                  (rerun.stderr or rerun.stdout)[-600:], scratch, time.perf_counter() - began)


def table(reports: list[Report]) -> str:
    """The scenarios as a Markdown table: scenario | injected where | outcome | rows lost | rerun identical."""
    head = ["scenario", "injected where", "outcome", "rows lost", "rerun identical"]
    rows = [head, ["---"] * len(head), *[[cell.replace("|", "/") for cell in r.row()] for r in reports]]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


