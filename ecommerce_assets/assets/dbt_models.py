"""dbt models as two asset definitions, one per partitioning (never mixed in one definition):

* ``weekly_dbt_models`` (dbt tag ``weekly``): staging and the incremental facts, built per weekly partition
  with the window passed as ``--vars``;
* ``history_dbt_models`` (dbt tag ``history``): dimensions and marts, refreshed for the weeks rebuilt since
  their last run (``macros/changed_weeks.sql``).

dbt tests become asset checks. ``dbt_project.yml`` sets ``indirect_selection: buildable``: a test runs only
where all its parents are built or upstream of what is built, so the dimensions' key tests (which also
read the facts) run with the dimensions, not with a weekly run that precedes them.

Both take a run config, :class:`DbtBuildConfig`: ``full_refresh: true`` rebuilds the tables from scratch
(``dbt build --full-refresh``), for weekly models only over every week in one run (see
:func:`require_every_week`).

On DuckDB, a long range of weeks (a backfill in one run) goes to dbt in consecutive batches of about
``BATCH_ROWS`` raw events (:func:`week_batches`), so the warehouse's memory is that of a few weeks
whatever the range: at scale 0.1, 29 weeks (40M events) in one dbt build ran out of a 3GB DuckDB limit.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field

from ecommerce_assets.assets.common import FACTS, RETRY, WAREHOUSE_POOL
from ecommerce_assets.automation import refresh_after_upstream
from ecommerce_assets.batching import BATCH_ROWS, week_batches
from ecommerce_assets.dbt_project import dbt_project
from ecommerce_assets.partitions import weekly_partitions_def
from ecommerce_assets.warehouses import Warehouse
from ecommerce_assets.warehouses.base import WEEK_COUNTS

TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_code_references=True)
# Built once: the translator is asked for fct_events' spec by every test that reads it, and each policy
# computes its cron's smallest interval (about 35 ms).
FACTS_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=dt.timedelta(hours=8), timezone="UTC")


class WeeklyTranslator(DagsterDbtTranslator):
    """The week's facts are due by Monday 09:00 UTC after the week ends (the schedule runs at 01:00):
    ``core/fct_events`` shows as failing its freshness policy in the UI when a week is missing."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key != FACTS:
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


def merged(batches: Sequence[Sequence[Any]]) -> list[Any]:
    """The events of consecutive dbt builds over the same models as those of one build.

    A step may report each output and each check once: a model's output is its last build's, a check is
    its first failure if any batch failed it, else its last result; other events pass through.
    """
    outputs: dict[str, Any] = {}
    checks: dict[Any, Any] = {}
    others: list[Any] = []
    for events in batches:
        for event in events:
            if isinstance(event, dg.Output):
                outputs[event.output_name] = event
            elif isinstance(event, dg.AssetCheckResult):
                key = (event.asset_key, event.check_name)
                if key not in checks or checks[key].passed:
                    checks[key] = event
            else:
                others.append(event)
    return [*others, *outputs.values(), *checks.values()]


def _stream(context: dg.AssetExecutionContext, builds: Sequence[Callable[[], Any]], warehouse: Warehouse) -> Iterator[Any]:
    """dbt's events, each model's materialization with its row count (a weekly model's partition: the
    week's rows). Where the warehouse admits a concurrent reader, dagster-dbt fetches counts and column
    metadata as models finish; DuckDB's file lock admits one process, so there the events wait until dbt
    has exited and the counts are read then. Several invocations (batches of weeks) run one after the
    other and report as one (:func:`merged`)."""
    started = []

    def events(build: Callable[[], Any]) -> Any:
        started.append(build())  # each build starts when the previous one's events are read
        stream = started[-1].stream()
        return stream.fetch_row_counts().fetch_column_metadata() if warehouse.concurrent_reads else stream

    if len(builds) > 1:
        held = merged([list(events(build)) for build in builds])
    elif warehouse.concurrent_reads:
        yield from events(builds[0])
        return
    else:
        held = list(events(builds[0]))
    if warehouse.concurrent_reads:
        yield from held
        return
    nodes = started[-1].manifest["nodes"]
    weeks = list(context.partition_keys) if context.assets_def.partitions_def else []
    for event in held:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        node = nodes.get(unique_id.value) if unique_id else None
        week_column = next((name for name in node["columns"] if name.endswith("_week")), None) if node else None
        # A weekly view (the facts) is counted for its weeks only: its total reads every week's files.
        if node is None or (node["config"]["materialized"] == "view" and not (weeks and week_column)):
            yield event
            continue
        relation = node["relation_name"]
        if not (weeks and week_column):
            total = warehouse.query(f"select count(*) from {relation}")[0][0]
            yield event.with_metadata({**event.metadata, "dagster/row_count": total})
            continue
        # A weekly model's partition is its week: its row count is the week's rows.
        counts = dict(warehouse.query(f"select {week_column}::varchar, count(*) from {relation} "
                                      f"where {week_column} between ? and ? group by 1", [weeks[0], weeks[-1]]))
        for week in weeks:
            context.add_asset_metadata(
                {"dagster/row_count": counts.get(week, 0)},
                asset_key=context.asset_key_for_output(event.output_name), partition_key=week,
            )
        if node["config"]["materialized"] == "view":
            yield event
            continue
        total = warehouse.query(f"select count(*) from {relation}")[0][0]
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
    weeks = list(context.partition_keys)
    # Batches for the embedded warehouse, whose memory is the machine's; a warehouse service scales itself.
    batched = len(weeks) > 1 and not warehouse.concurrent_reads
    rows = dict(warehouse.query(WEEK_COUNTS.format(p="?"), [weeks[0], _week_after(weeks[-1])])) if batched else {}
    batches = week_batches({str(week): count for week, count in rows.items()}, weeks, BATCH_ROWS) if batched else [weeks]
    if len(batches) > 1:
        context.log.info(f"{len(weeks)} weeks in {len(batches)} dbt builds of at most {BATCH_ROWS:,} raw events: "
                         + ", ".join(f"{b[0]}...{b[-1]}" for b in batches))

    def build(batch: list[str], first: bool) -> Any:
        start = dt.datetime.fromisoformat(batch[0])
        variables = {**dbt_window_vars(start, dt.datetime.fromisoformat(_week_after(batch[-1]))), **warehouse.dbt_vars()}
        # A full refresh recreates the tables with the first batch's weeks; the next batches add theirs.
        return dbt.cli(dbt_build_args(variables, full_refresh=config.full_refresh and first), context=context)

    yield from _stream(context, [lambda b=batch, i=i: build(b, i == 0) for i, batch in enumerate(batches)], warehouse)


def _week_after(week: str) -> str:
    return (dt.date.fromisoformat(week) + dt.timedelta(days=7)).isoformat()


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
    yield from _stream(context, [lambda: dbt.cli(args, context=context)], warehouse)
