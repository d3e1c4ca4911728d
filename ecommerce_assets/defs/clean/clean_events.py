"""Spark-cleaned events and their quarantine, one Spark pass over the run's weeks."""

import time
from functools import partial

import dagster as dg

from ecommerce_assets.defs.step_helpers import code_version, disk_full, preview, weeks_of
from ecommerce_assets.defs.checks import clean_check_results, clean_check_specs
from ecommerce_assets.defs.raw.raw_events import publish_raw_weeks
from ecommerce_assets.lib.lake import LakeStore, PartitionReplaced
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.defs.resources import LakeResource, SparkResource
from ecommerce_assets.lib.spark.config import s3a_lake_url


# The cleaning rules and the pipeline that applies them, and the lineage of the quarantine's lines.
CLEAN_CODE = code_version("ecommerce_assets.lib.spark.rules", "ecommerce_assets.lib.spark.pipeline", "ecommerce_assets.lib.spark.lineage")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name, deps=["raw_events"], group_name="lake", kinds={"spark", "parquet"}, tags={"weekly": ""},
            description=description, code_version=CLEAN_CODE,
        )
        for name, description in (
            ("clean_events", "`lake/clean/events/week=.../*.parquet`: typed, de-duplicated, imputed events."),
            ("rejected_events", "`lake/quarantine/events/week=.../*.parquet`: rejected lines with reject_reason, their raw part file, and the landing file and line (as delivered) they came from."),
        )
    ],
    check_specs=clean_check_specs,
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def clean_events(context: dg.AssetExecutionContext, pyspark: SparkResource, lake: LakeResource):
    from ecommerce_assets.lib.spark.pipeline import clean_weeks  # pyspark: loaded by the step that runs it

    store = lake.lake
    weeks = weeks_of(context)
    # Raw retention dropped these weeks' parts after an earlier clean: split them again from landing.
    if dropped := [week for week in weeks if store.raw_parts_dropped(week)]:
        publish_raw_weeks(store, dropped, context.log, lake.on_s3)
        for week in dropped:
            context.log_event(dg.AssetObservation(
                asset_key="raw_events", partition=week.isoformat(),
                metadata={"parts": "rebuilt from landing to clean the week again",
                          "bytes": store.partition_bytes(store.raw_week(week))},
            ))
    started = time.perf_counter()
    spark = pyspark.spark_session  # started here once per run, reused by every week of the run
    session_seconds = time.perf_counter() - started
    # A cluster image with hadoop-aws reads and writes the S3 lake in place; otherwise weeks are staged.
    s3a = partial(s3a_lake_url, lake.url) if lake.on_s3 and lake.spark_access == "s3a" else None
    try:
        # Under until_clean a week's raw parts go as soon as its batch is published, not at the end of a
        # long backfill: the raw and clean copies of every week never sit on the disk together.
        counts = clean_weeks(spark, store, weeks, s3a=s3a,
                             published=partial(_drop_raw_parts, context, store) if lake.raw_retention == "until_clean" else lambda counts: None)
    except PartitionReplaced as error:
        # Another run published a raw week again while this one read it: clean the current version.
        context.log.warning(str(error))
        raise dg.RetryRequested(max_retries=2, seconds_to_wait=5) from error
    except FileNotFoundError as error:
        raise dg.Failure(description=str(error)) from None
    except Exception as error:
        # Spark's error is pages of Java stack naming neither the disk nor the folder.
        full = disk_full(error, f"the clean weeks into {store.staging_root} (lake {store.url}), or Spark's scratch space (spark.local.dir)")
        if full is None:
            raise
        raise full from error
    spark_seconds = time.perf_counter() - started - session_seconds
    raw_rows = sum(c.raw_rows for c in counts.values())
    # Each week's own figures on its own materialization, not the run's totals.
    for week, week_counts in counts.items():
        key = week.isoformat()
        clean_bytes = store.partition_bytes(store.clean_week(week))
        context.add_asset_metadata(
            {"raw_rows": week_counts.raw_rows, "clean_rows": week_counts.clean_rows,
             "duplicates": week_counts.duplicates, "rejected_rows": week_counts.rejected_rows,
             "bytes": clean_bytes,
             # The storage budget's figure, plotted per week in the UI.
             "bytes_per_row": round(clean_bytes / week_counts.clean_rows, 1) if week_counts.clean_rows else 0.0},
            asset_key="clean_events", partition_key=key,
        )
        context.add_asset_metadata(
            {"rejected_rows": week_counts.rejected_rows,
             "rejected_by_reason": dg.MetadataValue.json(dict(sorted(week_counts.rejected_by_reason.items()))),
             "bytes": store.partition_bytes(store.rejected_week(week))},
            asset_key="rejected_events", partition_key=key,
        )
    keys = [store.clean_week(w) for w in weeks] + [store.rejected_week(w) for w in weeks]
    with store.local_files(keys, ".parquet") as files:
        for week in weeks:  # each partition's page shows rows of its own week
            context.add_asset_metadata({"preview": _sample(files[store.clean_week(week)][:1])},
                                       asset_key="clean_events", partition_key=week.isoformat())
        check_results = clean_check_results(store, weeks, files)
    yield dg.MaterializeResult(
        asset_key="clean_events",
        metadata={
            "lake": store.url,
            # The run's Spark figures (one query covers a batch of weeks, so they are not per week).
            "spark_session_seconds": round(session_seconds, 2),
            "spark_seconds": round(spark_seconds, 2),
            "rows_per_second": round(raw_rows / spark_seconds) if spark_seconds > 0 else 0,
        },
    )
    yield dg.MaterializeResult(asset_key="rejected_events", metadata={"lake": store.url})
    yield from check_results


def _drop_raw_parts(context: dg.AssetExecutionContext, store: LakeStore, counts: dict) -> None:
    """ECOMMERCE_RAW_RETENTION=until_clean: the clean weeks' raw parts go, their manifests (rows, sources)
    stay for the accounting check, and the raw partition's page says what is left."""
    for week, week_counts in counts.items():
        if store.drop_raw_parts(week, week_counts.raw_rows):
            context.log_event(dg.AssetObservation(
                asset_key="raw_events", partition=week.isoformat(),
                metadata={"parts": "dropped once clean (ECOMMERCE_RAW_RETENTION=until_clean); the manifest stays, the clean step splits the week from landing again when it needs it",
                          "bytes": store.partition_bytes(store.raw_week(week))},
            ))


def _sample(files: list[str]) -> dg.MetadataValue:
    """The first rows of the first clean file, every column under its own name."""
    if not files:
        return dg.MetadataValue.text("no rows")
    import duckdb

    with duckdb.connect() as connection:
        result = connection.execute("select * exclude (week) from read_parquet($f, hive_partitioning = true) limit 5", {"f": files})
        columns = [column[0] for column in result.description]
        return preview(result.fetchall(), columns)
