"""Fault-injection run, the long version of ecommerce_assets_tests/test_faults.py: every kill point of every
stage (each timed point several times, at delays drawn from a seed within the stage's measured duration),
on the local lake, and on S3 (a moto server) for the raw split and the Spark clean; then the lake and the
warehouse on a full disk (a small tmpfs). Prints one table:

    scenario | injected where | outcome | rows lost | rerun identical

"rows lost": rows of what was published before the fault that a reader no longer gets whole and unchanged
right after it; "rerun identical": a plain rerun of the stage gives the rows (and event_ids, warehouse and
mart rows, the dashboard) of a run with no fault, and leaves nothing half-written. Exit status 1 if any
scenario lost rows, showed half-written output or did not rerun identically.

Usage:

    .venv/bin/python bench/faults.py                       # everything (about an hour on a quiet 2-core machine)
    .venv/bin/python bench/faults.py --timed 1 --stages "raw split" land --no-s3 --no-disk   # a quick look
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from ecommerce_assets_tests import faults as F

BUCKET = "faults-bench"


def delays(rng: random.Random, point: F.Point, reference: F.Reference, timed: int) -> list[float | None]:
    if not point.timed:
        return [None]
    return sorted(rng.uniform(0.02, 0.9) * reference.durations[point.stage] for _ in range(timed))


def run_points(reference: F.Reference, stages: list[str], lake: str, timed: int, seed: int, work: Path,
               reports: list, keep: bool) -> None:
    for stage in stages:
        rng = random.Random(f"{seed}/{lake}/{stage}")
        for point in F.points(stage, lake):
            for delay in delays(rng, point, reference, timed):
                folder = work / f"{lake}-{len(reports):03d}"
                lake_url = f"s3://{BUCKET}/{folder.name}" if lake == "s3" else None
                report = F.kill_scenario(reference, point, folder, delay, lake_url=lake_url)
                reports.append(report)
                print(" | ".join(report.row()) + f"   ({report.seconds:.0f} s)", flush=True)
                if not report.ok:
                    print(f"    log of the killed run: {report.outcome.log[-1500:]}", flush=True)
                if not keep:
                    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", default=F.STAGES, choices=F.STAGES, metavar="STAGE",
                        help=f"stages to kill (default all: {', '.join(F.STAGES)})")
    parser.add_argument("--timed", type=int, default=3, help="kills per timed point, at different delays (default 3)")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--no-s3", action="store_true", help="skip the lake on S3")
    parser.add_argument("--no-disk", action="store_true", help="skip the full disk")
    parser.add_argument("--keep", action="store_true", help="keep every scenario's folder (in the printed scratch folder)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ecommerce-faults-"))
    print(f"scratch {work}; seed {args.seed}; {args.timed} kill(s) per timed point", flush=True)
    reports: list = []
    disk_reports: list = []
    try:
        pipeline = [s for s in args.stages if s in F.PIPELINE_STAGES]
        if pipeline:
            reference = F.build_reference(work / "reference")
            print("reference run (seconds per stage, in process): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in reference.durations.items()), flush=True)
            run_points(reference, pipeline, "local", args.timed, args.seed, work, reports, args.keep)
        for stage, build in (("land", F.land_reference), ("generate", F.generate_reference)):
            if stage in args.stages:
                run_points(build(work / f"{stage}-reference"), [stage], "local", args.timed, args.seed, work, reports, args.keep)
        on_s3 = [s for s in ("raw split", "spark clean") if s in args.stages]
        if on_s3 and not args.no_s3:
            s3_points(work, on_s3, args, reports)
        if pipeline and not args.no_disk:
            for stage in [s for s in F.DISK_FULL_WEEKS if s in args.stages]:
                try:
                    with F.small_disk(work / f"disk-{stage.replace(' ', '-')}", "48m") as disk:
                        report = F.disk_full_scenario(reference, stage, disk)
                except PermissionError as error:
                    print(f"disk full not injected ({error}): needs root to mount a tmpfs", flush=True)
                    break
                disk_reports.append(report)
                print(" | ".join(report.row()), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows = [r.row() for r in reports] + [r.row() for r in disk_reports]
    head = ["scenario", "injected where", "outcome", "rows lost", "rerun identical"]
    print()
    print("\n".join("| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in [head, ["---"] * 5, *rows]))
    failed = [r for r in reports if not r.ok] + [r for r in disk_reports if not disk_ok(r)]
    whole = sum(r.outcome.killed for r in reports)
    early = sum(not r.outcome.reached for r in reports)
    print(f"\n{len(reports)} kill scenarios ({whole} with the run's own process killed, {len(reports) - whole - early} "
          f"with only its JVM or dbt killed, {early} finished before the point), {len(disk_reports)} disk-full "
          f"scenarios; {len(failed)} failed; {(time.perf_counter() - began) / 60:.1f} min")
    return 1 if failed else 0


def disk_ok(report: F.DiskFullReport) -> bool:
    return (not report.success and F.names_the_disk(report.message, report.folder) and not report.problems
            and not report.diffs and report.rerun_identical)


def s3_points(work: Path, stages: list[str], args: argparse.Namespace, reports: list) -> None:
    import boto3

    from ecommerce_assets_tests.services import moto_server

    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"})
    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        reference = F.build_reference(work / "s3-reference", f"s3://{BUCKET}/reference", endpoint, ["raw split", "spark clean"])
        print("S3 reference run: " + ", ".join(f"{k} {v:.1f}" for k, v in reference.durations.items()), flush=True)
        run_points(reference, stages, "s3", args.timed, args.seed, work, reports, args.keep)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
