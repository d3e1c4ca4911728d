"""dbt models as two asset definitions, one per partitioning (never mixed in one definition):

* ``weekly_dbt_models`` (dbt tag ``weekly``): staging and the incremental facts, built per weekly partition
  with the window passed as ``--vars``;
* ``history_dbt_models`` (dbt tag ``history``): dimensions and marts, rebuilt over all history.

dbt tests become asset checks. ``dbt_project.yml`` sets ``indirect_selection: buildable``: a test runs only
where all its parents are built or upstream of what is built, so the dimensions' key tests (which also
read the facts) run with the dimensions, not with a weekly run that precedes them.

Both take a run config, :class:`DbtBuildConfig`: ``full_refresh: true`` rebuilds the tables from scratch
(``dbt build --full-refresh``), for weekly models only over every week in one run (see
:func:`require_every_week`).
"""

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field

from ecommerce_assets.assets.common import RETRY, WAREHOUSE_POOL
from ecommerce_assets.automation import refresh_after_upstream
from ecommerce_assets.dbt_project import dbt_project
from ecommerce_assets.partitions import weekly_partitions_def
from ecommerce_assets.warehouses import Warehouse

TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_code_references=True)
FACTS_DUE = dg.AssetKey(["core", "fct_events"])
# Built once: the translator is asked for fct_events' spec by every test that reads it, and each policy
# computes its cron's smallest interval (about 35 ms).
FACTS_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=dt.timedelta(hours=8), timezone="UTC")


class WeeklyTranslator(DagsterDbtTranslator):
    """The week's facts are due by Monday 09:00 UTC after the week ends (the schedule runs at 01:00):
    ``core/fct_events`` shows as failing its freshness policy in the UI when a week is missing."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key != FACTS_DUE:
            return spec
        return spec.replace_attributes(freshness_policy=FACTS_FRESHNESS)


class HistoryTranslator(DagsterDbtTranslator):
    """Dimensions and marts refresh by themselves once weekly facts land (declarative automation)."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        return spec.replace_attributes(automation_condition=refresh_after_upstream())


def dbt_window_vars(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """The partition window as the half-open week range the incremental models filter on."""
    return {"min_week": start.date().isoformat(), "max_week": end.date().isoformat()}


class DbtBuildConfig(dg.Config):
    """Launchpad config of a dbt asset definition, e.g. ``ops: {weekly_dbt_models: {config: {full_refresh: true}}}``."""

    full_refresh: bool = Field(
        default=False,
        description=(
            "Run `dbt build --full-refresh`: drop and rebuild the incremental tables (and seeds) from their "
            "sources instead of replacing the run's weeks, e.g. after a model's columns changed "
            "(on_schema_change='fail' stops an incremental run then). Weekly models: only over every week "
            "in one run (the model's select keeps the run's weeks only), any other range fails before dbt starts."
        ),
    )


def dbt_build_args(variables: Mapping[str, Any], full_refresh: bool = False) -> list[str]:
    """``dbt build`` with the run's variables (window, warehouse location) as ``--vars``, and
    ``--full-refresh`` when asked for."""
    args = ["build", "--vars", json.dumps(dict(variables), sort_keys=True)] if variables else ["build"]
    return [*args, "--full-refresh"] if full_refresh else args


def require_every_week(first: str, last: str, partition_keys: Sequence[str]) -> None:
    """A full refresh of the weekly models must cover every week, in one run.

    ``--full-refresh`` recreates each incremental table from the model's select, and the select keeps the
    run's window only (the window applies on every run, full or incremental): over a few weeks it would
    leave a table holding just those weeks. Refused before dbt starts, naming the range to run instead."""
    if not partition_keys or (first, last) == (partition_keys[0], partition_keys[-1]):
        return
    whole = f"{partition_keys[0]}...{partition_keys[-1]}"
    raise dg.Failure(
        description=(
            f"full_refresh over the weeks {first}...{last} refused: a full refresh rebuilds each weekly table "
            f"from the run's weeks only and would drop every other week. Run it over every week in one run, "
            f"partition range {whole}, or leave full_refresh off to replace just these weeks."
        ),
        metadata={"run_range": f"{first}...{last}", "required_range": whole},
        allow_retries=False,
    )


def _stream(context: dg.AssetExecutionContext, invocation, warehouse: Warehouse) -> Iterator[Any]:
    """dbt's events, each model's materialization with its row count (a weekly model's partition: the
    week's rows). Where the warehouse admits a concurrent reader, dagster-dbt fetches counts and column
    metadata as models finish; DuckDB's file lock admits one process, so there the events wait until dbt
    has exited and the counts are read then."""
    events = invocation.stream()
    if warehouse.concurrent_reads:
        yield from events.fetch_row_counts().fetch_column_metadata()
        return
    held = list(events)
    nodes = invocation.manifest["nodes"]
    weeks = list(context.partition_keys) if context.assets_def.partitions_def else []
    for event in held:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        node = nodes.get(unique_id.value) if unique_id else None
        if node is None or node["config"]["materialized"] == "view":
            yield event
            continue
        relation = node["relation_name"]
        total = warehouse.query(f"select count(*) from {relation}")[0][0]
        week_column = next((name for name in node["columns"] if name.endswith("_week")), None)
        if not (weeks and week_column):
            yield event.with_metadata({**event.metadata, "dagster/row_count": total})
            continue
        # A weekly model's partition is its week: its row count is the week's rows.
        counts = dict(warehouse.query(f"select {week_column}::varchar, count(*) from {relation} "
                                      f"where {week_column} between '{weeks[0]}' and '{weeks[-1]}' group by 1"))
        for week in weeks:
            context.add_asset_metadata(
                {"dagster/row_count": counts.get(week, 0)},
                asset_key=context.asset_key_for_output(event.output_name), partition_key=week,
            )
        yield event.with_metadata({**event.metadata, "table_rows": total})


# What both definitions share: the project, one writer at a time, retries of a passing fault.
COMMON = {"manifest": dbt_project.manifest_path, "project": dbt_project, "pool": WAREHOUSE_POOL, "retry_policy": RETRY}


@dbt_assets(
    select="tag:weekly",
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="weekly_dbt_models",
    dagster_dbt_translator=WeeklyTranslator(settings=TRANSLATOR_SETTINGS),
    **COMMON,
)
def weekly_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, config: DbtBuildConfig
) -> Iterator[Any]:
    if config.full_refresh:
        keys = context.partition_key_range
        require_every_week(keys.start, keys.end, weekly_partitions_def.get_partition_keys())
        context.log.info(f"Full refresh: the weekly tables are rebuilt from scratch over {keys.start}...{keys.end}.")
    window = context.partition_time_window
    variables = {**dbt_window_vars(window.start, window.end), **warehouse.dbt_vars()}
    args = dbt_build_args(variables, full_refresh=config.full_refresh)
    yield from _stream(context, dbt.cli(args, context=context), warehouse)


@dbt_assets(
    select="tag:history",
    name="history_dbt_models",
    dagster_dbt_translator=HistoryTranslator(settings=TRANSLATOR_SETTINGS),
    **COMMON,
)
def history_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, config: DbtBuildConfig
) -> Iterator[Any]:
    args = dbt_build_args(warehouse.dbt_vars(), full_refresh=config.full_refresh)
    yield from _stream(context, dbt.cli(args, context=context), warehouse)
