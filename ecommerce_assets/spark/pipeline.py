"""Clean a range of raw weeks in one Spark pass and publish each week's output atomically.

One read of all requested weeks (not one job per week) keeps a 31-week backfill to a handful of
Spark jobs on one session. Counts for the manifests come from the classified rows (persisted once)
and from the written Parquet, so the accounting check compares independent figures.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ecommerce_assets.lake import Lake, publish, read_manifest, write_manifest
from ecommerce_assets.spark.clean import classify, clean_events, read_raw, rejected_rows


@dataclass
class WeekCounts:
    raw_rows: int = 0
    valid_rows: int = 0
    clean_rows: int = 0
    rejected_rows: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def duplicates(self) -> int:
        return self.valid_rows - self.clean_rows

    def as_manifest(self) -> dict[str, object]:
        return {
            "raw_rows": self.raw_rows,
            "valid_rows": self.valid_rows,
            "clean_rows": self.clean_rows,
            "duplicates": self.duplicates,
            "rejected_rows": self.rejected_rows,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
        }


def clean_weeks(spark: SparkSession, lake: Lake, weeks: list[dt.date]) -> dict[dt.date, WeekCounts]:
    """Clean the raw files of ``weeks`` into ``clean/`` and ``quarantine/``; return per-week counts."""
    counts = {week: WeekCounts(raw_rows=int(read_manifest(lake.raw_week(week))["rows"])) for week in weeks}
    with_files = [w for w in weeks if any(lake.raw_week(w).glob("*.csv.gz"))]
    clean_stage, rejected_stage = lake.staging("clean"), lake.staging("rejected")
    try:
        if with_files:
            _write_outputs(spark, lake, with_files, weeks[0], clean_stage, rejected_stage, counts)
        for week, week_counts in counts.items():
            manifest = {"week": week.isoformat(), **week_counts.as_manifest()}
            for stage, final in ((clean_stage, lake.clean_week(week)), (rejected_stage, lake.rejected_week(week))):
                folder = stage / f"week={week.isoformat()}"
                folder.mkdir(exist_ok=True)
                write_manifest(folder, manifest)
                publish(folder, final)
    finally:
        # Published weeks were moved out; what remains is Spark's bookkeeping or a failed run's output.
        shutil.rmtree(clean_stage, ignore_errors=True)
        shutil.rmtree(rejected_stage, ignore_errors=True)
    return counts


def _write_outputs(
    spark: SparkSession,
    lake: Lake,
    weeks: list[dt.date],
    first_week: dt.date,
    clean_stage: Path,
    rejected_stage: Path,
    counts: dict[dt.date, WeekCounts],
) -> None:
    """One read of the weeks' raw files; classified rows persisted once and written to both outputs."""
    raw = read_raw(spark, [str(lake.raw_week(w)) for w in weeks], str(lake.raw_week(first_week).parent))
    classified = classify(raw).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for row in classified.groupBy("source_week", "reject_reason").count().collect():
            week_counts = counts[row["source_week"]]
            if row["reject_reason"] is None:
                week_counts.valid_rows += row["count"]
            else:
                week_counts.rejected_rows += row["count"]
                week_counts.rejected_by_reason[row["reject_reason"]] += row["count"]
        (
            rejected_rows(classified)
            .withColumn("week", F.col("source_week").cast("string"))
            .write.mode("overwrite")
            .partitionBy("week")
            .parquet(str(rejected_stage))
        )
        clean_events(classified).write.mode("overwrite").partitionBy("week").parquet(str(clean_stage))
    finally:
        classified.unpersist()
    for row in spark.read.parquet(str(clean_stage)).groupBy("week").count().collect():
        counts[dt.date.fromisoformat(str(row["week"]))].clean_rows = row["count"]
