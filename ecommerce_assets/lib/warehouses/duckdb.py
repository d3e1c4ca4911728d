"""The embedded default: one DuckDB file holds the RAW schema and every dbt model.

With a local lake, ``raw.events`` is a view over the lake's clean Parquet files of the loaded weeks, not a
second copy of the events: the clean files are the one stored copy (a copy cost 59 bytes per event, as
much as the clean files themselves), and DuckDB reads them in place. ``raw.event_weeks`` records which
weeks are loaded and when; each load rewrites both in one transaction. With a lake on S3 (which the
embedded DuckDB cannot read without its httpfs extension), ``raw.events`` is a table the weeks are
copied into, as in the warehouses of production.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecommerce_assets.lib.lake import Lake, LakeStore
from ecommerce_assets.lib.settings import Settings
from ecommerce_assets.lib.warehouses.base import RAW_EVENTS_COLUMNS, WEEK_COUNTS, Warehouse, WeeksLoaded

# (name, type) of raw.events' columns, for the view's typed empty form.
_COLUMNS = re.findall(r"^\s*(\w+) (.+?)(?: not null)?,?$", RAW_EVENTS_COLUMNS.format(ts="timestamp", loaded_at_null=""), re.M)

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
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
        if isinstance(lake, Lake):
            return self._register_weeks(lake, weeks)
        return self._copy_weeks(lake, weeks)

    def raw_events_storage(self, lake: LakeStore) -> str:
        if isinstance(lake, Lake):
            return f"a view over the clean Parquet files in {lake.path('clean/events')} (no copy; raw.event_weeks lists the weeks)"
        return super().raw_events_storage(lake)

    def _register_weeks(self, lake: Lake, weeks: list[dt.date]) -> WeeksLoaded:
        """Point ``raw.events`` at the lake's clean files of ``weeks`` (with the weeks loaded before)."""
        start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
        with self.connect() as connection:
            connection.execute("create schema if not exists raw")
            connection.execute(
                "create table if not exists raw.event_weeks (event_week date primary key, folder varchar not null, "
                "loaded_at timestamp not null)"
            )
            kind = _relation_kind(connection, "raw", "events")
            with _transaction(connection):
                deleted = _count(connection, start, end) if kind else 0
                if kind == "BASE TABLE":
                    # A warehouse from before raw.events was a view: its copy goes, and the weeks it held stay
                    # loaded from the lake's clean files (the rows the copy was made from).
                    copied = connection.execute("select event_week, max(loaded_at) from raw.events group by 1").fetchall()
                    connection.execute("drop table raw.events")
                    for week, loaded_at in copied:
                        if lake.files(lake.clean_week(week), ".parquet"):
                            connection.execute("insert or replace into raw.event_weeks values (?, ?, ?)",
                                               [week, str(lake.path(lake.clean_week(week)).resolve()), loaded_at])
                connection.execute("delete from raw.event_weeks where event_week >= ? and event_week < ?", [start, end])
                # A week without clean rows has no file: a view over an empty folder would fail to read.
                loaded = [(w, str(lake.path(lake.clean_week(w)).resolve())) for w in weeks if lake.files(lake.clean_week(w), ".parquet")]
                for week, folder in loaded:
                    connection.execute("insert into raw.event_weeks values (?, ?, current_timestamp::timestamp)", [week, folder])
                registered = connection.execute("select event_week, folder, loaded_at from raw.event_weeks order by 1").fetchall()
                connection.execute(f"create or replace view raw.events as {_events_view(registered)}")
            by_week = dict(connection.execute(WEEK_COUNTS.format(p="?"), [start, end]).fetchall())
            total = connection.execute("select count(*) from raw.events").fetchone()[0]
        return WeeksLoaded(deleted, by_week, total)

    def _copy_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        """Replace ``weeks`` in the ``raw.events`` table by the lake's clean rows, in one transaction."""
        start, end = weeks[0], weeks[-1] + dt.timedelta(days=7)
        keys = [lake.clean_week(w) for w in weeks]
        with lake.local_files(keys, ".parquet") as local, self.connect() as connection:
            files = sorted(path for key in keys for path in local[key])
            connection.execute("create schema if not exists raw")
            if _relation_kind(connection, "raw", "events") == "VIEW":
                connection.execute("drop view raw.events")  # the view of a local lake; this lake is elsewhere
            connection.execute(
                f"create table if not exists raw.events ({RAW_EVENTS_COLUMNS.format(ts='timestamp', loaded_at_null=' not null')})"
            )
            with _transaction(connection):
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


@contextmanager
def _transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit what the block did, or roll it back if it raised."""
    import duckdb

    connection.execute("begin transaction")
    try:
        yield
        connection.execute("commit")
    except Exception:
        # A commit that failed (a full disk) has ended the transaction already: a second error from the
        # rollback would hide the one that says why.
        with suppress(duckdb.TransactionException):
            connection.execute("rollback")
        raise


def _relation_kind(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    """'BASE TABLE', 'VIEW' or None (absent)."""
    row = connection.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()
    return row[0] if row else None


def _count(connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    return connection.execute("select count(*) from raw.events where event_week >= ? and event_week < ?", [start, end]).fetchone()[0]


def _literal(text: str) -> str:
    """A SQL string literal (a view's file pattern cannot be a bound parameter)."""
    return "'" + text.replace("'", "''") + "'"


def _events_view(registered: list[tuple[dt.date, str, dt.datetime]]) -> str:
    """The view's query: each loaded week's clean files with the time it was loaded, or no rows of the
    table's columns. The files carry no ``week`` column (it is their folder's name, not read here)."""
    if not registered:
        return "select " + ", ".join(f"cast(null as {kind}) as {name}" for name, kind in _COLUMNS) + " where false"
    return "\nunion all\n".join(
        f"select *, timestamp {_literal(loaded_at.isoformat(sep=' '))} as loaded_at "
        f"from read_parquet({_literal(folder + '/*.parquet')}, hive_partitioning = false)"
        for _, folder, loaded_at in registered
    )


def build(settings: Settings) -> DuckDBWarehouse:
    return DuckDBWarehouse(path=str(settings.duckdb_path), memory_limit=settings.duckdb_memory_limit)
