"""The week's cleaned events loaded into the warehouse RAW schema (``raw.events``)."""

import datetime as dt

import dagster as dg

from ecommerce_assets.assets.common import weeks_of
from ecommerce_assets.assets.dbt import RETRY, WAREHOUSE_POOL
from ecommerce_assets.checks import warehouse_check_result, warehouse_check_specs
from ecommerce_assets.partitions import weekly_partitions_def
from ecommerce_assets.resources import DuckDBWarehouse, LakeResource

RAW_EVENTS_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    event_id varchar not null,
    event_time timestamp not null,
    event_date date not null,
    event_hour integer not null,
    event_week date not null,
    event_type varchar not null,
    product_id bigint not null,
    category_id bigint not null,
    category_code varchar not null,
    category_code_imputed boolean not null,
    category_code_source varchar not null,
    category_l1 varchar,
    category_l2 varchar,
    category_l3 varchar,
    brand varchar not null,
    brand_imputed boolean not null,
    brand_source varchar not null,
    price decimal(12, 2) not null,
    user_id bigint not null,
    user_session varchar,
    loaded_at timestamp not null
);
"""


@dg.asset(
    deps=["clean_events"],
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"weekly": ""},
    check_specs=warehouse_check_specs,
    group_name="warehouse",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
    description="raw.events in the warehouse: each run replaces exactly its weeks, in one transaction.",
)
def warehouse_events(context: dg.AssetExecutionContext, lake: LakeResource, warehouse: DuckDBWarehouse):
    store = lake.lake
    weeks = weeks_of(context)
    start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
    keys = [store.clean_week(w) for w in weeks]
    with store.local_files(keys, ".parquet") as local, warehouse.connect() as connection:
        files = sorted(path for key in keys for path in local[key])
        connection.execute(RAW_EVENTS_DDL)
        connection.execute("begin transaction")
        try:
            deleted = connection.execute(
                "delete from raw.events where event_week >= ? and event_week < ?", [start, end]
            ).fetchone()[0]
            if files:
                connection.execute(
                    "insert into raw.events by name "
                    "select * exclude (week), current_timestamp::timestamp as loaded_at "
                    "from read_parquet($files, hive_partitioning = true)",
                    {"files": files},
                )
            connection.execute("commit")
        except Exception:
            connection.execute("rollback")
            raise
        by_week = dict(
            connection.execute(
                "select event_week, count(*) from raw.events where event_week >= ? and event_week < ? group by 1",
                [start, end],
            ).fetchall()
        )
        total = connection.execute("select count(*) from raw.events").fetchone()[0]
        check = warehouse_check_result(by_week, store, weeks, local)
    loaded = sum(by_week.values())
    yield dg.MaterializeResult(
        metadata={"rows_loaded": loaded, "rows_replaced": deleted, "table_rows": total, "table": "raw.events"}
    )
    yield check
