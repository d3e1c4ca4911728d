"""Benchmark ``ecommerce generate``: events per second at a scale over a few days, against a baseline copy.

The baseline is another version of ``ecommerce_assets/lib/generator/synthetic.py`` saved as a file (for example
``git show HEAD:ecommerce_assets/lib/generator/synthetic.py > ../synthetic_baseline.py``). Each round
generates the days with the baseline and then with this checkout's module, back to back, on ``--workers``
processes into ``--out`` (deleted afterwards). Per run it prints the catalog build (once per run of any
length), the days' wall and CPU seconds (this process and its workers), events per second of each (events:
the reference day counts times the scale, duplicate copies included, i.e. the lines written), gzip bytes
per event, and the minutes a full run (2019-10..2020-04) would take at the wall rate and on whole cores at
the CPU rate; then the two ratios and whether both outputs are byte-identical. The machine may be shared:
compare figures of one run only; the CPU figures are the less disturbed by other load.

    .venv/bin/python bench/generator_speed.py --baseline ../synthetic_baseline.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from ecommerce_assets.lib.generator import synthetic


def load_baseline(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("synthetic_baseline", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the worker processes look the module up by name
    spec.loader.exec_module(module)
    return module


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers once joined)."""
    usages = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def run(module: ModuleType, out: Path, args: argparse.Namespace) -> tuple[float, float, float, list[bytes]]:
    """Seconds for the catalog, wall and CPU seconds for the days (catalog built first, timed apart), the bytes."""
    shutil.rmtree(out, ignore_errors=True)
    module.build_catalog.cache_clear()  # built in every round, as in every real run
    began = time.perf_counter()
    module.build_catalog(args.scale, args.seed)
    catalog = time.perf_counter() - began
    began, cpu = time.perf_counter(), cpu_seconds()
    files = module.generate(out, args.scale, seed=args.seed, workers=args.workers, start=args.start, end=args.end)
    seconds, cpu = time.perf_counter() - began, cpu_seconds() - cpu
    contents = [f.read_bytes() for f in files]
    shutil.rmtree(out)
    print(f"  catalog {catalog:5.1f} s, days {seconds:6.1f} s wall, {cpu:6.1f} s CPU", end="", flush=True)
    return catalog, seconds, cpu, contents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a copy of synthetic.py to compare with")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2019, 11, 14))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2019, 11, 17))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "gen-bench")
    args = parser.parse_args()
    baseline = load_baseline(args.baseline)
    counts = synthetic.daily_counts()
    events = sum(counts[d] for d in synthetic.days_between(args.start, args.end)) * args.scale
    full_run = sum(counts.values()) * args.scale
    print(f"{args.start}..{args.end} at scale {args.scale:g}: {events:,.0f} events, {args.workers} workers, "
          f"load average {os.getloadavg()[0]:.2f}")
    for round_ in range(1, args.rounds + 1):
        rates, cpu_rates, outputs = {}, {}, {}
        for name, module in (("baseline", baseline), ("this checkout", synthetic)):
            print(f"round {round_} {name}:", end="", flush=True)
            catalog, seconds, cpu, outputs[name] = run(module, args.out, args)
            rates[name], cpu_rates[name] = events / seconds, events / cpu
            size = sum(map(len, outputs[name]))
            print(f", {rates[name]:,.0f} events/s ({cpu_rates[name]:,.0f} per CPU second), "
                  f"{size / events:.2f} gzip B/event; full run {(catalog + full_run / rates[name]) / 60:.1f} min "
                  f"at this rate, {(catalog + full_run / cpu_rates[name] / args.workers) / 60:.1f} min "
                  f"with {args.workers} whole cores")
        ratio = rates["this checkout"] / rates["baseline"]
        cpu_ratio = cpu_rates["this checkout"] / cpu_rates["baseline"]
        identical = outputs["baseline"] == outputs["this checkout"]
        print(f"round {round_}: ratio {ratio:.2f} (wall), {cpu_ratio:.2f} (CPU), byte-identical output {identical}, "
              f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
