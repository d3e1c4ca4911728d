"""History replay: a sensor that behaves as if one week of data arrived per tick.

Off by default. Each tick requests the earliest week after the cursor that is neither materialized nor
being processed, so turning it on after a partial backfill continues where the data stops; the cursor
(the last week requested, kept by Dagster) makes it restart-safe and moves forward only; a run key per
week means a week is never requested twice. After the last week it requests nothing. A week whose run
failed stays behind the cursor: retry it alone from the UI or the CLI.
"""

import dagster as dg

from ecommerce_assets.defs.step_helpers import FACTS
from ecommerce_assets.defs.jobs import weekly_events_job
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.lib.settings import current

# Dagster's run tags for what a run builds: one partition, or a single-run backfill's range of them.
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def weeks_in_flight(runs: list[dg.DagsterRun], partition_keys: list[str]) -> set[str]:
    """The weeks that runs not yet finished will build: a run's one partition, or the range of a
    single-run backfill (whose runs carry the range's tags, not a partition tag, and run the implicit
    asset job rather than weekly_events_job)."""
    weeks: set[str] = set()
    for run in runs:
        if run.job_name != weekly_events_job.name and FACTS not in (run.asset_selection or ()):
            continue
        tags = run.tags
        if tags.get(PARTITION_TAG) in partition_keys:
            weeks.add(tags[PARTITION_TAG])
        start, end = (tags.get(tag) for tag in RANGE_TAGS)
        if start in partition_keys and end in partition_keys:
            weeks.update(partition_keys[partition_keys.index(start) : partition_keys.index(end) + 1])
    return weeks


def next_week_to_replay(
    partition_keys: list[str], materialized: set[str], in_flight: set[str], cursor: str | None
) -> str | None:
    """The earliest week after the cursor that is not done and not running (pure, for the tests)."""
    for key in partition_keys:
        if cursor is not None and key <= cursor:
            continue
        if key not in materialized and key not in in_flight:
            return key
    return None


@dg.sensor(
    job=weekly_events_job,
    minimum_interval_seconds=current().replay_interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Replays 2019-10 .. 2020-04 one week per tick, as if each week had just arrived.",
)
def history_replay_sensor(context: dg.SensorEvaluationContext):
    instance = context.instance
    keys = weekly_partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    materialized = set(instance.get_materialized_partitions(FACTS))
    # Any job's runs: a backfill launched from the UI runs the implicit asset job over a range of weeks.
    in_flight = weeks_in_flight(list(instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT))), keys)
    week = next_week_to_replay(keys, materialized, in_flight, context.cursor)
    if week is None:
        return dg.SkipReason("no week left to replay after " + (context.cursor or "the start"))
    context.update_cursor(week)
    # The run key makes a second request for the same week a no-op, even across daemon restarts.
    return dg.RunRequest(run_key=f"replay-{week}", partition_key=week, tags={"ecommerce/replay": "true"})
