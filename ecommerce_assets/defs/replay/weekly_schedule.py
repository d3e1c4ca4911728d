"""The weekly schedule: every Monday 01:00 UTC it processes the week that just ended.

Not ``build_schedule_from_partitioned_job``: past the partitions' end it requests the last week again,
so turning it on over historical data launches 2020-04-27; this one skips, naming the week it would
have run and the setting that extends the weeks."""

import datetime as dt

import dagster as dg

from ecommerce_assets.defs.jobs import weekly_events_job
from ecommerce_assets.defs.partitions import weekly_partitions_def


def week_just_ended(tick: dt.datetime) -> str:
    """The Monday partition key of the week before the tick's week."""
    day = tick.astimezone(dt.timezone.utc).date()
    return (day - dt.timedelta(days=day.weekday() + 7)).isoformat()


@dg.schedule(
    cron_schedule="0 1 * * 1",
    execution_timezone="UTC",
    job=weekly_events_job,
    name="weekly_events_schedule",
    description="Every Monday 01:00 UTC: raw split, clean, load and weekly dbt models for the week just ended.",
)
def weekly_schedule(context: dg.ScheduleEvaluationContext):
    week = week_just_ended(context.scheduled_execution_time)
    # A week past the partitions has no data landed yet (or lies past ECOMMERCE_LAST_WEEK): nothing to do.
    if week not in weekly_partitions_def.get_partition_keys():
        return dg.SkipReason(f"week {week} is outside the weekly partitions (they end with the last month landed)")
    return dg.RunRequest(run_key=week, partition_key=week)
