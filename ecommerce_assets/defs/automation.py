"""Declarative automation: dimensions, marts and the dashboard refresh by themselves after weekly facts land.

The sensor that evaluates the conditions is on by default (an instance where it was never turned on would
otherwise show conditions that never run). ``refresh_after_upstream`` refreshes after any upstream week
lands, and once on its first evaluation, so weeks that landed before the sensor first ran are caught up;
after that, the sensor's cursor remembers what it has seen, so weeks that land while it is stopped are
picked up when it starts again.
"""

import dagster as dg


def refresh_after_upstream() -> dg.AutomationCondition:
    """Like ``eager()``, without its "no dependency partition missing": the marts read whatever weeks
    exist, and with 31 weekly partitions upstream eager() would wait for all of them. The first
    evaluation also counts as a trigger (catch-up), and nothing is requested before any upstream data."""
    condition = dg.AutomationCondition
    return (
        # since(requested or updated), not since_last_handled(): that counts the first evaluation as handled.
        (condition.newly_missing() | condition.any_deps_updated() | condition.initial_evaluation()).since(
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
    description="Evaluates the assets' automation conditions: refreshes dimensions, marts and the dashboard after weeks land.",
)
