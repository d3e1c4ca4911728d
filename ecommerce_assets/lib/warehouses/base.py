"""What every warehouse kind shares: the raw.events layout and the interface assets use.

Every kind replaces exactly a run's weeks in one transaction (delete the weeks, load the lake's clean
files), so a rerun or an overlapping backfill never doubles rows and a failed load leaves the old weeks.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecommerce_assets.lib.lake import LakeStore

if TYPE_CHECKING:
    import duckdb

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
# Object and file names that go into SQL text where a bind parameter cannot (identifiers, COPY's stage and
# file list): plain names only, so a hostile one is refused instead of run.
_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")
_LAKE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=-]*(/[A-Za-z0-9_][A-Za-z0-9_.=-]*)*")
WEEK_COUNTS = "select event_week, count(*) from raw.events where event_week >= {p} and event_week < {p} group by 1"


def sql_name(name: str, what: str) -> str:
    """``name`` if it is a plain (schema-qualified) object name, else a ValueError naming it."""
    if not isinstance(name, str) or not _SQL_NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain SQL name (letters, digits, _ and $, dot-separated)")
    return name


def lake_name(name: str, what: str) -> str:
    """``name`` if it is a plain lake key or file name (no quote, space, ``..`` or leading ``/``), else a
    ValueError naming it."""
    if not isinstance(name, str) or not _LAKE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{what} {name!r} is not a plain lake name (letters, digits and _ . = - /)")
    return name


@dataclass(frozen=True)
class WeeksLoaded:
    deleted: int
    by_week: dict[dt.date, int]
    table_rows: int

    @property
    def loaded(self) -> int:
        return sum(self.by_week.values())


class Warehouse:
    """What assets need from a warehouse; one subclass per kind. Assets take it as a Dagster resource
    (``dg.ResourceParam[Warehouse]``): a plain object (DuckDB) or a configurable resource (Snowflake)."""

    @property
    def concurrent_reads(self) -> bool:
        """Whether another process may query the warehouse while dbt writes it."""
        return True

    def query(self, sql: str, parameters: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (metadata figures). Values (weeks, keys) go in ``parameters``, bound
        to the query's ``?``, never into ``sql``."""
        raise NotImplementedError

    def replace_weeks(self, lake: LakeStore, weeks: list[dt.date]) -> WeeksLoaded:
        """Make raw.events hold exactly the lake's clean rows for ``weeks`` (consecutive), atomically."""
        raise NotImplementedError

    def raw_events_storage(self, lake: LakeStore) -> str:
        """How raw.events holds the rows of ``lake``, in words for the asset's metadata."""
        return "a table: the weeks' clean rows copied into the warehouse"

    def dbt_vars(self) -> dict[str, Any]:
        """dbt ``--vars`` that profiles.yml reads for this kind (none where the environment suffices)."""
        return {}

    def dashboard_connection(self, tables: list[str]) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A DuckDB connection where ``tables`` (schema.name) can be queried."""
        raise NotImplementedError
