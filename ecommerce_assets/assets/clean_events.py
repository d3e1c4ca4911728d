"""Spark-cleaned events and their quarantine, one Spark pass over the run's weeks."""

import time
from collections import Counter
from functools import partial

import dagster as dg

from ecommerce_assets.assets.common import preview, weeks_of
from ecommerce_assets.checks import clean_check_results, clean_check_specs
from ecommerce_assets.partitions import weekly_partitions_def
from ecommerce_assets.resources import LakeResource, SparkResource
from ecommerce_assets.spark.config import s3a_lake_url


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, deps=["raw_events"], group_name="lake", kinds={"spark", "parquet"}, tags={"weekly": ""},
            description=description,
        )
        for name, description in (
            ("clean_events", "clean/events/week=.../*.parquet: typed, de-duplicated, imputed events."),
            ("rejected_events", "quarantine/events/week=.../*.parquet: rejected lines with reject_reason and source file."),
        )
    ],
    check_specs=clean_check_specs,
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def clean_events(context: dg.AssetExecutionContext, pyspark: SparkResource, lake: LakeResource):
    import duckdb

    from ecommerce_assets.spark.pipeline import clean_weeks  # pyspark: loaded by the step that runs it

    store = lake.lake
    weeks = weeks_of(context)
    started = time.perf_counter()
    spark = pyspark.spark_session  # started here once per run, reused by every week of the run
    session_seconds = time.perf_counter() - started
    # A cluster image with hadoop-aws reads and writes the S3 lake in place; otherwise weeks are staged.
    s3a = partial(s3a_lake_url, lake.url) if lake.on_s3 and lake.spark_access == "s3a" else None
    try:
        counts = clean_weeks(spark, store, weeks, s3a=s3a)
    except FileNotFoundError as error:
        raise dg.Failure(description=str(error)) from None
    spark_seconds = time.perf_counter() - started - session_seconds
    raw_rows = sum(c.raw_rows for c in counts.values())
    by_reason: Counter[str] = Counter()
    for week_counts in counts.values():
        by_reason.update(week_counts.rejected_by_reason)
    keys = [store.clean_week(w) for w in weeks] + [store.rejected_week(w) for w in weeks]
    with store.local_files(keys, ".parquet") as files:
        first = [path for key in keys[: len(weeks)] for path in files[key]][:1]
        sample = duckdb.execute("select * from read_parquet($f) limit 5", {"f": first}) if first else None
        preview_rows = sample.fetchall() if sample is not None else None
        check_results = clean_check_results(store, weeks, files)
    yield dg.MaterializeResult(
        asset_key="clean_events",
        metadata={
            "raw_rows": raw_rows,
            "clean_rows": sum(c.clean_rows for c in counts.values()),
            "duplicates": sum(c.duplicates for c in counts.values()),
            "rejected_rows": sum(c.rejected_rows for c in counts.values()),
            "weeks": dg.MetadataValue.json({w.isoformat(): c.as_manifest() for w, c in counts.items()}),
            "bytes": sum(store.partition_bytes(store.clean_week(w)) for w in weeks),
            "lake": store.url,
            "spark_session_seconds": round(session_seconds, 2),
            "spark_seconds": round(spark_seconds, 2),
            "rows_per_second": round(raw_rows / spark_seconds) if spark_seconds > 0 else 0,
            "preview": (
                preview(preview_rows, [column[0] for column in sample.description])
                if sample is not None
                else dg.MetadataValue.text("no rows")
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_events",
        metadata={
            "rejected_rows": sum(by_reason.values()),
            "rejected_by_reason": dg.MetadataValue.json(dict(sorted(by_reason.items()))),
            "bytes": sum(store.partition_bytes(store.rejected_week(w)) for w in weeks),
        },
    )
    yield from check_results
