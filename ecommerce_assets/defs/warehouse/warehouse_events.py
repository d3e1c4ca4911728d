"""The week's cleaned events loaded into the warehouse RAW schema (``raw.events``)."""

import dagster as dg

from ecommerce_assets.defs.step_helpers import RETRY, WAREHOUSE_POOL, code_version, disk_full, weeks_of
from ecommerce_assets.defs.checks import warehouse_check_result, warehouse_check_specs
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.defs.resources import LakeResource
from ecommerce_assets.lib.warehouses import Warehouse


@dg.asset(
    deps=["clean_events"],
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"weekly": ""},
    check_specs=warehouse_check_specs,
    group_name="warehouse",
    kinds={"duckdb", "snowflake"},
    code_version=code_version("ecommerce_assets.lib.warehouses.base", "ecommerce_assets.lib.warehouses.duckdb", "ecommerce_assets.warehouses.snowflake"),
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    description=(
        "`raw.events` in the warehouse, each run replacing exactly its weeks in one transaction: on DuckDB with "
        "a local lake, a view over the lake's clean files of the loaded weeks (no second copy of the events); "
        "elsewhere a table the weeks are copied into."
    ),
)
def warehouse_events(context: dg.AssetExecutionContext, lake: LakeResource, warehouse: dg.ResourceParam[Warehouse]):
    store = lake.lake
    weeks = weeks_of(context)
    try:
        result = warehouse.replace_weeks(store, weeks)
    except Exception as error:
        full = disk_full(error, f"raw.events in the warehouse ({type(warehouse).__name__}; the cause below names the file)")
        if full is None:
            raise
        raise full from error
    for week in weeks:  # each week's own count on its own materialization
        context.add_asset_metadata({"rows_loaded": result.by_week.get(week, 0)}, partition_key=week.isoformat())
    yield dg.MaterializeResult(
        metadata={
            "table": "raw.events",
            "warehouse": type(warehouse).__name__,
            "stored_as": warehouse.raw_events_storage(store),
            # The run's figures: rows its weeks held before (replaced) and the table's size after.
            "run": dg.MetadataValue.json({"weeks": len(weeks), "rows_replaced": result.deleted, "table_rows": result.table_rows}),
        }
    )
    yield warehouse_check_result(result.by_week, store, weeks)
