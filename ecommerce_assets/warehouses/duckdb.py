"""The embedded default: one DuckDB file holds the RAW schema and every dbt model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecommerce_assets.lake import LakeStore
from ecommerce_assets.settings import Settings
from ecommerce_assets.warehouses.base import RAW_EVENTS_COLUMNS, WEEK_COUNTS, Warehouse, WeeksLoaded

if TYPE_CHECKING:
    import duckdb


class DuckDBWarehouse(Warehouse):
    """The DuckDB file that holds the RAW schema and every dbt model."""

    path: str
    memory_limit: str  # from settings; DuckDB's own default is 80% of the machine, and it spills beyond the limit

    @property
    def concurrent_reads(self) -> bool:
        return False  # one process holds the file's write lock

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        import duckdb  # by the steps that use the warehouse, not when the code location loads

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(self.path, read_only=read_only, config={"memory_limit": self.memory_limit})
        try:
            connection.execute("set TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        import duckdb

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
                # A commit that failed (a full disk) has ended the transaction already: a second error
                # from the rollback would hide the one that says why.
                with suppress(duckdb.TransactionException):
                    connection.execute("rollback")
                raise
            by_week = dict(connection.execute(WEEK_COUNTS.format(p="?"), [start, end]).fetchall())
            total = connection.execute("select count(*) from raw.events").fetchone()[0]
        return WeeksLoaded(deleted, by_week, total)

    def query(self, sql: str, parameters: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.connect(read_only=True) as connection:
            return connection.execute(sql, parameters).fetchall()

    def dbt_vars(self) -> dict[str, Any]:
        # The absolute path, since dbt runs from the project folder.
        return {"duckdb_path": str(Path(self.path).resolve()), "duckdb_memory_limit": self.memory_limit}

    @contextmanager
    def dashboard_connection(self, tables: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connect(read_only=True) as connection:
            yield connection


def build(settings: Settings) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(settings.duckdb_path), memory_limit=settings.duckdb_memory_limit)
