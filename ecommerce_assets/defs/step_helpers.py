"""Small helpers shared by the asset modules."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import dagster as dg

from ecommerce_assets.defs.partitions import weeks_in_range

# Steps that write the warehouse, or read it while others may write, share one pool whose limit (1, in the
# instance's dagster.yaml) keeps DuckDB to one writer; on Snowflake it serialises the weekly loads.
WAREHOUSE_POOL = "warehouse"
# The week's facts: the last asset of the weekly graph, due by Monday 09:00 UTC (its freshness policy),
# and what the history replay sensor waits for.
FACTS = dg.AssetKey(["core", "fct_events"])
# Steps that touch the lake or the warehouse retry a passing fault (a lock, a network error).
RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def code_version(*modules: str) -> str:
    """The code version of an asset: a digest of the source files of the modules that shape its output (read,
    not imported: pyspark stays out of the code location). Changing one shows the asset's partitions built
    before as stale, "code version changed", in the UI."""
    digest = hashlib.sha256()
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"code version: no source file for {module}")
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def weeks_of(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The Monday weeks this run covers: one for a single partition, many for a single-run backfill."""
    key_range = context.partition_key_range
    return weeks_in_range(key_range.start, key_range.end)


def preview(rows: list[tuple[Any, ...]], columns: list[str]) -> dg.MetadataValue:
    """A few rows as a Dagster table, values as text so any type renders."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in columns])
    records = [dg.TableRecord({name: ("" if v is None else str(v)) for name, v in zip(columns, row)}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def disk_full(error: BaseException, writing: str) -> dg.Failure | None:
    """A full disk (or quota) said as such, naming what was being written: an ``OSError`` raised while
    a step writes is not its input's fault, and Spark's Java error names neither the disk nor the folder.
    Not retried: a retry seconds later redoes the work to fail the same way."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        cause = f"[Errno {error.errno}] {os.strerror(error.errno)}"
    else:
        cause = next((said for said in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT)) if said in str(error)), None)
        if cause is None:
            return None
    return dg.Failure(
        description=f"{cause} while writing {writing}: free space on that disk and rerun; the published partitions are unchanged.",
        metadata={"writing": writing},
        allow_retries=False,
    )
