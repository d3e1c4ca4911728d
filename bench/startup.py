"""Benchmark what the code location costs before any work starts: its import, and the wait for each step.

For the checkout this file is in, with that checkout's .venv/bin/python:

1. Import: ``import ecommerce_assets.definitions`` against the baseline ``import dagster, dagster_dbt``,
   each in a fresh process with default settings (no ECOMMERCE_* variables), the two alternating (after
   one unmeasured warm-up of each, which compiles .pyc files), ``--repeat`` times. Prints the median
   seconds of each import and their ratio in this run, and which optional heavy packages the code
   location loaded (snowflake*, pyspark, plotly, boto3, duckdb).
2. Run start and step gaps: a real weekly run as command A starts one,
   ``dagster asset materialize -m ecommerce_assets.definitions --select tag:weekly --partition <week>``
   (raw split -> Spark clean -> warehouse load -> weekly dbt -> freshness check), in a subprocess with a
   temporary DAGSTER_HOME (config/dagster.yaml) and data generated at a tiny scale into a temporary
   ECOMMERCE_DATA_DIR. landing_files need not be materialized first: raw_events reads the landing file
   itself. From the run's event log it prints launch -> RUN_START, RUN_START -> first STEP_START and, per
   step, the gap from the previous step's STEP_SUCCESS to its STEP_START (split into: until the executor
   launched the step's worker, the worker's Python up, the code location loaded, resources initialized),
   and the step's own duration. At this scale the steps do almost no work: what remains is fixed cost.
3. With ``--command-a``: command A (``bash scripts/demo.sh``) on a fresh ``git clone`` of the checkout
   (with the checkout's uncommitted and untracked files copied over it, so the clone is what is on disk),
   setup seconds and pipeline seconds ("done in Ns after setup") separately. setup.sh installs from uv's
   cache, which an earlier setup on this machine has filled.

The load average is printed at the start and the end: the figures are wall time, and other processes
on the machine lengthen them.

    .venv/bin/python bench/startup.py                       # import and weekly-run figures
    .venv/bin/python bench/startup.py --command-a --keep    # plus command A; keep the scratch folders
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
HEAVY = ("snowflake", "pyspark", "plotly", "boto3", "duckdb")
BASELINE = "import dagster, dagster_dbt"
LOCATION = "import ecommerce_assets.definitions"
PROBE = """
import json, sys, time
began = time.perf_counter()
{statement}
seconds = time.perf_counter() - began
# snowflake* is any module whose name starts so (snowflake.connector, snowflake.snowpark, ...) except the bare
# namespace "snowflake", which snowpark's -nspkg.pth file creates in every interpreter at startup.
heavy = {{name: sum(1 for m in sys.modules if m.startswith(name) and m != "snowflake"
                    if name == "snowflake" or m == name or m.startswith(name + "."))
          for name in {heavy!r}}}
print(json.dumps({{"seconds": seconds, "heavy": heavy}}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the project's settings (defaults apply) and without a DAGSTER_HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECOMMERCE_", "SNOWFLAKE_", "SPARK_", "DAGSTER_", "PYSPARK_"))}
    env.update(DAGSTER_TELEMETRY_DISABLED="1", **extra)
    return env


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_group(command: list[str], **kwargs) -> subprocess.Popen:
    """Start ``command`` in its own process group, so an interrupted benchmark can end its whole tree."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def end_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def probe(statement: str) -> dict:
    """One fresh interpreter: seconds of ``statement`` alone, the process's wall seconds, heavy modules."""
    began = time.perf_counter()
    out = subprocess.run([str(PYTHON), "-c", PROBE.format(statement=statement, heavy=HEAVY)], cwd=ROOT,
                         env=clean_env(), capture_output=True, text=True)
    wall = time.perf_counter() - began
    if out.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def import_times(repeat: int) -> list[str]:
    for statement in (BASELINE, LOCATION):  # warm-up: .pyc compilation and the page cache, not measured
        probe(statement)
    samples: dict[str, list[dict]] = {BASELINE: [], LOCATION: []}
    for i in range(repeat):
        # Alternate, and swap the order each repetition (ABBA...), so drift in the machine's load
        # falls on both sides alike.
        for statement in (BASELINE, LOCATION) if i % 2 == 0 else (LOCATION, BASELINE):
            samples[statement].append(sample := probe(statement))
            print(f"  import {statement.removeprefix('import '):32} {sample['seconds']:6.2f} s "
                  f"(process {sample['wall']:.2f} s)", flush=True)
    median = {s: statistics.median(x["seconds"] for x in samples[s]) for s in samples}
    wall = {s: statistics.median(x["wall"] for x in samples[s]) for s in samples}
    spread = {s: (min(x["seconds"] for x in samples[s]), max(x["seconds"] for x in samples[s])) for s in samples}
    header = f"{'import, fresh process (median of ' + str(repeat) + ')':44} {'import s':>9} {'min..max':>13} {'process s':>10}"
    lines = [header, "-" * len(header)]
    for label, statement in (("baseline: " + BASELINE, BASELINE), ("code location: " + LOCATION, LOCATION)):
        low, high = spread[statement]
        lines.append(f"{label[:44]:44} {median[statement]:9.2f} {f'{low:.2f}..{high:.2f}':>13} {wall[statement]:10.2f}")
    lines.append(f"{'code location / baseline (this run)':44} {median[LOCATION] / median[BASELINE]:8.2f}x "
                 f"{'':13} {wall[LOCATION] / wall[BASELINE]:9.2f}x")
    lines.append(f"{'  code location - baseline':44} {median[LOCATION] - median[BASELINE]:+9.2f}")
    lines += ["", f"{'heavy modules in sys.modules after import':44} {'location':>9} {'baseline':>13}"]
    for name in HEAVY:
        found = {s: samples[s][-1]["heavy"][name] for s in samples}
        label = f"{name}*" if name == "snowflake" else name
        lines.append(f"  {label:42} {'yes' if found[LOCATION] else 'no':>9} {'yes' if found[BASELINE] else 'no':>13}"
                     + (f"   ({found[LOCATION]} modules)" if found[LOCATION] else ""))
    return lines


def months_of(week: dt.date) -> str:
    last = week + dt.timedelta(days=6)
    return f"{week:%Y-%m}..{last:%Y-%m}"


def weekly_run(scratch: Path, week: dt.date, scale: float, seed: int) -> list[str]:
    from dagster import DagsterEventType, DagsterInstance

    home, data = scratch / "dagster_home", scratch / "data"
    home.mkdir(parents=True)
    data.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = clean_env(DAGSTER_HOME=str(home), ECOMMERCE_DATA_DIR=str(data), SPARK_LOCAL_IP="127.0.0.1")
    generate = [str(VENV / "bin" / "ecommerce"), "generate", "--scale", f"{scale:g}", "--months", months_of(week),
                "--seed", str(seed)]
    print(f"  {' '.join(generate[1:])}", flush=True)
    subprocess.run(generate, cwd=ROOT, env=env, check=True, capture_output=True)
    command = [str(VENV / "bin" / "dagster"), "asset", "materialize", "-m", "ecommerce_assets.definitions",
               "--select", "tag:weekly", "--partition", week.isoformat()]
    log = scratch / "weekly-run.log"
    print(f"  dagster {' '.join(command[1:])}   (log: {log})", flush=True)
    with log.open("w") as out:
        launched = time.time()
        process = run_group(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait()
        finally:
            end_group(process)
        exited = time.time()
    if code != 0:
        tail = log.read_text().splitlines()[-30:]
        return [f"weekly run FAILED (exit {code}); last lines of {log}:", *tail]

    instance = DagsterInstance.from_config(str(home))
    try:
        runs = instance.get_runs(limit=1)
        run_id = runs[0].run_id
        entries = sorted(instance.all_logs(run_id), key=lambda e: e.timestamp)
    finally:
        instance.dispose()
    first_event = entries[0].timestamp
    run_event: dict[DagsterEventType, float] = {}
    steps: dict[str, dict[DagsterEventType, float]] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if entry.step_key:
            steps.setdefault(entry.step_key, {}).setdefault(kind, entry.timestamp)
        else:
            run_event.setdefault(kind, entry.timestamp)
    run_start = run_event[DagsterEventType.RUN_START]
    run_end = run_event.get(DagsterEventType.RUN_SUCCESS) or run_event.get(DagsterEventType.RUN_FAILURE)
    started = sorted((s for s in steps if DagsterEventType.STEP_START in steps[s]),
                     key=lambda s: steps[s][DagsterEventType.STEP_START])

    def ended(step: str) -> float | None:
        marks = steps[step]
        return marks.get(DagsterEventType.STEP_SUCCESS) or marks.get(DagsterEventType.STEP_FAILURE)

    lines = [f"weekly run {run_id[:8]}: --select tag:weekly --partition {week} at scale {scale:g}, "
             f"{len(started)} steps", ""]
    header = f"{'run':44} {'seconds':>9}"
    lines += [header, "-" * len(header)]
    lines.append(f"{'launch -> first event (run created)':44} {first_event - launched:9.2f}")
    lines.append(f"{'launch -> RUN_START':44} {run_start - launched:9.2f}")
    lines.append(f"{'RUN_START -> first STEP_START':44} {steps[started[0]][DagsterEventType.STEP_START] - run_start:9.2f}")
    last_end = max(filter(None, (ended(s) for s in started)))
    if run_end:
        lines.append(f"{'last step end -> RUN_SUCCESS':44} {run_end - last_end:9.2f}")
        lines.append(f"{'RUN_SUCCESS -> process exit':44} {exited - run_end:9.2f}")
    lines.append(f"{'launch -> process exit':44} {exited - launched:9.2f}")

    # The gap before a step runs from the latest step end before its start (in this chain, its upstream's
    # STEP_SUCCESS; for the first step RUN_START), and is split at the markers the executor logs.
    markers = ((DagsterEventType.STEP_WORKER_STARTING, "to launch"), (DagsterEventType.STEP_WORKER_STARTED, "worker up"),
               (DagsterEventType.RESOURCE_INIT_STARTED, "location"), (DagsterEventType.STEP_START, "resources"))
    header = (f"{'step':28} {'after':>18} {'start gap':>9} {'duration':>9}   "
              + " ".join(f"{label:>9}" for _, label in markers))
    lines += ["", header, "-" * len(header)]
    gaps = durations = 0.0
    for step in started:
        start = steps[step][DagsterEventType.STEP_START]
        before = [(ended(s), s) for s in started if ended(s) is not None and ended(s) <= start]
        origin, after = max(before) if before else (run_start, "RUN_START")
        end = ended(step)
        duration = end - start if end else float("nan")
        parts, previous = [], origin
        for kind, _ in markers:
            mark = steps[step].get(kind)
            if mark is None:
                parts.append(f"{'-':>9}")
            else:
                parts.append(f"{mark - previous:9.2f}")
                previous = mark
        gaps += start - origin
        durations += duration
        lines.append(f"{step[:28]:28} {after[:18]:>18} {start - origin:9.2f} {duration:9.2f}   " + " ".join(parts))
    lines.append(f"{'all steps':28} {'':>18} {gaps:9.2f} {durations:9.2f}")
    lines.append("split of the start gap: to launch = previous end -> STEP_WORKER_STARTING, worker up -> "
                 "STEP_WORKER_STARTED, location -> RESOURCE_INIT_STARTED (code location loaded), resources -> STEP_START")
    return lines


def uncommitted(checkout: Path) -> list[str]:
    """Paths that differ from HEAD in the checkout: tracked changes (staged or not, deletions too) and untracked files."""
    def names(*args: str) -> list[str]:
        out = subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True).stdout
        return [n for n in out.split("\0") if n]
    return sorted(set(names("diff", "--name-only", "-z", "HEAD")) | set(names("ls-files", "-z", "--others", "--exclude-standard")))


def command_a(scratch: Path) -> list[str]:
    clone = scratch / "command-a"
    subprocess.run(["git", "-c", "advice.detachedHead=false", "clone", "-q", str(ROOT), str(clone)], check=True)
    changed = uncommitted(ROOT)
    for name in changed:  # the clone as the checkout is on disk, not as it was committed
        source, target = ROOT / name, clone / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.is_file() and not source.exists():
            target.unlink()
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"  git clone {ROOT} {clone}  (HEAD {head}; {len(changed)} uncommitted files copied over"
          + (f": {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''})" if changed else ")"), flush=True)
    log = scratch / "command-a.log"
    print(f"  bash scripts/demo.sh   (log: {log})", flush=True)
    marks: list[tuple[float, str]] = []
    pipeline = None
    with log.open("w") as out:
        began = time.perf_counter()
        process = run_group(["bash", "scripts/demo.sh"], cwd=clone, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        try:
            for line in process.stdout:
                at = time.perf_counter() - began
                out.write(f"[{at:7.1f}] {line}")
                out.flush()
                if line.startswith("setup: .venv ready") or line.startswith("== "):
                    marks.append((at, line.strip()))
                if match := re.match(r"done in (\d+)s after setup", line):
                    pipeline = int(match[1])
                    marks.append((at, "done"))
            code = process.wait()
        finally:
            end_group(process)
        total = time.perf_counter() - began
    if code != 0:
        return [f"command A FAILED (exit {code}); last lines of {log}:", *log.read_text().splitlines()[-30:]]
    setup = next((at for at, text in marks if text.startswith("setup:")), float("nan"))
    header = f"{'command A (fresh clone)':44} {'seconds':>9}"
    lines = [header, "-" * len(header), f"{'setup (setup.sh: venv, install, dbt parse)':44} {setup:9.1f}",
             f"{'pipeline (demo.sh: done in Ns after setup)':44} {pipeline if pipeline is not None else float('nan'):9.0f}"]
    for (at, text), (following, _) in zip(marks, marks[1:]):
        if text.startswith("== "):
            lines.append(f"  {text[3:][:42]:42} {following - at:9.1f}")
    lines.append(f"{'total wall':44} {total:9.1f}")
    return lines


def main(argv: list[str]) -> int:
    if not PYTHON.exists():
        print(f"{PYTHON} is missing: run scripts/setup.sh in {ROOT} first", file=sys.stderr)
        return 2
    if Path(sys.prefix).resolve() != VENV.resolve():  # the event log is read with the checkout's dagster
        os.execv(str(PYTHON), [str(PYTHON), str(Path(__file__).resolve()), *argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process imports of each kind (default 3)")
    parser.add_argument("--command-a", action="store_true", help="also time command A on a fresh clone (minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, data, clone)")
    parser.add_argument("--week", default="2019-10-07", help="weekly partition of the run, a Monday (default 2019-10-07)")
    parser.add_argument("--scale", type=float, default=0.0002, help="data scale of the run (default 0.0002, ~82k events a year)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    week = dt.date.fromisoformat(args.week)
    head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True).stdout.strip()
    dirty = uncommitted(ROOT)
    versions = subprocess.run([str(PYTHON), "-c", "import sys, dagster; print(sys.version.split()[0], dagster.__version__)"],
                              capture_output=True, text=True, env=clean_env()).stdout.split()
    intro = [f"checkout {ROOT}: {head[:100]}" + (f" (+{len(dirty)} uncommitted files{': ' + ', '.join(dirty) if len(dirty) <= 3 else ''})" if dirty else ""),
             f"python {versions[0] if versions else '?'}, dagster {versions[1] if len(versions) > 1 else '?'}, "
             f"{os.cpu_count()} cores, {dt.datetime.now():%Y-%m-%d %H:%M:%S}",
             f"load average at start (1, 5, 15 min): {load()}"]
    print("\n".join(intro), flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    sections: list[list[str]] = []
    try:
        print(f"== import ({args.repeat} of each, alternating)", flush=True)
        sections.append(import_times(args.repeat))
        print(f"== weekly run (load {load()})", flush=True)
        began = time.perf_counter()
        sections.append(weekly_run(scratch / "run", week, args.scale, args.seed))
        print(f"  finished in {time.perf_counter() - began:.0f} s", flush=True)
        if args.command_a:
            print(f"== command A (load {load()})", flush=True)
            sections.append(command_a(scratch))
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    lines = intro + [""]
    for section in sections:
        lines += section + [""]
    lines.append(f"load average at end (1, 5, 15 min): {load()}")
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
