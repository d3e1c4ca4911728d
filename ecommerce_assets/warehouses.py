"""The warehouses raw.events is loaded into and dbt builds in: DuckDB (embedded default) or Snowflake.

Both replace exactly a run's weeks in one transaction (delete the weeks, load the lake's clean files),
so a rerun or an overlapping backfill never doubles rows and a failed load leaves the old weeks.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_snowflake import SnowflakeResource

from ecommerce_assets.lake import LakeStore
from ecommerce_assets.settings import Settings

# raw.events as Spark's clean step writes it, plus loaded_at; `{ts}` is the dialect's naive timestamp.
RAW_EVENTS_COLUMNS = """
    event_id varchar not null,
    event_time {ts} not null,
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
    loaded_at {ts}{loaded_at_null}
"""
WEEK_COUNTS = "select event_week, count(*) from raw.events where event_week >= {p} and event_week < {p} group by 1"

# What the dashboard reads; a Snowflake warehouse copies these (small aggregates) into DuckDB to render.
DASHBOARD_TABLES = (
    "core.dim_users", "marts.mart_active_users", "marts.mart_customer_value", "marts.mart_daily_kpis",
    "marts.mart_purchase_heatmap", "marts.mart_retention_weekly", "marts.mart_revenue_by_brand",
    "marts.mart_revenue_by_category", "marts.mart_rfm",
)


@dataclass(frozen=True)
class WeeksLoaded:
    deleted: int
    by_week: dict[dt.date, int]
    table_rows: int

    @property
    def loaded(self) -> int:
        return sum(self.by_week.values())


class Warehouse(dg.ConfigurableResource):
    """What assets need from a warehouse; one subclass per kind."""

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        """Make raw.events hold exactly the lake's clean rows for ``weeks`` (consecutive), atomically."""
        raise NotImplementedError

    def dbt_env(self) -> dict[str, str]:
        """Variables profiles.yml reads, set while dbt starts."""
        return {}

    def dashboard_connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A DuckDB connection where the dashboard's tables can be queried."""
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    """The DuckDB file that holds the RAW schema and every dbt model."""

    path: str
    memory_limit: str  # from settings; DuckDB's own default is 80% of the machine, and it spills beyond the limit

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            connection.execute("set TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
        keys = [lake.clean_week(w) for w in weeks]
        with lake.local_files(keys, ".parquet") as local, self.connect() as connection:
            files = sorted(path for key in keys for path in local[key])
            connection.execute("create schema if not exists raw")
            connection.execute(
                f"create table if not exists raw.events ({RAW_EVENTS_COLUMNS.format(ts='timestamp', loaded_at_null=' not null')})"
            )
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
            by_week = dict(connection.execute(WEEK_COUNTS.format(p="?"), [start, end]).fetchall())
            total = connection.execute("select count(*) from raw.events").fetchone()[0]
        return WeeksLoaded(deleted, by_week, total)

    def dbt_env(self) -> dict[str, str]:
        # The absolute path, since dbt runs from the project folder.
        return {"ECOMMERCE_DUCKDB_PATH": str(Path(self.path).resolve()), "ECOMMERCE_DUCKDB_MEMORY_LIMIT": self.memory_limit}

    @contextmanager
    def dashboard_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connect(read_only=True) as connection:
            yield connection


class SnowflakeWarehouse(Warehouse):
    """Snowflake through dagster-snowflake. The load is COPY INTO from ``stage``, an external stage whose
    URL is the lake root, so the data goes from the lake to Snowflake without passing through this process.

    The password and the private key's passphrase are read from the environment at connect time
    (``dg.EnvVar``): they are not part of the resource's config, so they never show in the UI or logs.
    """

    snowflake: SnowflakeResource
    stage: str  # e.g. raw.lake_stage, created by the deployment (see README)

    def _connection(self):
        return self.snowflake.get_connection()

    def dbt_env(self) -> dict[str, str]:
        emulator = self.snowflake.additional_snowflake_connection_args or {}
        if "host" not in emulator:
            return {}  # profiles.yml reads the same SNOWFLAKE_* variables the settings came from
        # fakesnow runs models and data tests, not dbt unit tests (those run on DuckDB).
        return {
            "SNOWFLAKE_EMULATOR_HOST": str(emulator["host"]),
            "SNOWFLAKE_EMULATOR_PORT": str(emulator["port"]),
            "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
        }

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
        with self._connection() as connection:
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
                for week in weeks:
                    key = lake.clean_week(week)
                    names = [Path(url).name for url in lake.files(key, ".parquet")]
                    if names:
                        cursor.execute(_copy_sql(self.stage, key, names))
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
    def dashboard_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        local = duckdb.connect()
        try:
            with self._connection() as connection:
                cursor = connection.cursor()
                for table in DASHBOARD_TABLES:
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
    listed = ", ".join(f"'{name}'" for name in names)
    return (
        f"copy into raw.events from @{stage}/{key}/ files = ({listed}) "
        "file_format = (type = parquet) match_by_column_name = case_insensitive force = true"
    )


def snowflake_warehouse(settings: Settings) -> SnowflakeWarehouse:
    """The Snowflake resource from settings; secrets stay environment references."""
    config = settings.snowflake
    emulator = (
        {"host": config.emulator_host, "port": config.emulator_port, "protocol": "http"} if config.emulator_host else {}
    )
    auth: dict[str, Any]
    if config.auth == "key_pair":
        auth = {"private_key_path": config.private_key_path}
        if os.environ.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"):
            auth["private_key_password"] = dg.EnvVar("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
    elif os.environ.get("SNOWFLAKE_PASSWORD"):
        auth = {"password": dg.EnvVar("SNOWFLAKE_PASSWORD")}
    else:  # only an emulator accepts a connection without credentials (settings require them otherwise)
        auth = {"password": "emulator"}
    return SnowflakeWarehouse(
        snowflake=SnowflakeResource(
            account=config.account,
            user=config.user,
            database=config.database,
            role=config.role,
            warehouse=config.warehouse,
            additional_snowflake_connection_args=emulator or None,
            **auth,
        ),
        stage=config.stage,
    )
