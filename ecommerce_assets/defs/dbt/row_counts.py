"""dbt's events as Dagster reports them: the batches of one step merged, each model with its row count
(a weekly model's partition: the week's rows)."""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg

from ecommerce_assets.lib.warehouses import Warehouse

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


def with_row_counts(context: dg.AssetExecutionContext, builds: Sequence[Callable[[], Any]], warehouse: Warehouse,
                    built: Callable[[int], None] = lambda index: None) -> Iterator[Any]:
    """dbt's events, each model's materialization with its row count (a weekly model's partition: the
    week's rows). Where the warehouse admits a concurrent reader, dagster-dbt fetches counts and column
    metadata as models finish; DuckDB's file lock admits one process, so there the events wait until dbt
    has exited and the counts are read then. Several invocations (batches of weeks) run one after the
    other and report as one (:func:`merged`); ``built(i)`` is called once build ``i`` has passed."""
    started = []

    def events(build: Callable[[], Any]) -> Any:
        started.append(build())  # each build starts when the previous one's events are read
        stream = started[-1].stream()
        return stream.fetch_row_counts().fetch_column_metadata() if warehouse.concurrent_reads else stream

    if len(builds) > 1:
        batches = []
        for index, build in enumerate(builds):
            batches.append(list(events(build)))  # dagster-dbt raises here if dbt failed
            built(index)
        held = merged(batches)
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
