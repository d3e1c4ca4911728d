"""Declarative automation: dimensions, marts and the dashboard refresh by themselves after weekly facts land.

The sensor that evaluates the conditions is on by default (an instance where it was never turned on would
otherwise show conditions that never run). ``refresh_after_upstream`` refreshes after any upstream week
lands. On the sensor's first evaluation it catches up an asset whose upstream was materialized after it
(weeks built before the sensor first ran), and leaves alone one that is current (the first ``dg dev``
after command A runs nothing). After that, the sensor's cursor remembers what it has seen, so weeks that
land while it is stopped are picked up when it starts again.
"""

import dagster as dg


class UpstreamNewer(dg.AutomationCondition):
    """True when an upstream asset has a materialization newer than this asset's latest (or this asset has
    none). Compared by event storage id, which orders the instance's events. Meant for unpartitioned
    assets: the whole asset is true or false."""

    @property
    def description(self) -> str:
        return "an upstream asset was materialized after this one"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        instance = context.asset_graph_view.instance

        def latest(key: dg.AssetKey) -> int:
            records = instance.fetch_materializations(key, limit=1).records
            return records[0].storage_id if records else 0

        own = latest(context.key)
        newer = any(latest(parent) > own for parent in context.asset_graph.get(context.key).parent_keys)
        return dg.AutomationResult(context=context, true_subset=context.candidate_subset if newer else context.get_empty_subset())


def refresh_after_upstream() -> dg.AutomationCondition:
    """Like ``eager()``, without its "no dependency partition missing": the marts read whatever weeks
    exist, and with 31 weekly partitions upstream eager() would wait for all of them. The first
    evaluation also counts as a trigger where upstream is newer (catch-up), and nothing is requested before
    any upstream data."""
    condition = dg.AutomationCondition
    return (
        # since(requested or updated), not since_last_handled(): that counts the first evaluation as handled.
        (condition.newly_missing() | condition.any_deps_updated() | (condition.initial_evaluation() & UpstreamNewer())).since(
            condition.newly_requested() | condition.newly_updated()
        )
        & condition.any_deps_match(~condition.missing())
        & ~condition.any_deps_in_progress()
        & ~condition.in_progress()
    ).with_label("refresh after upstream")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    use_user_code_server=True,  # UpstreamNewer is Python of this project, evaluated where the code is
    description="Evaluates the assets' automation conditions: refreshes dimensions, marts and the dashboard after weeks land.",
)
