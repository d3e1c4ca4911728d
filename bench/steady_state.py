"""Steady-state benchmark: one scheduled week, timed stage by stage, on top of N weeks already loaded.

Prints figures; it is not a test. Three modes:

* default: for each N (``--n``, default 1 8 16 30) a fresh data folder gets the N-1 weeks before the
  timed week (``--week``, default 2020-04-20, the last whole week) loaded untimed, then the timed week
  runs end to end as the weekly schedule and the automation sensor would run it, one in-process
  ``dg.materialize`` per stage (as ``weekly_path.py`` does): raw split (``raw_events``), Spark clean
  (``clean_events`` with ``rejected_events``, one multi-asset), warehouse load (``warehouse_events``),
  weekly dbt (``weekly_dbt_models``, tag weekly), dimensions and marts (``history_dbt_models``, tag
  history) and the dashboard. N counts the weeks in the warehouse once the timed week is in: N=1 is the
  week on an empty warehouse, N=30 is the week on the 29 weeks before it (the whole history; the 31st
  partition, 2020-04-27, is the partial week after it). Every N times the same week's data, so the
  rows of the weekly stages are equal across N and only the history stages see more rows.
* ``--replay``: the whole history week by week through the history replay sensor's code path: per week
  the weekly assets for that one partition (the sensor requests ``weekly_events_job`` for one
  partition), then the history dbt models and the dashboard (the automation sensor refreshes them after
  every week that lands). Per week: seconds per stage, total, peak; then the totals and a linear
  extrapolation to scale 1 (seconds / scale).
* ``--full-week-on-history``: the timed week's days generated at ``--week-scale`` (default 1) and every
  other day at ``--scale`` (default 0.1), default N 1 30: a full-scale week on an empty warehouse and on
  a scale-0.1 history of the 29 weeks before it.

Usage (from either tree; ``--code`` picks the code that runs, default the tree this file is in):

    .venv/bin/python bench/steady_state.py --scale 0.1                       # N = 1 8 16 30 at 0.1
    .venv/bin/python bench/steady_state.py --scale 0.1 --code ../before     # another checkout's code
    .venv/bin/python bench/steady_state.py --replay --scale 0.1
    .venv/bin/python bench/steady_state.py --full-week-on-history            # week at 1, history at 0.1
    .venv/bin/python bench/steady_state.py --full-week-on-history --scale 0.001 --week-scale 0.01 --n 1 4  # smoke

``--code DIR`` goes first on PYTHONPATH of the processes that run the pipeline (each N runs in its own
child process, so settings, imports and memory start clean); each child checks that
``ecommerce_assets`` is imported from DIR and prints where from. The dbt manifest of DIR's project is
re-parsed first when a project file is newer than it (the same rule as ``dbt_project.VenvDbtPreparer``).

Design decisions:

* A fresh data folder per N: loading history is the fastest correct path, one single-run backfill of
  the N-1 history weeks per weekly stage (as the UI or the CLI starts a range), then the history assets
  once (the dashboard is not run for history: it is a file that every refresh rewrites, no state). It is
  not timed (its seconds are printed beside the table). Extending a smaller N's warehouse would mean
  loading earlier weeks after later ones (the timed week is fixed), which is not what a steady state
  holds once models are incremental, and copying a checkpoint of a progressive load would give each N a
  different timed week; neither is obviously identical to a fresh load, so neither is done.
* Landing files (the monthly dumps, all seven months) are generated once per (scale, seed) and
  hard-linked into each run's lake, so every N and mode reads the same dumps: the raw split of the timed
  week reads the same April file for every N. The generator makes every day from its own (seed, day)
  stream, so the days are the same whatever range was generated.
* ``--full-week-on-history`` generates the days before the week and after it at ``--scale`` and the
  week's days at ``--week-scale`` into separate folders, then joins each month's files in day order:
  the generator writes the header as its own gzip member and each day as another, so the header member
  is kept once and the rest is concatenated byte for byte. The week's users and products come from the
  catalog of its own scale, so they mostly do not meet the history's (more "new" users than a real week).
* Peak memory is the PSS of the child's whole process tree (Spark's JVM and its Python workers, dbt's
  subprocesses), sampled by ``ecommerce_assets_tests.peak_memory.PeakMemory``; Spark's JVM is stopped after every clean run, as
  a deployed run's process would end with it (its stop is not in the seconds). "others %" is the CPU the
  rest of the machine used during the stage: all busy CPU time (/proc/stat, steal included) minus this
  process tree's, over wall seconds x cores; a ratio between two stages means little when it is high.
* "rows" is what a stage reads: the week's raw rows (raw split, clean), its clean rows (load, weekly
  dbt), all events in the warehouse (history models, dashboard).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecommerce_assets_tests.peak_memory import PeakMemory, _children, stop_spark, tree_pss

HERE = Path(__file__).resolve().parent

FIRST_WEEK, LAST_WEEK = dt.date(2019, 9, 30), dt.date(2020, 4, 27)
FIRST_DAY, LAST_DAY = dt.date(2019, 10, 1), dt.date(2020, 4, 30)
# Dagster's console log at WARNING: the DEBUG event stream of every step would bury the figures.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
STAGES = ["raw split", "spark clean", "warehouse load", "weekly dbt", "history dbt", "dashboard"]
WEEKLY_STAGES = STAGES[:4]


# -- parent: data, code, one child per N, tables -------------------------------------------------------

def ensure_manifest(code: Path) -> None:
    """`dbt parse` the code tree's project when a project file is newer than its manifest (or it has none)."""
    project = code / "ecommerce_dbt"
    manifest = project / "target" / "manifest.json"
    sources = [p for p in project.rglob("*") if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts]
    if manifest.exists() and all(p.stat().st_mtime <= manifest.stat().st_mtime for p in sources):
        return
    dbt = Path(sys.executable).with_name("dbt")
    print(f"dbt parse in {project} (manifest missing or older than the project)", flush=True)
    subprocess.run([str(dbt if dbt.exists() else "dbt"), "parse", "--quiet", "--project-dir", str(project),
                    "--profiles-dir", str(project)], check=True, cwd=project)


def generated(folder: Path, scale: float, seed: int, start: dt.date, end: dt.date) -> Path:
    """Landing files for the days start..end at a scale, generated once and reused (stamp beside them)."""
    stamp = folder / "_generated.json"
    wanted = {"scale": scale, "seed": seed, "start": start.isoformat(), "end": end.isoformat()}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return folder
    from ecommerce_assets.lib.generator.synthetic import generate

    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating scale {scale:g} {start}..{end} into {folder} ...", flush=True)
    began = time.perf_counter()
    generate(folder, scale, seed=seed, start=start, end=end)
    print(f"generated in {time.perf_counter() - began:.0f} s", flush=True)
    stamp.write_text(json.dumps(wanted))
    return folder


def mixed_landing(data: Path, history_scale: float, week_scale: float, week: dt.date, seed: int) -> Path:
    """Dumps with the timed week's days at ``week_scale`` and all other days at ``history_scale``."""
    from ecommerce_assets.lib.generator.synthetic import HEADER, _gzip_header_only
    from ecommerce_assets.lib.kaggle import file_stem

    folder = data / f"landing-mixed-{history_scale:g}-week-{week}-at-{week_scale:g}-seed-{seed}"
    stamp = folder / "_generated.json"
    wanted = {"history_scale": history_scale, "week_scale": week_scale, "week": week.isoformat(), "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return folder
    first, last = max(week, FIRST_DAY), min(week + dt.timedelta(days=6), LAST_DAY)  # the first and last weeks are partial
    pieces = [generated(data / "pieces" / f"scale-{week_scale:g}-week-{week}", week_scale, seed, first, last)]
    if first > FIRST_DAY:
        pieces.insert(0, generated(data / "pieces" / f"scale-{history_scale:g}-until-{week}", history_scale, seed,
                                   FIRST_DAY, first - dt.timedelta(days=1)))
    if last < LAST_DAY:
        pieces.append(generated(data / "pieces" / f"scale-{history_scale:g}-after-{week}", history_scale, seed,
                                last + dt.timedelta(days=1), LAST_DAY))
    header = _gzip_header_only(HEADER + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    months = [file_stem(dt.date(2019 + (9 + i) // 12, (9 + i) % 12 + 1, 1)) + ".csv.gz" for i in range(7)]  # in order
    names = [name for name in months if any((piece / name).exists() for piece in pieces)]
    for name in names:
        with open(folder / (name + ".partial"), "wb") as out:
            out.write(header)
            for piece in pieces:  # in day order: before the week, the week, after it
                if (part := piece / name).exists():
                    body = part.read_bytes()
                    if not body.startswith(header):
                        raise RuntimeError(f"{part} does not start with the generator's header member")
                    out.write(body[len(header):])
        (folder / (name + ".partial")).replace(folder / name)
    stamp.write_text(json.dumps(wanted))
    return folder


def same_history(mixed: Path, plain: Path, until: Path, week: dt.date) -> bool:
    """Whether the mixed dumps hold the plain landing's bytes for every day before the week.

    Months before the week's must be equal files; in the week's month both must begin with the days
    generated before the week (``until``: the header member, then one gzip member per day).
    """
    if not (plain / "_generated.json").exists():
        return False
    for dump in sorted(mixed.glob("*.csv.gz")):
        month = dt.datetime.strptime(dump.name[:8], "%Y-%b").date()
        if month > week:
            continue
        a, b = dump.read_bytes(), (plain / dump.name).read_bytes() if (plain / dump.name).exists() else b""
        if (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) <= week:  # the whole month is before the week
            if a != b:
                return False
        elif not (prefix := (until / dump.name).read_bytes() if (until / dump.name).exists() else b"") \
                or not (a.startswith(prefix) and b.startswith(prefix)):
            return False
    return True


def others_now() -> str:
    """Processes outside this benchmark using CPU right now (sampled over 2 s), for the report."""
    def ticks() -> dict[int, tuple[int, str]]:
        out = {}
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    out[int(proc.name)] = (int(fields[11]) + int(fields[12]), (proc / "cmdline").read_bytes()[:90].replace(b"\0", b" ").decode(errors="replace"))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    first = ticks()
    time.sleep(2)
    second = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = sorted(((second[p][0] - first.get(p, (0, ""))[0]) / hz / 2 * 100, second[p][1]) for p in second if p != os.getpid())
    top = [f"{pct:.0f}% {cmd.strip()}" for pct, cmd in reversed(busy) if pct >= 5][:5]
    return f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; " + ("; ".join(top) if top else "no other process above 5% CPU")


def run_child(spec: dict, keep: bool) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result = Path(handle.name)
    spec = {**spec, "result": str(result)}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)], check=False)
    if done.returncode != 0:
        result.unlink(missing_ok=True)
        raise SystemExit(f"child for {spec['mode']} n={spec.get('n')} failed (exit {done.returncode})")
    out = json.loads(result.read_text())
    result.unlink()
    out["child_seconds"] = time.perf_counter() - began
    if not keep:
        shutil.rmtree(spec["run"], ignore_errors=True)
    return out


def gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def steady_table(res: dict, base: dict | None) -> list[str]:
    n, hist = res["n"], res["history"]
    title = (f"N={n}: week {res['week']} on an empty warehouse" if n == 1 else
             f"N={n}: week {res['week']} on {n - 1} history weeks {hist['first']}..{hist['last']} "
             f"(loaded in {hist['seconds']:.0f} s, not timed, {hist['cached']} weeks' lake from the cache: "
             f"{', '.join(f'{k} {v:.0f}' for k, v in hist['stages'].items())})")
    lines = [title, f"  scale {res['scale_label']}, code {res['code']}, {res['cores']} cores, load average at start {res['load_start']}, at end {res['load_end']}"]
    header = f"  {'stage':16} {'seconds':>8} {'rows':>12} {'peak GiB':>9} {'x N=1':>7} {'others %':>9}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for stage in res["stages"]:
        ratio = f"{stage['seconds'] / b['seconds']:7.2f}" if base and (b := next((s for s in base["stages"] if s["name"] == stage["name"]), None)) else f"{'':>7}"
        lines.append(f"  {stage['name']:16} {stage['seconds']:8.1f} {stage['rows']:12,} {gib(stage['peak']):>9} {ratio} {stage['others']:9.0f}")
    total = sum(s["seconds"] for s in res["stages"])
    ratio = f"{total / sum(s['seconds'] for s in base['stages']):7.2f}" if base else f"{'':>7}"
    lines.append(f"  {'total':16} {total:8.1f} {'':>12} {gib(res['run_peak']):>9} {ratio} {res['others_total']:9.0f}")
    return lines


def summary(results: list[dict]) -> list[str]:
    base = next((r for r in results if r["n"] == 1), None)
    head = f"{'stage':16}" + "".join(f" {'N=' + str(r['n']):>15}" for r in results)
    lines = ["seconds by N (x the N=1 figure of this run)" if base else "seconds by N", head, "-" * len(head)]
    for name in [*STAGES, "total"]:
        cells = []
        for r in results:
            secs = {s["name"]: s["seconds"] for s in r["stages"]}
            value = sum(secs.values()) if name == "total" else secs.get(name)
            ref = (sum(s["seconds"] for s in base["stages"]) if name == "total" else
                   next((s["seconds"] for s in base["stages"] if s["name"] == name), None)) if base else None
            cells.append(f"{'-':>15}" if value is None else f"{value:7.1f} ({value / ref:5.2f})" if ref else f"{value:15.1f}")
        lines.append(f"{name:16}" + "".join(f" {c:>15}" for c in cells))
    return lines


def replay_table(res: dict, scale: float) -> list[str]:
    short = ["raw", "clean", "load", "weekly dbt", "history dbt", "dashboard"]
    lines = [(f"replay of {len(res['weeks'])} weeks, one run per week and stage, scale {res['scale_label']}, code {res['code']}, "
              f"{res['cores']} cores, load average at start {res['load_start']}, at end {res['load_end']}")]
    head = f"{'week':10}" + "".join(f" {s:>11}" for s in short) + f" {'total':>8} {'rows':>11} {'peak GiB':>9} {'others %':>9}"
    lines += [head, "-" * len(head)]
    totals = dict.fromkeys(STAGES, 0.0)
    for week in res["weeks"]:
        secs = {s["name"]: s["seconds"] for s in week["stages"]}
        for k in totals:
            totals[k] += secs[k]
        lines.append(f"{week['week']:10}" + "".join(f" {secs[s]:11.1f}" for s in STAGES) +
                     f" {sum(secs.values()):8.1f} {week['stages'][0]['rows']:11,} {gib(week['peak']):>9} {week['others']:9.0f}")
    total = sum(totals.values())
    lines.append(f"{'total':10}" + "".join(f" {totals[s]:11.1f}" for s in STAGES) + f" {total:8.1f} {'':>11} {gib(res['run_peak']):>9}")
    lines.append(f"{'share':10}" + "".join(f" {totals[s] / total:11.0%}" for s in STAGES))
    if scale < 1:
        lines.append(f"linear extrapolation to scale 1 (seconds / {scale:g}): {total / scale / 60:.1f} min in all; "
                     + ", ".join(f"{s} {totals[s] / scale / 60:.1f} min" for s in STAGES)
                     + " (fixed costs such as Spark's session start and Dagster's run start are scaled too: an upper bound"
                     " for them, while work growing faster than the rows, such as full rebuilds over all history, is not captured above it)")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None,
                        help="scale of the generated data (default 0.1); with --full-week-on-history the history's scale")
    parser.add_argument("--n", type=int, nargs="+", default=None,
                        help="weeks in the warehouse once the timed week is in, 1 = empty warehouse (default 1 8 16 30; 1 30 with --full-week-on-history)")
    parser.add_argument("--week", default="2020-04-20", help="the timed week, a Monday (default 2020-04-20)")
    parser.add_argument("--replay", action="store_true", help="replay the whole history week by week, as the replay sensor does")
    parser.add_argument("--replay-weeks", type=int, default=31, help="with --replay: how many weeks from 2019-09-30 (default 31, all)")
    parser.add_argument("--full-week-on-history", action="store_true", help="the timed week at --week-scale, the rest at --scale")
    parser.add_argument("--week-scale", type=float, default=1.0, help="with --full-week-on-history: the timed week's scale (default 1)")
    parser.add_argument("--code", default=str(HERE.parent), help="checkout whose code runs (default: the tree holding this script)")
    parser.add_argument("--data", default=str(HERE.parent / "data" / "bench-steady"),
                        help="scratch folder (default data/bench-steady in this tree): landing files are kept and reused")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the last run's data folder (lake, warehouse) for a look")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))

    if args.replay and args.full_week_on_history:
        parser.error("--replay and --full-week-on-history are separate modes")
    code = Path(args.code).resolve()
    if not (code / "ecommerce_assets" / "__init__.py").exists():
        parser.error(f"--code {code}: no ecommerce_assets package there")
    if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != str(code):
        # The code to run goes first on PYTHONPATH, for this process (started again with it) and its children.
        os.environ["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])
        os.execv(sys.executable, [sys.executable, *sys.argv])
    scale = args.scale if args.scale is not None else 0.1
    week = dt.date.fromisoformat(args.week)
    if week.weekday() != 0 or not FIRST_WEEK <= week <= LAST_WEEK:
        parser.error(f"--week {week}: a Monday from {FIRST_WEEK} to {LAST_WEEK}")
    data = Path(args.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    ensure_manifest(code)
    print(f"code {code}; machine before the runs: {others_now()}", flush=True)

    plain = data / f"landing-scale-{scale:g}-seed-{args.seed}"
    if args.full_week_on_history:
        landing = mixed_landing(data, scale, args.week_scale, week, args.seed)
        label = f"{args.week_scale:g} for the week, {scale:g} for the other days"
        # The history weeks' lines are the plain landing's when the mixed dumps begin with its bytes up to
        # the week: then their lake folders are the same and the plain landing's cache serves both.
        history_landing = plain if same_history(landing, plain, data / "pieces" / f"scale-{scale:g}-until-{week}", week) else landing
    else:
        landing = history_landing = generated(plain, scale, args.seed, FIRST_DAY, LAST_DAY)
        label = f"{scale:g}"
    # One run folder per invocation: two invocations on the same --data do not meet; removed after each
    # child that succeeded (a failed child's folder stays for a look), unless --keep.
    run = data / f"run-{os.getpid()}"
    print(f"history weeks' lake cache: {data / f'history-lake-{history_landing.name}-{lake_code_digest(code)}'}", flush=True)
    common = {"code": str(code), "landing": str(landing), "run": str(run), "scale_label": label,
              "lake_cache": str(data / f"history-lake-{history_landing.name}-{lake_code_digest(code)}")}

    if args.replay:
        weeks = [FIRST_WEEK + dt.timedelta(days=7 * i) for i in range(min(args.replay_weeks, 31))]
        res = run_child({**common, "mode": "replay", "weeks": [w.isoformat() for w in weeks]}, keep=args.keep)
        print("\n" + "\n".join(replay_table(res, scale)), flush=True)
        print(f"machine after: {others_now()}")
        return 0

    ns = args.n or ([1, 30] if args.full_week_on_history else [1, 8, 16, 30])
    for n in ns:
        if not 1 <= n <= (week - FIRST_WEEK).days // 7 + 1:
            parser.error(f"--n {n}: the week {week} has {(week - FIRST_WEEK).days // 7} weeks before it")
    results: list[dict] = []
    for n in sorted(ns, key=lambda n: n != 1):  # N=1 first: the others' ratios refer to it
        res = run_child({**common, "mode": "steady", "n": n, "week": week.isoformat()}, keep=args.keep)
        results.append(res)
        base = next((r for r in results if r["n"] == 1), None)
        print("\n" + "\n".join(steady_table(res, base)) + f"\n  (child process {res['child_seconds']:.0f} s in all)\n", flush=True)
        if len(results) > 1:  # after every N, so an interrupted run still has its summary so far
            print("\n".join(summary(results)) + "\n", flush=True)
    print(f"machine after: {others_now()}")
    return 0


# The lake folders a history week is loaded from (the raw split's parts and line maps, the clean Parquet and
# the quarantine). Their content depends only on the landing files and the Spark code, not on N or on the
# warehouse code, so they are cached per landing folder and hard-linked into each N's lake: every N (and
# a --code run of another checkout with the same Spark code) splits and cleans each history week once.
LAKE_WEEKS = ["raw/events", "clean/events", "quarantine/events"]


def lake_code_digest(code: Path) -> str:
    """A digest of the code that writes the LAKE_WEEKS folders: a cache made by other rules is not reused."""
    import hashlib

    package = code / "ecommerce_assets"
    # Both layouts: this one (lib/ and defs/) and a --code checkout from before it.
    files = sorted([*(package / "lib" / "spark").glob("*.py"), package / "lib" / "raw_split.py", package / "lib" / "lake.py",
                    package / "defs" / "raw" / "raw_events.py", package / "defs" / "clean" / "clean_events.py",
                    *(package / "spark").glob("*.py"), package / "raw_split.py", package / "lake.py",
                    package / "assets" / "raw_events.py", package / "assets" / "clean_events.py"])
    return hashlib.sha256(b"".join(f.read_bytes() for f in files if f.exists())).hexdigest()[:10]


def link_weeks(source: Path, target: Path, weeks: list[str]) -> None:
    """Hard-link the LAKE_WEEKS folders of ``weeks`` from one lake root to another (published folders only)."""
    for folder in LAKE_WEEKS:
        for week in weeks:
            src = source / folder / f"week={week}"
            if not src.is_dir():
                continue
            dst = target / folder / f"week={week}"
            staged = dst.with_name(dst.name + ".linking")
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(src, staged, copy_function=os.link)
            staged.replace(dst) if not dst.exists() else shutil.rmtree(staged)


# -- child: one data folder, in-process materializations ---------------------------------------------

class CpuMeter:
    """CPU seconds used by the rest of the machine: busy time of all cores minus this process tree's."""

    def __init__(self) -> None:
        self.hz = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1

    def _busy(self) -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return (user + nice + system + irq + softirq + steal) / self.hz

    def _ours(self) -> float:
        t = os.times()
        alive = 0
        for pid in _children(os.getpid())[1:]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                alive += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            except (OSError, IndexError, ValueError):
                pass
        return t.user + t.system + t.children_user + t.children_system + alive / self.hz

    def mark(self) -> tuple[float, float, float]:
        return time.perf_counter(), self._busy(), self._ours()

    def others_percent(self, since: tuple[float, float, float]) -> float:
        now = self.mark()
        wall = now[0] - since[0]
        return max(0.0, ((now[1] - since[1]) - (now[2] - since[2])) / (wall * self.cores) * 100) if wall > 0 else 0.0


def child(spec: dict) -> int:
    run_dir, code = Path(spec["run"]), Path(spec["code"])
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "lake" / "landing").mkdir(parents=True)
    for f in Path(spec["landing"]).glob("*.csv.gz"):
        os.link(f, run_dir / "lake" / "landing" / f.name)
    os.environ.update({"ECOMMERCE_DATA_DIR": str(run_dir), "ECOMMERCE_LAKE": str(run_dir / "lake"),
                       "SPARK_LOCAL_IP": "127.0.0.1", "DAGSTER_TELEMETRY_DISABLED": "1"})
    os.environ.pop("ECOMMERCE_DUCKDB_PATH", None)

    import duckdb
    import ecommerce_assets
    from ecommerce_assets_tests.helpers import run_stage
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.settings import load_settings


    where = Path(ecommerce_assets.__file__).resolve()
    if code not in where.parents:
        raise SystemExit(f"ecommerce_assets imported from {where}, not from --code {code}")
    print(f"[{spec['mode']}{' N=' + str(spec['n']) if 'n' in spec else ''}] ecommerce_assets from {where.parent}", flush=True)

    settings = load_settings()
    resources = build_resources(settings)
    lake = run_dir / "lake"
    memory, cpu = PeakMemory(run_dir), CpuMeter()

    def materialize(stage: str, weeks: list[str]) -> None:
        run_stage(stage, weeks, resources, raise_on_error=True, run_config=QUIET)
        if stage == "spark clean":
            stop_spark()

    def manifest_rows(folder: str, key: str, weeks: list[str]) -> int:
        return sum(json.loads((lake / folder / f"week={w}" / "_manifest.json").read_text())[key] for w in weeks)

    def warehouse_events() -> int:
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            return con.execute("select count(*) from raw.events").fetchone()[0]

    def rows(stage: str, weeks: list[str]) -> int:
        if stage in ("raw split", "spark clean"):
            return manifest_rows("raw/events", "rows", weeks)
        if stage in ("warehouse load", "weekly dbt"):
            return manifest_rows("clean/events", "clean_rows", weeks)
        return warehouse_events()

    def timed(stage: str, week: str) -> dict:
        memory.take()
        first = tree_pss(os.getpid())[0]  # a stage shorter than the sampler's interval still gets a figure
        mark = cpu.mark()
        began = time.perf_counter()
        materialize(stage, [week])
        seconds = time.perf_counter() - began
        others = cpu.others_percent(mark)
        peak = max(memory.take(), first, tree_pss(os.getpid())[0])
        out = {"name": stage, "seconds": seconds, "rows": rows(stage, [week]), "peak": peak, "others": others}
        print(f"  {stage:16} {seconds:8.1f} s {out['rows']:12,} rows {gib(out['peak'])} GiB others {others:.0f}%", flush=True)
        return out

    load = lambda: " ".join(f"{x:.2f}" for x in os.getloadavg())
    result = {"mode": spec["mode"], "code": str(where.parent.parent), "scale_label": spec["scale_label"], "cores": os.cpu_count()}
    if spec["mode"] == "steady":
        week, n = dt.date.fromisoformat(spec["week"]), spec["n"]
        history = [(week - dt.timedelta(days=7 * i)).isoformat() for i in range(n - 1, 0, -1)]
        hist = {"seconds": 0.0, "stages": {}, "first": history[0] if history else None, "last": history[-1] if history else None}
        if history:
            print(f"loading {len(history)} history weeks {history[0]}..{history[-1]} (not timed) ...", flush=True)
            cache = Path(spec["lake_cache"])
            missing = [w for w in history if not (cache / LAKE_WEEKS[0] / f"week={w}").exists()]
            for stage in WEEKLY_STAGES[:2]:  # raw split and clean only for the weeks no earlier N left in the cache
                began = time.perf_counter()
                if missing:
                    materialize(stage, missing)
                hist["stages"][stage] = time.perf_counter() - began
            link_weeks(lake, cache, missing)
            link_weeks(cache, lake, [w for w in history if w not in missing])
            for stage in [*WEEKLY_STAGES[2:], "history dbt"]:
                began = time.perf_counter()
                materialize(stage, history)
                hist["stages"][stage] = time.perf_counter() - began
            hist["seconds"] = sum(hist["stages"].values())
            hist["cached"] = len(history) - len(missing)
        print(f"timing week {week} ...", flush=True)
        memory.run_peak = 0
        result["load_start"] = load()
        mark = cpu.mark()
        stages = [timed(stage, week.isoformat()) for stage in STAGES]
        result.update({"n": n, "week": week.isoformat(), "history": hist, "stages": stages, "run_peak": memory.run_peak,
                       "others_total": cpu.others_percent(mark), "load_end": load()})
    else:
        result["load_start"] = load()
        memory.run_peak = 0
        weeks = []
        for week in spec["weeks"]:
            print(f"week {week}:", flush=True)
            memory.peak = 0
            mark = cpu.mark()
            week_peak = 0
            stages = []
            for stage in STAGES:
                stages.append(timed(stage, week))
                week_peak = max(week_peak, stages[-1]["peak"])
            weeks.append({"week": week, "stages": stages, "peak": week_peak, "others": cpu.others_percent(mark)})
        result.update({"weeks": weeks, "run_peak": memory.run_peak, "load_end": load()})
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
