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

Beside it: ``dbt_translators`` (how the models appear as assets), ``dbt_arguments`` (what a run passes to
``dbt build``, and the full-refresh guard), ``dbt_row_counts`` (dbt's events with row counts, batches merged).

On DuckDB, a long range of weeks (a backfill in one run) goes to dbt in consecutive batches of about
``BATCH_ROWS`` raw events (:func:`week_batches`), so the warehouse's memory is that of a few weeks
whatever the range: at scale 0.1, 29 weeks (40M events) in one dbt build ran out of a 3GB DuckDB limit.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ecommerce_assets.defs.step_helpers import RETRY, WAREHOUSE_POOL
from ecommerce_assets.defs.dbt.arguments import (
    BATCHES_DONE_TAG,
    DbtBuildConfig,
    dbt_build_args,
    dbt_window_vars,
    remaining_batches,
    require_every_week,
    week_after,
)
from ecommerce_assets.defs.dbt.row_counts import with_row_counts
from ecommerce_assets.defs.dbt.translators import TRANSLATOR_SETTINGS, HistoryTranslator, WeeklyTranslator
from ecommerce_assets.lib.batching import BATCH_ROWS, week_batches
from ecommerce_assets.defs.dbt.project import dbt_project
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.lib.warehouses import Warehouse
from ecommerce_assets.lib.warehouses.base import WEEK_COUNTS

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
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: dg.ResourceParam[Warehouse], config: DbtBuildConfig
) -> Iterator[Any]:
    if config.full_refresh:
        keys = context.partition_key_range
        require_every_week(keys.start, keys.end, weekly_partitions_def.get_partition_keys())
        context.log.info(f"Full refresh: the weekly tables are rebuilt from scratch over {keys.start}...{keys.end}.")
    weeks = list(context.partition_keys)
    # Batches for the embedded warehouse, whose memory is the machine's; a warehouse service scales itself.
    batched = len(weeks) > 1 and not warehouse.concurrent_reads
    rows = dict(warehouse.query(WEEK_COUNTS.format(p="?"), [weeks[0], week_after(weeks[-1])])) if batched else {}
    batches = week_batches({str(week): count for week, count in rows.items()}, weeks, BATCH_ROWS) if batched else [weeks]
    if len(batches) > 1:
        context.log.info(f"{len(weeks)} weeks in {len(batches)} dbt builds of at most {BATCH_ROWS:,} raw events: "
                         + ", ".join(f"{b[0]}...{b[-1]}" for b in batches))
    batches = remaining_batches(context, batches)

    def build(batch: list[str], first: bool) -> Any:
        start = dt.datetime.fromisoformat(batch[0])
        variables = {**dbt_window_vars(start, dt.datetime.fromisoformat(week_after(batch[-1]))), **warehouse.dbt_vars()}
        # A full refresh recreates the tables with the range's first batch (also when a retry resumes after
        # it); the next batches add theirs.
        return dbt.cli(dbt_build_args(variables, full_refresh=config.full_refresh and first), context=context)

    def built(index: int) -> None:
        if len(batches) > 1:
            context.instance.add_run_tags(context.run_id, {BATCHES_DONE_TAG: f"{context.run_id}:{batches[index][-1]}"})

    yield from with_row_counts(context, [lambda b=batch: build(b, b[0] == weeks[0]) for batch in batches],
                               warehouse, built)




@dbt_assets(
    select="tag:history",
    name="history_dbt_models",
    dagster_dbt_translator=HistoryTranslator(settings=TRANSLATOR_SETTINGS),
    **COMMON,
)
def history_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: dg.ResourceParam[Warehouse], config: DbtBuildConfig
) -> Iterator[Any]:
    args = dbt_build_args(warehouse.dbt_vars(), full_refresh=config.full_refresh)
    yield from with_row_counts(context, [lambda: dbt.cli(args, context=context)], warehouse)
