"""Where a quarantined row came from: its landing file as delivered and its line there (header = line 1).

The raw split writes a line map beside each raw part (``lake.LINE_MAP_SUFFIX``): one row per run of
consecutive landing lines, ``(part_line, landing_file, landing_line)``. Spark knows each row's part; its
line in the part comes from ``monotonically_increasing_id`` taken before the header is dropped
(``rules.read_raw(..., positions=True)``): a gzip part is not splittable, so one task reads it whole and
in order, and a line's id minus its header's is its distance from the header. The lookup runs only on
the rejected rows, the parts' headers and the runs, so the one shuffle it needs moves a few rows, and
the clean path never computes any of it. No Dagster here.
"""

from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ecommerce_assets.lib.lake import LINE_MAP_COLUMNS, LINE_MAP_SUFFIX, RAW_SUFFIX

LINE_MAP_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType() if name == "landing_file" else T.LongType()) for name in LINE_MAP_COLUMNS]
)


def read_line_maps(spark: SparkSession, paths: list[str]) -> DataFrame:
    """The parts' line maps, each run keyed by its part's path as Spark names the part (``source_file``)."""
    if not paths:
        return spark.createDataFrame([], LINE_MAP_SCHEMA).withColumn("source_file", F.lit(None).cast("string"))
    return (
        spark.read.schema(LINE_MAP_SCHEMA)
        .options(header=True, escape='"', mode="FAILFAST")  # written by Python's csv module
        .csv(paths)
        .withColumn(
            "source_file", F.regexp_replace(F.col("_metadata.file_path"), re.escape(LINE_MAP_SUFFIX) + "$", RAW_SUFFIX)
        )
    )


def with_landing_lines(rejected: DataFrame, line_maps: DataFrame) -> DataFrame:
    """Rejected rows (``rules.rejected_rows(..., positions=True)``) with ``landing_file`` and ``landing_line``.

    A row's line in its part is its id minus its header's, plus one (the header is line 1). Its run is
    the last run starting at or before that line: runs and rows go into one window per part, ordered by
    line with a run before a row on the same line, and each row takes the last run seen (an as-of
    lookup). Its landing line is the run's plus its distance from the run's start. A part without a
    line map (a raw week split before they existed) gives nulls until raw_events is rematerialized.
    """
    runs = line_maps.select(
        "source_file",
        "part_line",
        F.col("part_line").alias("_run_start"),
        F.col("landing_file").alias("_run_file"),
        F.col("landing_line").alias("_run_line"),
        F.lit(False).alias("_header"),
    )
    by_part = Window.partitionBy("source_file")
    header_id = F.min(F.when(F.col("_header"), F.col("_row_id"))).over(by_part)
    numbered = (
        rejected.withColumn("part_line", F.lit(None).cast("long"))
        .unionByName(runs, allowMissingColumns=True)
        .withColumn("part_line", F.coalesce(F.col("part_line"), F.col("_row_id") - header_id + 1))
        .where(~F.col("_header"))
    )
    upto = by_part.orderBy("part_line", F.col("_run_start").isNotNull().desc()).rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    run_start = F.last("_run_start", ignorenulls=True).over(upto)
    run_line = F.last("_run_line", ignorenulls=True).over(upto)
    columns = [c for c in rejected.columns if c not in ("_row_id", "_header")]
    return (
        numbered.select(
            "*",
            F.last("_run_file", ignorenulls=True).over(upto).alias("landing_file"),
            (run_line + F.col("part_line") - run_start).alias("landing_line"),
        )
        .where(F.col("_run_start").isNull())
        .select(*columns, "landing_file", "landing_line")
    )
