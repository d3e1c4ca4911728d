"""Pure DataFrame transforms that turn raw weekly lines into clean events (no Dagster here).

Order of work: classify every row (first failing rule gives its ``reject_reason``), split valid from
rejected, drop exact duplicates among valid rows, impute brand and category_code, derive the
calendar columns and a deterministic ``event_id``. Every input row ends clean, duplicate or rejected.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ecommerce_assets.kaggle import COLUMNS, HEADER

EVENT_TYPES = ("view", "cart", "purchase", "remove_from_cart")
PRICE_TYPE = T.DecimalType(12, 2)

# Checked in this order; a row carries the first reason that applies.
REJECT_REASONS = (
    "malformed_line",
    "bad_event_time",
    "outside_week",
    "unknown_event_type",
    "missing_product_id",
    "invalid_product_id",
    "missing_category_id",
    "invalid_category_id",
    "missing_user_id",
    "invalid_user_id",
    "missing_price",
    "negative_price",
    "non_numeric_price",
)
UNKNOWN = "unknown"


def _lines(spark: SparkSession, paths: list[str], base_path: str) -> DataFrame:
    """Raw lines without the header; ``source_week`` comes from the ``week=YYYY-MM-DD`` folder name."""
    return (
        spark.read.option("basePath", base_path)
        .text(paths)
        .where(F.col("value") != HEADER)
        .withColumnRenamed("value", "raw_line")
        .withColumn("source_week", F.col("week").cast("string").cast("date"))
        .drop("week")
    )


def split_fields(lines: DataFrame) -> DataFrame:
    """Split lines into text fields by position.

    The dumps never quote, so a comma always separates fields; splitting the line ourselves (rather
    than Spark's CSV reader, which silently drops surplus fields) lets a line with the wrong number of
    fields be rejected as malformed. Every field stays text here; types are assigned in ``classify``.
    """
    fields = F.split("raw_line", ",", -1)
    return lines.select(
        "*",
        (F.size(fields) == len(COLUMNS)).alias("_well_formed"),
        *[F.nullif(F.get(fields, i), F.lit("")).alias(name) for i, name in enumerate(COLUMNS)],
    )


def read_raw(spark: SparkSession, paths: list[str], base_path: str) -> DataFrame:
    """Every raw line with its file and week, split into text fields (what the quarantine keeps)."""
    return split_fields(_lines(spark, paths, base_path).withColumn("source_file", F.col("_metadata.file_path")))


def _id(column: str, max_digits: int) -> tuple[Column, Column]:
    text = F.col(column)
    is_missing = text.isNull() | (F.trim(text) == "")
    parsed = F.when(text.rlike(rf"^[0-9]{{1,{max_digits}}}$"), text.try_cast("bigint"))
    return is_missing, parsed


def classify(raw: DataFrame) -> DataFrame:
    """Add typed columns and ``reject_reason`` (null for valid rows) to raw rows."""
    shape_ok = F.col("event_time").rlike(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
    # Casting the checked string is faster than a pattern parse; NTZ keeps the value in UTC as written.
    event_ts = F.when(shape_ok, F.substring("event_time", 1, 19).try_cast("timestamp_ntz"))
    week_start = F.col("source_week").cast("timestamp_ntz")
    week_end = F.date_add(F.col("source_week"), 7).cast("timestamp_ntz")
    product_missing, product_id = _id("product_id", 18)
    category_missing, category_id = _id("category_id", 19)
    user_missing, user_id = _id("user_id", 18)
    price_text = F.col("price")
    price = F.when(price_text.rlike(r"^[0-9]+(\.[0-9]{1,2})?$"), price_text.try_cast(PRICE_TYPE))

    reason = (
        F.when(~F.col("_well_formed"), "malformed_line")
        .when(F.col("_ts").isNull(), "bad_event_time")
        .when((F.col("_ts") < week_start) | (F.col("_ts") >= week_end), "outside_week")
        .when(~F.col("event_type").isin(*EVENT_TYPES) | F.col("event_type").isNull(), "unknown_event_type")
        .when(product_missing, "missing_product_id")
        .when(F.col("_product_id").isNull(), "invalid_product_id")
        .when(category_missing, "missing_category_id")
        .when(F.col("_category_id").isNull(), "invalid_category_id")
        .when(user_missing, "missing_user_id")
        .when(F.col("_user_id").isNull(), "invalid_user_id")
        .when(price_text.isNull() | (F.trim(price_text) == ""), "missing_price")
        .when(price_text.rlike(r"^\s*-"), "negative_price")
        .when(F.col("_price").isNull(), "non_numeric_price")
    )
    return (
        raw.withColumn("_ts", event_ts)
        .withColumn("_product_id", product_id)
        .withColumn("_category_id", category_id)
        .withColumn("_user_id", user_id)
        .withColumn("_price", price)
        .withColumn("reject_reason", reason)
    )


def rejected_rows(classified: DataFrame) -> DataFrame:
    """Rejected rows as they arrived, with the reason, file and week, for the quarantine."""
    return classified.where(F.col("reject_reason").isNotNull()).select(
        "raw_line",
        "reject_reason",
        "source_file",
        "source_week",
    )


def valid_rows(classified: DataFrame) -> DataFrame:
    """Valid rows with only what the clean table needs (the text fields and file path stay behind)."""
    return classified.where(F.col("reject_reason").isNull()).select(
        "source_week", "raw_line", "_ts", "event_type", "_product_id", "_category_id", "category_code",
        "brand", "_price", "_user_id", "user_session",
    )


def drop_exact_duplicates(valid: DataFrame) -> DataFrame:
    """Keep one copy of rows whose delivered text is identical (the dumps carry ~0.34% such copies).

    Rows are shuffled once, by (week, product): identical lines share their product, so the copies meet
    in one partition. Every column is a function of the line and its week, so ``distinct`` on all of
    them is the exact de-duplication, done by hashing (``dropDuplicates`` would sort the rows).
    """
    return valid.repartition("source_week", "_product_id").distinct()


def with_event_id(events: DataFrame) -> DataFrame:
    """Replace the delivered line by its MD5, ``event_id``: the line is unique after de-duplication, so
    its hash is a stable key across reruns, and later steps carry 32 characters instead of the line."""
    return events.withColumn("event_id", F.md5("raw_line")).drop("raw_line")


def _most_common(stats: DataFrame, key: str, value: str, alias: str) -> DataFrame:
    """Per (week, key): the most frequent non-null ``value``; ties go to the smallest value, for determinism."""
    counts = stats.where(F.col(value).isNotNull()).groupBy("source_week", key, value).agg(F.sum("count").alias("n"))
    rank = Window.partitionBy("source_week", key).orderBy(F.col("n").desc(), F.col(value).asc())
    return (
        counts.withColumn("_rank", F.row_number().over(rank))
        .where("_rank = 1")
        .select("source_week", key, F.col(value).alias(alias))
    )


def _key_map(stats: DataFrame, key: str, level: str) -> DataFrame:
    """Most common brand and category_code per (week, key), in one small table per key."""
    return _most_common(stats, key, "brand", f"_brand_{level}").join(
        _most_common(stats, key, "category_code", f"_category_code_{level}"), ["source_week", key], "full"
    )


def impute(events: DataFrame) -> DataFrame:
    """Fill brand and category_code: the product's most common value in the week, else the category's, else 'unknown'.

    The events are counted once by (week, product, category, brand, code); the four maps come from that
    small table and are broadcast, so the events are not shuffled again. ``events`` is read twice
    (counts, then the join): the pipeline persists it.
    """
    stats = events.groupBy("source_week", "_product_id", "_category_id", "brand", "category_code").count()
    by_product = _key_map(stats, "_product_id", "product")
    by_category = _key_map(stats, "_category_id", "category")
    out = events.join(F.broadcast(by_product), ["source_week", "_product_id"], "left").join(
        F.broadcast(by_category), ["source_week", "_category_id"], "left"
    )
    for column in ("brand", "category_code"):
        source = (
            F.when(F.col(column).isNotNull(), "observed")
            .when(F.col(f"_{column}_product").isNotNull(), "product")
            .when(F.col(f"_{column}_category").isNotNull(), "category")
            .otherwise("default")
        )
        out = (
            out.withColumn(f"{column}_source", source)
            .withColumn(f"{column}_imputed", F.col(f"{column}_source") != "observed")
            .withColumn(
                column,
                F.coalesce(F.col(column), F.col(f"_{column}_product"), F.col(f"_{column}_category"), F.lit(UNKNOWN)),
            )
            .drop(f"_{column}_product", f"_{column}_category")
        )
    return out


def shape_clean(imputed: DataFrame) -> DataFrame:
    """Typed, derived columns of the clean events table (``week`` is the output folder key)."""
    levels = F.split(F.col("category_code"), r"\.")
    return imputed.select(
        "event_id",
        F.col("_ts").alias("event_time"),
        F.to_date("_ts").alias("event_date"),
        F.hour("_ts").alias("event_hour"),
        F.date_trunc("week", "_ts").cast("date").alias("event_week"),
        "event_type",
        F.col("_product_id").alias("product_id"),
        F.col("_category_id").alias("category_id"),
        "category_code",
        "category_code_imputed",
        "category_code_source",
        F.get(levels, 0).alias("category_l1"),
        F.get(levels, 1).alias("category_l2"),
        F.get(levels, 2).alias("category_l3"),
        "brand",
        "brand_imputed",
        "brand_source",
        F.col("_price").alias("price"),
        F.col("_user_id").alias("user_id"),
        "user_session",
        F.col("source_week").cast("string").alias("week"),
    )


def clean_events(classified: DataFrame) -> DataFrame:
    """Valid, de-duplicated, imputed and shaped events from classified raw rows."""
    return shape_clean(impute(with_event_id(drop_exact_duplicates(valid_rows(classified)))))
