"""dbt models as two asset definitions, one per partitioning (never mixed in one definition):

* ``weekly_dbt_models`` (dbt tag ``weekly``): staging and the incremental facts, built per weekly partition
  with the window passed as ``--vars``;
* ``history_dbt_models`` (dbt tag ``history``): dimensions and marts, rebuilt over all history.

dbt tests become asset checks. ``buildable`` indirect selection runs a test only where all its parents
are built or upstream of what is built, so the dimensions' key tests (which also read the facts) run with
the dimensions, not with a weekly run that precedes them.
"""

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from ecommerce_assets.dbt_project import dbt_project
from ecommerce_assets.partitions import weekly_partitions_def
from ecommerce_assets.warehouses import Warehouse

DBT_ENV = {"DBT_INDIRECT_SELECTION": "buildable"}
# Warehouse writers share one pool (limit 1 in the instance's dagster.yaml): DuckDB allows one writer.
WAREHOUSE_POOL = "duckdb_warehouse"
RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


class HistoryTranslator(DagsterDbtTranslator):
    """Dimensions and marts refresh by themselves once weekly facts land (declarative automation)."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        return spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())


def dbt_window_vars(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """The partition window as the half-open week range the incremental models filter on."""
    return {"min_week": start.date().isoformat(), "max_week": end.date().isoformat()}


def dbt_build_args(start: dt.datetime, end: dt.datetime) -> list[str]:
    return ["build", "--vars", json.dumps(dbt_window_vars(start, end))]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:weekly",
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="weekly_dbt_models",
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
)
def weekly_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
) -> Iterator[Any]:
    window = context.partition_time_window
    with _environ({**warehouse.dbt_env(), **DBT_ENV}):
        invocation = dbt.cli(dbt_build_args(window.start, window.end), context=context)
    yield from invocation.stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:history",
    name="history_dbt_models",
    dagster_dbt_translator=HistoryTranslator(),
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY,
)
def history_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
) -> Iterator[Any]:
    with _environ({**warehouse.dbt_env(), **DBT_ENV}):
        invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set variables while dbt's subprocess starts (it copies this process's environment), then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
