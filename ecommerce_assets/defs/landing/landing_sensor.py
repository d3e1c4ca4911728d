"""The landing zone, watched: a dump landed, redelivered or copied in by hand is noticed, and the weeks a
changed month feeds are rebuilt.

Each tick looks at every month's dump without reading it (size and mtime, or the ETag; see
``landing_versions``) and records an observation of ``landing_files`` only for a month whose content
version differs from the last one recorded. A month seen before with another version is a redelivery: the
weeks that overlap it and were built are launched again in one run of ``weekly_events_job`` (the
dimensions, marts and dashboard follow by their automation condition). A month seen for the first time
is only recorded: a new month's weeks are built by the weekly schedule, a backfill, or the replay sensor.
The cursor keeps each dump's stamp and checksum, so an unchanged dump is never read again.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from ecommerce_assets.defs.jobs import weekly_events_job
from ecommerce_assets.lib.kaggle import weeks_of_month
from ecommerce_assets.lib.landing_versions import LandedMonth, landed_months
from ecommerce_assets.defs.partitions import monthly_partitions_def, weekly_partitions_def
from ecommerce_assets.defs.resources import LakeResource

LANDING = dg.AssetKey("landing_files")
RAW = dg.AssetKey("raw_events")
DATA_VERSION_TAG = "dagster/data_version"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def recorded_version(instance: dg.DagsterInstance, month: str) -> str | None:
    """The data version of the month's latest observation, if any."""
    records = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=LANDING, asset_partitions=[month]), limit=1).records
    observation = records[0].event_log_entry.asset_observation if records else None
    return observation.tags.get(DATA_VERSION_TAG) if observation is not None else None


def consecutive(weeks: list[dt.date]) -> list[list[dt.date]]:
    """Sorted weeks in runs of consecutive Mondays."""
    runs: list[list[dt.date]] = []
    for week in sorted(weeks):
        if runs and week - runs[-1][-1] == dt.timedelta(days=7):
            runs[-1].append(week)
        else:
            runs.append([week])
    return runs


def rebuild_requests(month: LandedMonth, built: set[str]) -> list[dg.RunRequest]:
    """One run per range of built weeks overlapping ``month``, keyed by the month's new version."""
    weeks = [week for week in weeks_of_month(month.month) if week.isoformat() in built]
    return [
        dg.RunRequest(
            run_key=f"landing-{month.month:%Y-%m}-{month.sha256[:16]}-{run[0]}",
            tags={RANGE_TAGS[0]: run[0].isoformat(), RANGE_TAGS[1]: run[-1].isoformat(),
                  "ecommerce/landing": f"{month.name} {month.sha256[:16]}"},
        )
        for run in consecutive(weeks)
    ]


@dg.sensor(
    job=weekly_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes the landing zone; a redelivered month reruns exactly the weeks it feeds.",
)
def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    known = {name: (stamp, checksum) for name, (stamp, checksum) in json.loads(context.cursor or "{}").items()}
    months = [dt.date.fromisoformat(key) for key in monthly_partitions_def.get_partition_keys()]
    landed = landed_months(lake.lake, months, known)
    built = set(context.instance.get_materialized_partitions(RAW)) & set(weekly_partitions_def.get_partition_keys())
    observations, requests = [], []
    for month in landed:
        key = month.month.isoformat()
        previous = recorded_version(context.instance, key)
        if previous == month.sha256:
            continue
        observations.append(dg.AssetObservation(
            asset_key=LANDING, partition=key, tags={DATA_VERSION_TAG: month.sha256},
            metadata={"file": month.name, "bytes": month.size, "sha256": month.sha256,
                      "previous_sha256": previous or "", "read_to_hash": month.hashed},
        ))
        if previous is not None:
            requests += rebuild_requests(month, built)
            context.log.info(f"{month.name} changed ({previous[:12]} -> {month.sha256[:12]}): rerunning its built weeks")
    context.update_cursor(json.dumps({m.name: [m.stamp, m.sha256] for m in landed}, sort_keys=True))
    return dg.SensorResult(run_requests=requests, asset_events=observations)
