"""The parent: start the child, kill it (its whole group, or one program of its tree), and what came out."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from ecommerce_assets_tests.faults.folders import Folder, ROOT
from ecommerce_assets_tests.faults.points import Point

@dataclass
class Outcome:
    killed: bool  # the kill was delivered while the run was still going
    reached: bool  # the point was reached (timed points: the delay elapsed before the run ended)
    exit_code: int | None
    seconds: float
    delay: float | None = None
    detail: str = ""
    log: str = ""

    @property
    def text(self) -> str:
        if not self.reached:
            return f"finished before the point (exit {self.exit_code})"
        what = "killed" if self.killed else f"exited {self.exit_code}"
        at = "" if self.delay is None else f" at +{self.delay * 1000:.0f} ms" if self.delay < 1 else f" at +{self.delay:.1f} s"
        return what + at + (f"; {self.detail}" if self.detail else "")


def descendants(pid: int) -> list[int]:
    """``pid``'s descendants (none if it is gone)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def parent(pid: int) -> int:
    """``pid``'s parent process id, 0 if it is gone."""
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return 0


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def _program(pid: int) -> str:
    """``java``, ``dbt``, ``python``: the program a process runs (a script's name, not its interpreter's)."""
    return _program_args(cmdline(pid).split())[0]


def _program_args(args: list[str]) -> list[str]:
    if len(args) > 1 and Path(args[0]).name.startswith("python") and not args[1].startswith("-"):
        return [Path(args[1]).name, *args[2:]]
    return [Path(args[0]).name, *args[1:]] if args else ["?"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def run_and_kill(folder: Folder, point: Point, delay: float | None = None, timeout: float = 600,
                 argv: list[str] | None = None, log: Path | None = None) -> Outcome:
    """Run ``point.stage`` in a child process on ``folder`` and kill it at ``point`` (after ``delay``
    seconds from the anchor for a timed point)."""
    markers = folder.data.parent / f"markers-{folder.data.name}-{time.monotonic_ns()}"
    markers.mkdir(parents=True)
    spec = {"stage": point.stage, "weeks": list(point.weeks), "markers": str(markers), "marker": point.marker,
            "passing": point.passing, "argv": argv or []}
    env = {**os.environ, **folder.env(), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "SPARK_LOCAL_IP": "127.0.0.1", "DAGSTER_TELEMETRY_DISABLED": "1", "PYSPARK_PYTHON": sys.executable}
    env.pop("DAGSTER_HOME", None)
    log = log or markers / "child.log"
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ecommerce_assets_tests.faults", "child", json.dumps(spec)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        trigger = markers / ("point" if point.marker else point.anchor)
        deadline = began + timeout
        while not trigger.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not trigger.exists():
            code = proc.poll()
            return Outcome(False, False, code, time.monotonic() - began, log=_tail(log))
        if point.timed:  # counted from when the child wrote the anchor, not from when it was seen
            end = float(trigger.read_text().split()[0]) + (delay or 0.0)
            while proc.poll() is None and time.time() < end:
                time.sleep(0.002)
            if proc.poll() is not None:
                return Outcome(False, False, proc.returncode, time.monotonic() - began, delay, log=_tail(log))
        detail = _kill(proc, point.target)
        code = proc.wait(timeout=300)

        killed = code == -signal.SIGKILL
        return Outcome(killed, True, code, time.monotonic() - began, delay, detail, log=_tail(log))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the kill left of the run
        proc.wait()
        shutil.rmtree(markers, ignore_errors=True)


def _kill(proc: subprocess.Popen, target: str) -> str:
    """Deliver the SIGKILL; for a partial kill, report what became of the rest."""
    if target == "group":
        os.killpg(proc.pid, signal.SIGKILL)
        return ""
    if target == "driver":  # the run's Python process only: what becomes of its JVM or dbt?
        rest = {p: _program(p) for p in descendants(proc.pid) if _alive(p)}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at, deadline = time.monotonic(), time.monotonic() + 120
        while any(_alive(p) for p in rest) and time.monotonic() < deadline:
            time.sleep(0.1)
        names = ", ".join(sorted(set(rest.values()))) or "nothing"
        if any(_alive(p) for p in rest):
            return f"left running: {names}, still alive after 120 s"
        return f"left running: {names}, exited by itself within {time.monotonic() - killed_at:.0f} s" if rest else "no child process yet"
    wanted = {"jvm": lambda args: Path(args[0]).name == "java",
              # dagster-dbt runs `dbt --version` first: the build is the one to kill
              "dbt": lambda args: _program_args(args)[0] == "dbt" and "build" in args}[target]
    waited, deadline = time.monotonic(), time.monotonic() + 120
    while not (found := [p for p in descendants(proc.pid) if _alive(p) and (args := cmdline(p).split()) and wanted(args)]):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            return f"no {target} process: the whole run killed"
        time.sleep(0.02)
    late = f" (+{time.monotonic() - waited:.1f}s for it to start)" if time.monotonic() - waited > 0.1 else ""
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    again, deadline = False, time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        again = again or any(p not in found and _alive(p) and wanted(cmdline(p).split() or ["?"]) for p in descendants(proc.pid))
        time.sleep(0.05)
    if proc.poll() is None:
        return f"{target} killed{late}; the run hung (killed after 240 s)"
    retried = f", after starting {target} again (the step's retry policy)" if again else ""
    return f"{target} killed{late}; the run exited {proc.returncode} by itself{retried}"


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


