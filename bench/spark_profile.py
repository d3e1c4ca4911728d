"""Profile the Spark clean with Spark's own metrics, beside its floor, on a lake that holds raw weeks.

Runs, on one Spark session (started once, its start timed apart), the project's clean of the given weeks
(``clean_weeks``, into a scratch copy of the lake's layout) and the floor: a job that reads the same raw
lines and writes the clean table's columns with no rule (split, cast, md5; no classification,
de-duplication or imputation). Spark's event log of the session is then read back and, for each job,
each stage is printed with its wall time, task time, input, shuffle write / read, spill and output bytes.
With ``--reference``, the DuckDB reference clean runs on the same files after Spark, for ratios from one run.

    python bench/spark_profile.py --lake data/bench/scale-1-2020-01-13-1w/lake --week 2020-01-13

The lake is only read: output goes to ``--out`` (a temporary folder by default), deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _stage_table(event_log: Path) -> list[dict[str, object]]:
    """Per completed stage: its job's description, wall and task seconds and byte figures, from the log."""
    jobs: dict[int, str] = {}
    stage_job: dict[int, int] = {}
    stages: dict[int, dict[str, object]] = {}
    metrics: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in event_log.read_text().splitlines():  # one JSON event per line
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerJobStart":
            props = event.get("Properties") or {}
            jobs[event["Job ID"]] = props.get("spark.job.description") or props.get("callSite.short") or ""
            for stage_id in event["Stage IDs"]:
                stage_job[stage_id] = event["Job ID"]
        elif kind == "SparkListenerTaskEnd" and event.get("Task Metrics"):
            m, sid = event["Task Metrics"], event["Stage ID"]
            info = event["Task Info"]
            total = metrics[sid]
            total["task_s"] += (info["Finish Time"] - info["Launch Time"]) / 1000
            total["input"] += m.get("Input Metrics", {}).get("Bytes Read", 0)
            total["output"] += m.get("Output Metrics", {}).get("Bytes Written", 0)
            total["shuffle_write"] += m.get("Shuffle Write Metrics", {}).get("Shuffle Bytes Written", 0)
            read = m.get("Shuffle Read Metrics", {})
            total["shuffle_read"] += read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0)
            total["spill"] += m.get("Disk Bytes Spilled", 0)
            total["gc_s"] += m.get("JVM GC Time", 0) / 1000
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            if "Submission Time" in info and "Completion Time" in info:
                stages[info["Stage ID"]] = {
                    "stage": info["Stage ID"], "name": info["Stage Name"], "tasks": info["Number of Tasks"],
                    "wall_s": (info["Completion Time"] - info["Submission Time"]) / 1000,
                }
    rows = []
    for sid, stage in sorted(stages.items()):
        job = stage_job.get(sid, -1)
        rows.append({**stage, "job": job, "job_name": jobs.get(job, ""), **metrics[sid]})
    return rows


def _print_stages(title: str, rows: list[dict[str, object]]) -> None:
    mb = 1e6
    print(f"\n{title}")
    print(f"{'job':>4} {'stage':>5} {'tasks':>5} {'wall s':>7} {'task s':>7} {'gc s':>5} {'input MB':>9} "
          f"{'shuf w MB':>9} {'shuf r MB':>9} {'spill MB':>9} {'out MB':>8}  name")
    for r in rows:
        print(f"{r['job']:>4} {r['stage']:>5} {r['tasks']:>5} {r['wall_s']:7.1f} {r['task_s']:7.1f} {r['gc_s']:5.1f} "
              f"{r['input'] / mb:9.0f} {r['shuffle_write'] / mb:9.0f} {r['shuffle_read'] / mb:9.0f} "
              f"{r['spill'] / mb:9.0f} {r['output'] / mb:8.0f}  {str(r['name'])[:60]}")
    print(f"{'':>4} {'all':>5} {'':>5} {sum(r['wall_s'] for r in rows):7.1f} {sum(r['task_s'] for r in rows):7.1f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="a lake folder whose raw/events holds the week(s)")
    parser.add_argument("--week", required=True, help="first week, a Monday")
    parser.add_argument("--weeks", type=int, default=1)
    parser.add_argument("--out", help="scratch folder (default: a temporary one); deleted at the end")
    parser.add_argument("--skip-floor", action="store_true", help="profile the clean only")
    parser.add_argument("--reference", action="store_true",
                        help="also run the DuckDB reference clean (ecommerce_assets_tests/reference_clean.py) after Spark, for ratios from one run")
    args = parser.parse_args(argv)

    source = Path(args.lake).resolve()
    scratch = Path(args.out or tempfile.mkdtemp(prefix="spark-profile-"))
    events = scratch / "events"
    events.mkdir(parents=True, exist_ok=True)
    # The clean reads the raw weeks where they are (a symlink) and publishes into the scratch lake.
    lake_root = scratch / "lake"
    (lake_root / "raw").mkdir(parents=True, exist_ok=True)
    (lake_root / "raw" / "events").symlink_to(source / "raw" / "events")
    os.environ.update({"ECOMMERCE_LAKE": str(lake_root), "ECOMMERCE_DATA_DIR": str(scratch),
                       "SPARK_LOCAL_IP": "127.0.0.1"})

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from ecommerce_assets.lib.lake import Lake
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets.lib.spark.config import spark_config
    from ecommerce_assets.lib.spark.pipeline import clean_weeks
    from ecommerce_assets.lib.spark.rules import read_raw

    weeks = [dt.date.fromisoformat(args.week) + dt.timedelta(days=7 * i) for i in range(args.weeks)]
    config = spark_config(load_settings()) | {
        "spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false",
    }
    began = time.perf_counter()
    builder = SparkSession.builder
    for key, value in config.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    session_s = time.perf_counter() - began
    try:
        spark.sparkContext.setJobDescription("clean")
        began = time.perf_counter()
        counts = clean_weeks(spark, Lake(lake_root), weeks)
        clean_s = time.perf_counter() - began
        floor_s = float("nan")
        if not args.skip_floor:
            spark.sparkContext.setJobDescription("floor")
            paths = [str(p) for w in weeks for p in (source / "raw" / "events" / f"week={w}").glob("*.csv.gz")]
            began = time.perf_counter()
            (
                read_raw(spark, paths, str(source / "raw" / "events"))
                .select(
                    F.md5("raw_line").alias("event_id"),
                    F.substring("event_time", 1, 19).try_cast("timestamp_ntz").alias("event_time"),
                    "event_type",
                    F.col("product_id").try_cast("bigint").alias("product_id"),
                    F.col("category_id").try_cast("bigint").alias("category_id"),
                    "category_code", "brand",
                    F.col("price").try_cast("decimal(12,2)").alias("price"),
                    F.col("user_id").try_cast("bigint").alias("user_id"),
                    "user_session",
                    F.col("source_week").cast("string").alias("week"),
                )
                .write.mode("overwrite").partitionBy("week").parquet(str(scratch / "floor"))
            )
            floor_s = time.perf_counter() - began
    finally:
        spark.stop()
    reference_s = float("nan")
    if args.reference:
        from ecommerce_assets_tests.reference_clean import reference_clean

        raw_files = sorted(str(p) for w in weeks for p in (source / "raw" / "events" / f"week={w}").glob("*.csv.gz"))
        reference_s = reference_clean(raw_files, scratch / "reference", scratch / "reference-tmp")["seconds"]
    (log,) = [p for p in events.rglob("*") if p.is_file() and not p.name.startswith("appstatus")]
    rows = _stage_table(log)
    raw_rows = sum(c.raw_rows for c in counts.values())
    _print_stages("clean (clean_weeks) stages", [r for r in rows if r["job_name"] == "clean"])
    if not args.skip_floor:
        _print_stages("floor (read, split, cast, md5, write; no rules) stages", [r for r in rows if r["job_name"] == "floor"])
    print(f"\nsession start {session_s:.1f} s; clean {clean_s:.1f} s ({raw_rows / clean_s / 1e6:.2f} M rows/s, "
          f"{clean_s / raw_rows * 1e6:.2f} s per M); floor {floor_s:.1f} s; clean / floor {clean_s / floor_s:.2f}x")
    if args.reference:
        print(f"reference clean (DuckDB) {reference_s:.1f} s: clean / reference {clean_s / reference_s:.2f}x, "
              f"floor / reference {floor_s / reference_s:.2f}x")
    for week, c in counts.items():
        print(f"{week}: raw {c.raw_rows:,} clean {c.clean_rows:,} duplicates {c.duplicates:,} rejected {c.rejected_rows:,}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
