"""Snowflake through dagster-snowflake. Imported only when ECOMMERCE_WAREHOUSE=snowflake: the client
library takes seconds to import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_snowflake import SnowflakeResource

from ecommerce_assets.lib.lake import LakeStore
from ecommerce_assets.lib.settings import Settings
from ecommerce_assets.lib.warehouses.base import RAW_EVENTS_COLUMNS, WEEK_COUNTS, Warehouse, WeeksLoaded, lake_name, sql_name


class SnowflakeWarehouse(Warehouse, dg.ConfigurableResource):
    """The load is COPY INTO from ``stage``, an external stage whose URL is the lake root, so the data goes
    from the lake to Snowflake without passing through this process.

    The password and the private key's passphrase are read from the environment at connect time
    (``dg.EnvVar``): they are not part of the resource's config, so they never show in the UI or logs.
    dbt's profile reads the same SNOWFLAKE_* variables.
    """

    snowflake: SnowflakeResource
    stage: str  # e.g. raw.lake_stage, created by the deployment (see docs/production.md)

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
        # Every COPY is built (and its names checked) before anything runs: a bad name changes nothing.
        copies = []
        for week in weeks:
            key = lake.clean_week(week)
            names = [Path(url).name for url in lake.files(key, ".parquet")]
            if names:
                copies.append(_copy_sql(self.stage, key, names))
        with self.snowflake.get_connection() as connection:
            cursor = connection.cursor()
            cursor.execute("create schema if not exists raw")
            # loaded_at is filled after COPY: with MATCH_BY_COLUMN_NAME, columns absent from the files get NULL.
            cursor.execute(
                f"create table if not exists raw.events ({RAW_EVENTS_COLUMNS.format(ts='timestamp_ntz', loaded_at_null='')})"
            )
            cursor.execute("begin")
            try:
                cursor.execute("delete from raw.events where event_week >= %s and event_week < %s", (start, end))
                deleted = cursor.fetchone()[0]
                for copy in copies:
                    cursor.execute(copy)
                cursor.execute("update raw.events set loaded_at = current_timestamp() where loaded_at is null")
                cursor.execute("commit")
            except Exception:
                cursor.execute("rollback")
                raise
            cursor.execute(WEEK_COUNTS.format(p="%s"), (start, end))
            by_week = {week: count for week, count in cursor.fetchall()}
            cursor.execute("select count(*) from raw.events")
            total = cursor.fetchone()[0]
        return WeeksLoaded(deleted, by_week, total)

    @contextmanager
    def dashboard_connection(self, tables: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """The dashboard's tables (small aggregates) copied into an in-memory DuckDB to render."""
        tables = [sql_name(table, "dashboard table") for table in tables]
        local = duckdb.connect()
        try:
            with self.snowflake.get_connection() as connection:
                cursor = connection.cursor()
                for table in tables:
                    cursor.execute(f"select * from {table}")
                    rows = cursor.fetch_arrow_all(force_return_table=True)  # noqa: F841 (read by DuckDB below)
                    local.execute(f"create schema if not exists {table.split('.')[0]}")
                    local.execute(f"create table {table} as select * from rows")
            yield local
        finally:
            local.close()


def _copy_sql(stage: str, key: str, names: list[str]) -> str:
    """COPY of one week's published files (the manifest's list, not the folder: S3 may hold an older
    generation's objects until they are deleted). FORCE: a rerun reloads files Snowflake saw before."""
    listed = ", ".join(f"'{lake_name(name, 'clean file')}'" for name in names)
    return (
        f"copy into raw.events from @{sql_name(stage, 'stage')}/{lake_name(key, 'lake key')}/ files = ({listed}) "
        "file_format = (type = parquet) match_by_column_name = case_insensitive force = true"
    )


def build(settings: Settings) -> SnowflakeWarehouse:
    """The Snowflake resource from settings; secrets stay environment references."""
    config = settings.snowflake
    assert config is not None, "settings.warehouse is snowflake"
    auth: dict[str, Any]
    if config.private_key_path:
        auth = {"private_key_path": config.private_key_path}
        if config.private_key_passphrase_set:
            auth["private_key_password"] = dg.EnvVar("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
    else:
        auth = {"password": dg.EnvVar("SNOWFLAKE_PASSWORD")}
    endpoint = {"host": config.host, "port": config.port, "protocol": config.protocol} if config.host else None
    return SnowflakeWarehouse(
        snowflake=SnowflakeResource(
            account=config.account,
            user=config.user,
            database=config.database,
            role=config.role,
            warehouse=config.warehouse,
            additional_snowflake_connection_args=endpoint,
            **auth,
        ),
        stage=config.stage,
    )
