"""The cleaning rules as pure DataFrame transforms: parsing, typing, reject reasons, de-duplication, imputation.

Order of work (composed by ``pipeline.clean_events``): classify every row (first failing rule gives its
``reject_reason``), split valid from rejected, key valid rows by a deterministic ``event_id`` (the line's
MD5), drop exact duplicates, impute brand (from the product) and category_code (from the product, then
the category), derive the calendar columns. Every input row ends clean, duplicate or rejected. No
Dagster here.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ecommerce_assets.lib.kaggle import COLUMNS, EVENT_TYPES, HEADER

PRICE_TYPE = T.DecimalType(12, 2)
UNKNOWN = "unknown"
# Free-text fields (category_code, brand, user_session) are ~40 bytes at most in the dumps.
TEXT_MAX_BYTES = 255


def _blank(column: str) -> Column:
    """The text field is absent or only spaces: the value is missing rather than invalid."""
    text = F.col(column)
    return text.isNull() | (F.trim(text) == "")


def _bad_text(column: str) -> Column:
    """A free-text field with a control character (a NUL of a damaged file, ...) or longer than any real
    value (a 10 MB "session"): nothing downstream should carry it. Null (absent) is fine."""
    text = F.col(column)
    return text.rlike(r"[\x00-\x1f\x7f]") | (F.octet_length(text) > TEXT_MAX_BYTES)


def _outside_week() -> Column:
    """``_ts`` outside the half-open window [source_week, source_week + 7 days)."""
    week_start = F.col("source_week").cast("timestamp_ntz")
    week_end = F.date_add(F.col("source_week"), 7).cast("timestamp_ntz")
    return (F.col("_ts") < week_start) | (F.col("_ts") >= week_end)


# Checked in this order: a row carries the first reason whose predicate holds. Predicates read the text
# fields and the typed ``_`` columns ``classify`` adds; they are functions because a Column can only be
# built once Spark runs. ecommerce_assets_tests/reference_clean.py takes this order and keys its SQL by these names.
REJECT_RULES: tuple[tuple[str, Callable[[], Column]], ...] = (
    ("malformed_line", lambda: ~F.col("_well_formed")),
    ("bad_event_time", lambda: F.col("_ts").isNull()),
    ("outside_week", _outside_week),
    ("unknown_event_type", lambda: ~F.col("event_type").isin(*EVENT_TYPES) | F.col("event_type").isNull()),
    ("missing_product_id", lambda: _blank("product_id")),
    ("invalid_product_id", lambda: F.col("_product_id").isNull()),
    ("missing_category_id", lambda: _blank("category_id")),
    ("invalid_category_id", lambda: F.col("_category_id").isNull()),
    ("missing_user_id", lambda: _blank("user_id")),
    ("invalid_user_id", lambda: F.col("_user_id").isNull()),
    ("missing_price", lambda: _blank("price")),
    # Spaces and tabs spelled out: Java's \s also matches \x0B, RE2's (the reference's) does not.
    ("negative_price", lambda: F.col("price").rlike(r"^[ \t]*-")),
    ("non_numeric_price", lambda: F.col("_price").isNull()),
    ("invalid_category_code", lambda: _bad_text("category_code")),
    ("invalid_brand", lambda: _bad_text("brand")),
    ("invalid_user_session", lambda: _bad_text("user_session")),
)
REJECT_REASONS = tuple(reason for reason, _ in REJECT_RULES)


def _lines(spark: SparkSession, paths: list[str], base_path: str, positions: bool = False) -> DataFrame:
    """Raw lines without the header; ``source_week`` comes from the ``week=YYYY-MM-DD`` folder name.

    With ``positions`` (the quarantine's read only), every line gets ``_row_id`` before any filter, and
    the headers stay, flagged ``_header``: a gzip part is read whole by one task, in order, so the ids of
    a file's lines are consecutive from its header's (``lineage.with_landing_lines`` numbers lines so).
    """
    text = spark.read.option("basePath", base_path).text(paths)
    if positions:
        text = text.withColumn("_row_id", F.monotonically_increasing_id()).withColumn("_header", F.col("value") == HEADER)
    else:
        text = text.where(F.col("value") != HEADER)
    return (
        text.withColumnRenamed("value", "raw_line")
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


def read_raw(spark: SparkSession, paths: list[str], base_path: str, positions: bool = False) -> DataFrame:
    """Every raw line with its file and week, split into text fields (what the quarantine keeps);
    ``positions`` as in ``_lines``."""
    lines = _lines(spark, paths, base_path, positions)
    return split_fields(lines.withColumn("source_file", F.col("_metadata.file_path")))


def _id(column: str, max_digits: int) -> Column:
    text = F.col(column)
    return F.when(text.rlike(rf"^[0-9]{{1,{max_digits}}}$"), text.try_cast("bigint"))


def _reject_reason() -> Column:
    """``REJECT_RULES`` as one CASE WHEN chain (null when no predicate holds)."""
    (first, first_predicate), *rest = REJECT_RULES
    reason = F.when(first_predicate(), first)
    for name, predicate in rest:
        reason = reason.when(predicate(), name)
    return reason


def classify(raw: DataFrame) -> DataFrame:
    """Add typed columns and ``reject_reason`` (null for valid rows) to raw rows."""
    shape_ok = F.col("event_time").rlike(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
    # Casting the checked string is faster than a pattern parse; NTZ keeps the value in UTC as written.
    event_ts = F.when(shape_ok, F.substring("event_time", 1, 19).try_cast("timestamp_ntz"))
    price_text = F.col("price")
    price = F.when(price_text.rlike(r"^[0-9]+(\.[0-9]{1,2})?$"), price_text.try_cast(PRICE_TYPE))
    return (
        raw.withColumn("_ts", event_ts)
        .withColumn("_product_id", _id("product_id", 18))
        .withColumn("_category_id", _id("category_id", 19))
        .withColumn("_user_id", _id("user_id", 18))
        .withColumn("_price", price)
        .withColumn("reject_reason", _reject_reason())
    )


def rejected_rows(classified: DataFrame, positions: bool = False) -> DataFrame:
    """Rejected rows as they arrived, with the reason, raw file and week, for the quarantine.

    From rows read with ``positions``, each part's header row is kept too, and every row's ``_row_id``:
    ``lineage.with_landing_lines`` numbers the rejected rows from them, then drops the headers.
    """
    columns = ["raw_line", "reject_reason", "source_file", "source_week"]
    rejected = F.col("reject_reason").isNotNull()
    if positions:
        return classified.where(rejected | F.col("_header")).select(*columns, "_row_id", "_header")
    return classified.where(rejected).select(*columns)


def valid_rows(classified: DataFrame) -> DataFrame:
    """Valid rows with only what the clean table needs (the text fields and file path stay behind)."""
    return classified.where(F.col("reject_reason").isNull()).select(
        "source_week", "raw_line", "_ts", "event_type", "_product_id", "_category_id", "category_code",
        "brand", "_price", "_user_id", "user_session",
    )


def with_event_id(valid: DataFrame) -> DataFrame:
    """Replace the delivered line by its MD5, ``event_id``: a stable key across reruns (the line is unique
    once exact copies are dropped), and 32 characters to carry instead of the ~130 of the line, through
    the de-duplication's shuffle too."""
    return valid.withColumn("event_id", F.md5("raw_line")).drop("raw_line")


def drop_exact_duplicates(events: DataFrame) -> DataFrame:
    """Keep one copy of rows whose delivered text is identical (the dumps carry ~0.34% such copies).

    Rows are shuffled once, by (week, user): identical lines share their user, so the copies meet in one
    partition, and each user's events end in one partition, where the write orders them by user and time
    (``in_clean_order``): that order is what makes the clean files compress. Two rows are equal exactly when
    their lines are (``event_id`` is the line's MD5, every other column a function of the line and its
    week), so ``distinct`` on all columns is the exact de-duplication, done by hashing within the
    partitions (``dropDuplicates`` would sort the rows).
    """
    return events.repartition("source_week", "_user_id").distinct()


def _most_common(stats: DataFrame, key: str, value: str, alias: str) -> DataFrame:
    """Per (week, key): the most frequent non-null ``value``; ties go to the smallest value, for determinism."""
    counts = stats.where(F.col(value).isNotNull()).groupBy("source_week", key, value).agg(F.sum("count").alias("n"))
    rank = Window.partitionBy("source_week", key).orderBy(F.col("n").desc(), F.col(value).asc())
    return (
        counts.withColumn("_rank", F.row_number().over(rank))
        .where("_rank = 1")
        .select("source_week", key, F.col(value).alias(alias))
    )


def _key_map(stats: DataFrame, key: str, level: str, columns: tuple[str, ...]) -> DataFrame:
    """Most common value of each of ``columns`` per (week, key), in one small table per key."""
    maps = [_most_common(stats, key, column, f"_{column}_{level}") for column in columns]
    out = maps[0]
    for other in maps[1:]:
        out = out.join(other, ["source_week", key], "full")
    return out


# Where a missing value may be taken from, in order. A brand is a property of the product, so only the
# product's own brand fills it; a category code is a property of the category as well.
IMPUTATION_LEVELS = {"brand": ("product",), "category_code": ("product", "category")}


def impute(events: DataFrame) -> DataFrame:
    """Fill brand and category_code from the same week's events, else 'unknown'.

    brand: the product's most common observed brand in the week (ties: the smallest). category_code: the
    product's most common code in the week, else the category_id's. The week is the scope on purpose: a
    week's rows then depend only on that week's lines, so a rerun, a replay or weeks arriving out of order
    give the same rows, and a later week never rewrites a published one.

    The events are counted once by (week, product, category, brand, code); the maps come from that small
    table and are broadcast, so the events are not shuffled again. ``events`` is read twice (counts, then
    the join): the pipeline persists it.
    """
    stats = events.groupBy("source_week", "_product_id", "_category_id", "brand", "category_code").count()
    by_product = _key_map(stats, "_product_id", "product", ("brand", "category_code"))
    by_category = _key_map(stats, "_category_id", "category", ("category_code",))
    out = events.join(F.broadcast(by_product), ["source_week", "_product_id"], "left").join(
        F.broadcast(by_category), ["source_week", "_category_id"], "left"
    )
    for column, levels in IMPUTATION_LEVELS.items():
        source = F.when(F.col(column).isNotNull(), "observed")
        for level in levels:
            source = source.when(F.col(f"_{column}_{level}").isNotNull(), level)
        filled = [F.col(f"_{column}_{level}") for level in levels]
        out = (
            out.withColumn(f"{column}_source", source.otherwise("default"))
            .withColumn(f"{column}_imputed", F.col(f"{column}_source") != "observed")
            .withColumn(column, F.coalesce(F.col(column), *filled, F.lit(UNKNOWN)))
            .drop(*[f"_{column}_{level}" for level in levels])
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
        # A date: its folder name is the same as a string's, and it sorts as a number (in_clean_order).
        F.col("source_week").alias("week"),
    )


def in_clean_order(clean: DataFrame) -> DataFrame:
    """Order the rows of each partition as they are written: by week, user, time, then event_id (so a rerun
    writes the same rows in the same order). Sessions, users and times then come in long runs, which
    makes zstd's files 13% smaller.

    User and time go into one long, ``user_id * 2^20 + second of the week`` (event times are whole
    seconds, and a week has fewer than 2^20): Spark compares two numbers per row where comparing the four
    columns made the sort cost a third of the write. A user_id from 2^43 (none in the dumps) has no key
    and sorts first: the order serves compression, not correctness.
    """
    second = F.unix_seconds(F.col("event_time").cast("timestamp")) - F.unix_seconds(F.col("week").cast("timestamp"))
    user_second = F.when(F.col("user_id") < 1 << 43, F.col("user_id") * (1 << 20) + second)
    return clean.sortWithinPartitions("week", user_second, "event_id")
