"""Clean a range of raw weeks in one Spark pass and publish each week's output atomically.

One read per batch of weeks (not one job per week) keeps a 31-week backfill to a handful of Spark
jobs on one session. Counts for the manifests come from the cleaning query itself (valid and rejected
rows, observed while the files are read) and from the written Parquet (clean rows), so the accounting
check compares independent figures.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ecommerce_assets.lib.batching import week_batches
from ecommerce_assets.lib.lake import LINE_MAP_SUFFIX, RAW_SUFFIX, LakeStore, MissingPartition, PartitionReplaced, S3Lake
from ecommerce_assets.lib.settings import s3a_url
from ecommerce_assets.lib.spark.lineage import read_line_maps, with_landing_lines
from ecommerce_assets.lib.spark.rules import (
    classify,
    drop_exact_duplicates,
    impute,
    in_clean_order,
    read_raw,
    rejected_rows,
    shape_clean,
    valid_rows,
    with_event_id,
)

# Unique ids do not dictionary-encode: trying only costs time.
_NO_DICTIONARY = {"parquet.enable.dictionary#event_id": "false"}
# The published clean files: zstd (39% smaller than snappy on the same rows), rows in ``in_clean_order``.
PARQUET_OPTIONS = {"compression": "zstd", **_NO_DICTIONARY}
_WEEK_FOLDER = re.compile(r"/week=(\d{4}-\d{2}-\d{2})/")


def clean_events(
    classified: DataFrame, checkpoint: Callable[[DataFrame], DataFrame] = lambda events: events
) -> DataFrame:
    """Clean events from classified rows: valid rows, de-duplicated, keyed by ``event_id``, imputed, shaped,
    in the order they are written (``in_clean_order``).

    The one composition of the rules, run by ``clean_weeks`` and by the tests. ``checkpoint`` receives
    the de-duplicated events before imputation reads them twice; production persists them there.
    """
    events = checkpoint(drop_exact_duplicates(with_event_id(valid_rows(classified))))
    return in_clean_order(shape_clean(impute(events)))


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


def clean_weeks(
    spark: SparkSession, lake: LakeStore, weeks: list[dt.date], s3a: Callable[[str], str] | None = None,
    published: Callable[[dict[dt.date, WeekCounts]], None] = lambda counts: None,
) -> dict[dt.date, WeekCounts]:
    """Clean the raw files of ``weeks`` into ``clean/`` and ``quarantine/``; return per-week counts.

    Each batch of weeks is published as soon as Spark has written it, and ``published`` is told its
    counts: a long backfill then holds one batch in staging, and what the caller frees per clean week
    (the raw parts, under ``until_clean``) goes batch by batch rather than at the end.

    Spark reads and writes local folders, except on a cluster image with s3a (``s3a`` maps a lake key to
    its s3a:// URL), where it reads the week's objects in place and writes to an S3 staging prefix.
    """
    read = {week: lake.read_manifest(lake.raw_week(week)) for week in weeks}
    counts = {week: WeekCounts(raw_rows=int(manifest["rows"])) for week, manifest in read.items()}
    unchanged = partial(_raw_unchanged, lake, read)
    done: list[dt.date] = []

    def publish(weeks: list[dt.date], stage: Callable[[str, dt.date], Callable[[str, dict[str, Any]], None]]) -> None:
        if not (batch := [week for week in weeks if week not in done]):
            return
        for week in batch:
            manifest = {"week": week.isoformat(), **counts[week].as_manifest()}
            for kind, key in (("clean", lake.clean_week(week)), ("rejected", lake.rejected_week(week))):
                stage(kind, week)(key, manifest)
        done.extend(batch)
        published({week: counts[week] for week in batch})

    if s3a is not None:
        assert isinstance(lake, S3Lake)
        _clean_in_place(spark, lake, weeks, counts, s3a, unchanged, publish)
        return counts
    clean_stage, rejected_stage = lake.staging("clean"), lake.staging("rejected")

    def local_stage(kind: str, week: dt.date) -> Callable[[str, dict[str, Any]], None]:
        folder = (clean_stage if kind == "clean" else rejected_stage) / f"week={week.isoformat()}"
        folder.mkdir(exist_ok=True)  # a week without rows still gets its (empty) published partition
        return partial(lake.publish, folder)

    try:
        # A local lake is read where it is; an S3 lake's weeks are staged locally first, each part with
        # its line map (same folder, same name stem).
        with lake.local_files([lake.raw_week(w) for w in weeks], (RAW_SUFFIX, LINE_MAP_SUFFIX)) as raw_files:
            staged = [p for files in raw_files.values() for p in files]
            paths = [p for p in staged if p.endswith(RAW_SUFFIX)]
            line_maps = [p for p in staged if p.endswith(LINE_MAP_SUFFIX)]
            if paths:
                base = str(Path(paths[0]).parent.parent)  # .../raw/events, above the week=... folders
                _write_outputs(spark, paths, line_maps, base, str(clean_stage), str(rejected_stage), counts,
                               unchanged, partial(publish, stage=local_stage))
        publish(weeks, local_stage)  # the weeks without a raw file (empty weeks), published empty
    finally:
        # Published weeks were moved out; what remains is Spark's bookkeeping or a failed run's output.
        lake.discard(clean_stage)
        lake.discard(rejected_stage)
    return counts


@contextmanager
def _raw_unchanged(lake: LakeStore, read: dict[dt.date, dict[str, Any]], weeks: list[dt.date]) -> Iterator[None]:
    """Around Spark's read of raw ``weeks``: if one was published again meanwhile (its manifest's generation
    changed), Spark may have read files of both versions, or failed on a file that went: PartitionReplaced,
    whatever Spark raised, so the step can run again on the current version."""
    try:
        yield
    finally:
        replaced = [week for week in weeks if _manifest_or_none(lake, lake.raw_week(week)) != read[week]]
        if replaced:
            names = ", ".join(lake.raw_week(week) for week in replaced)
            raise PartitionReplaced(f"{names} published again while this run read it; its output is discarded")


def _manifest_or_none(lake: LakeStore, key: str) -> dict[str, Any] | None:
    try:
        return lake.read_manifest(key)
    except MissingPartition:
        return None


def _clean_in_place(
    spark: SparkSession, lake: S3Lake, weeks: list[dt.date], counts: dict[dt.date, WeekCounts], s3a: Callable[[str], str],
    unchanged: Callable[[list[dt.date]], AbstractContextManager[None]], publish: Callable[..., None],
) -> None:
    """Cluster image with s3a: read the weeks' current objects, write to a staging prefix, publish by copy."""
    paths = [s3a_url(lake_url) for w in weeks for lake_url in lake.files(lake.raw_week(w), RAW_SUFFIX)]
    line_maps = [s3a_url(lake_url) for w in weeks for lake_url in lake.files(lake.raw_week(w), LINE_MAP_SUFFIX)]
    staging = f"_staging/clean-{uuid.uuid4().hex[:12]}"

    def s3_stage(kind: str, week: dt.date) -> Callable[[str, dict[str, Any]], None]:
        return partial(lake.publish_objects, f"{staging}/{kind}/week={week.isoformat()}")

    try:
        if paths:
            _write_outputs(spark, paths, line_maps, s3a("raw/events"), s3a(f"{staging}/clean"), s3a(f"{staging}/rejected"),
                           counts, unchanged, partial(publish, stage=s3_stage))
        publish(weeks, s3_stage)  # the weeks without a raw file (empty weeks), published empty
    finally:
        lake.delete_prefix(staging)


def _write_outputs(
    spark: SparkSession,
    raw_paths: list[str],
    line_maps: list[str],
    raw_base: str,
    clean_out: str,
    rejected_out: str,
    counts: dict[dt.date, WeekCounts],
    unchanged: Callable[[list[dt.date]], AbstractContextManager[None]],
    publish: Callable[[list[dt.date]], None],
) -> None:
    """Clean the weeks' raw files into ``clean_out`` and ``rejected_out`` (partitioned by ``week``),
    batch by batch, and ``publish`` each batch once written.

    Weeks go in batches of about ``BATCH_ROWS`` raw rows so that the per-week imputation maps stay small.
    A batch's weeks are published only if their raw versions did not change while Spark read them
    (``unchanged``).
    """
    by_week: dict[dt.date, list[str]] = {}
    for path in raw_paths:
        by_week.setdefault(_week_of(path), []).append(path)
    maps_by_week: dict[dt.date, list[str]] = {}
    for path in line_maps:
        maps_by_week.setdefault(_week_of(path), []).append(path)
    for index, weeks in enumerate(week_batches({w: c.raw_rows for w, c in counts.items()}, sorted(by_week))):
        with unchanged(weeks):
            _write_batch(spark, weeks, [p for week in weeks for p in by_week[week]],
                         [p for week in weeks for p in maps_by_week.get(week, [])], raw_base, clean_out, rejected_out, counts, index)
        publish(weeks)


def _write_batch(
    spark: SparkSession, weeks: list[dt.date], paths: list[str], line_maps: list[str], raw_base: str,
    clean_out: str, rejected_out: str, counts: dict[dt.date, WeekCounts], index: int,
) -> None:
    """One query for a batch of weeks, one shuffle of the events: valid and rejected rows are counted (an
    observation on the same query, not a second pass); the quarantine is written by a second read only
    for a batch that has rejected rows, which real dumps rarely do (``line_maps``, the parts' line maps,
    serve that read alone). Clean rows are counted from what was written."""
    rows = Observation("rows")
    classified = classify(read_raw(spark, paths, raw_base))
    valid = F.col("reject_reason").isNull()
    observed = classified.observe(
        rows,
        *[F.count_if(valid & (F.col("source_week") == week)).alias(f"valid {week}") for week in weeks],
        *[F.count_if(~valid & (F.col("source_week") == week)).alias(f"rejected {week}") for week in weeks],
    )
    # The de-duplicated events are written once as plain Parquet and read back: imputation reads
    # them twice (a five-column count for its maps, then the join), which from columnar files is
    # cheap, where recomputing the shuffle or Spark's cache costs more than the whole write (and a
    # plan that reads the shuffle twice did not reuse it: Spark ran the read and the shuffle twice).
    # Not named "_...": Spark ignores such a path when reading it back (warning "All paths were
    # ignored"). It is deleted before anything reads clean_out as a whole.
    events_out = f"{clean_out.rstrip('/')}/deduplicated-{index}"

    def persisted(events: DataFrame) -> DataFrame:
        events.write.mode("overwrite").options(**_NO_DICTIONARY).parquet(events_out)
        return spark.read.parquet(events_out)

    try:
        (
            clean_events(observed, checkpoint=persisted)
            .write.mode("append")
            .options(**PARQUET_OPTIONS)
            .partitionBy("week")
            .parquet(clean_out)
        )
    finally:
        _delete(spark, events_out)
    metrics = rows.get
    for week in weeks:
        counts[week].valid_rows += metrics[f"valid {week}"]
    if any(metrics[f"rejected {week}"] for week in weeks):
        _write_rejected(spark, paths, line_maps, raw_base, rejected_out, weeks, counts)
    # A week with valid rows keeps at least one after de-duplication, so it has a folder to count.
    if written := [f"{clean_out.rstrip('/')}/week={week.isoformat()}" for week in weeks if counts[week].valid_rows]:
        for row in spark.read.option("basePath", clean_out).parquet(*written).groupBy("week").count().collect():
            counts[dt.date.fromisoformat(str(row["week"]))].clean_rows = row["count"]


def _write_rejected(
    spark: SparkSession, paths: list[str], line_maps: list[str], raw_base: str, rejected_out: str,
    weeks: list[dt.date], counts: dict[dt.date, WeekCounts],
) -> None:
    """Quarantine a batch's rejected rows with the landing file and line of each, and count them by
    reason from what was written."""
    rejected = rejected_rows(classify(read_raw(spark, paths, raw_base, positions=True)), positions=True)
    (
        with_landing_lines(rejected, read_line_maps(spark, line_maps))
        .withColumn("week", F.col("source_week").cast("string"))
        .write.mode("append")
        .option("compression", "zstd")
        .partitionBy("week")
        .parquet(rejected_out)
    )
    written = spark.read.parquet(rejected_out).where(F.col("week").isin(*[w.isoformat() for w in weeks]))
    for row in written.groupBy("week", "reject_reason").count().collect():
        week_counts = counts[dt.date.fromisoformat(str(row["week"]))]
        week_counts.rejected_rows += row["count"]
        week_counts.rejected_by_reason[row["reject_reason"]] += row["count"]


def _delete(spark: SparkSession, path: str) -> None:
    """Remove a folder Spark wrote, through Hadoop's filesystem (local or s3a alike)."""
    jvm_path = spark._jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
    jvm_path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(jvm_path, True)  # type: ignore[union-attr]


def _week_of(path: str) -> dt.date:
    match = _WEEK_FOLDER.search(path)
    if match is None:
        raise ValueError(f"{path}: raw file outside a week=YYYY-MM-DD folder")
    return dt.date.fromisoformat(match[1])
