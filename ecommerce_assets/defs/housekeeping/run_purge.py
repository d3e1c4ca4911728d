"""Purging old runs: Dagster's instance config purges old schedule and sensor ticks, not runs, so a daily
job deletes finished runs (and their event logs) older than ECOMMERCE_RUN_RETENTION_DAYS."""

import datetime as dt

import dagster as dg

from ecommerce_assets.lib.settings import current

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


class PurgeConfig(dg.Config):
    days: int = current().run_retention_days


@dg.op
def purge_old_runs(context: dg.OpExecutionContext, config: PurgeConfig) -> int:
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=config.days)
    deleted = 0
    while True:  # in pages, so a long history does not load at once
        records = context.instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff), limit=500
        )
        for record in records:
            context.instance.delete_run(record.dagster_run.run_id)
        deleted += len(records)
        if len(records) < 500:
            break
    context.log.info(f"deleted {deleted} runs finished before {cutoff:%Y-%m-%d %H:%M} UTC")
    return deleted


@dg.job(description="Delete finished runs older than the retention period, with their event logs.")
def purge_runs_job():
    purge_old_runs()


purge_runs_schedule = dg.ScheduleDefinition(
    name="purge_runs_schedule",
    job=purge_runs_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily 03:30 UTC: delete finished runs older than ECOMMERCE_RUN_RETENTION_DAYS (instance retention covers ticks only).",
)
