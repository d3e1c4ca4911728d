"""The landing zone, watched: a dump landed, redelivered or copied in by hand is noticed, and the weeks a
changed or new month feeds are built.

Each tick looks at every month's dump without reading it (size and mtime, or the ETag; see
``landing_versions``) and records an observation of ``landing_files`` only for a month whose content
version differs from the last one recorded. A month seen before with another version is a redelivery: the
weeks that overlap it and were built are launched again, in one run of ``weekly_events_job`` per range of
consecutive weeks (the dimensions, marts and dashboard follow by their automation condition). A month seen
for the first time once weeks are built is new data on a running pipeline: its built weeks (the half week
it completes) and its weeks past the last built one are launched the same way. Months landed before
anything was built are only recorded: the first backfill is the user's.

With the month bounds unset, the partitions end with the last month landed when the code location loaded;
a month landed past them makes the sensor reload the code location through the webserver (at most once
every five minutes while it stays past them), and the tick after the reload observes it.
The cursor keeps each dump's stamp and checksum, so an unchanged dump is never read again.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg

from ecommerce_assets.defs.jobs import weekly_events_job
from ecommerce_assets.defs.landing.code_reload import reload_code_location
from ecommerce_assets.lib.kaggle import weeks_of_month
from ecommerce_assets.lib.landing_versions import LandedMonth, landed_months, outdated
from ecommerce_assets.defs.raw.raw_events import LANDING_READ
from ecommerce_assets.defs.partitions import SPAN, monthly_partitions_def, weekly_partitions_def
from ecommerce_assets.defs.resources import LakeResource
from ecommerce_assets.lib.settings import current

LANDING = dg.AssetKey("landing_files")
RAW = dg.AssetKey("raw_events")
DATA_VERSION_TAG = "dagster/data_version"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
RELOAD = "_reload"  # cursor key (no dump's name starts with "_"): [month past the partitions, when asked]
CHECKED = "_checked"  # cursor key: storage id of the last raw_events materialization compared with the landing
RELOAD_EVERY_SECONDS = 300


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


def weeks_to_build(month: LandedMonth, built: set[str], first_seen: bool) -> list[dt.date]:
    """The weeks a month's new version feeds: those built, and for a month seen for the first time once
    weeks are built, those past the last built week too. Nothing for a month landed before any build."""
    weeks = [week for week in weeks_of_month(month.month) if weekly_partitions_def.has_partition_key(week.isoformat())]
    if first_seen:
        last = max(built, default=None)
        return [week for week in weeks if last is not None and (week.isoformat() in built or week.isoformat() > last)]
    return [week for week in weeks if week.isoformat() in built]


def rebuild_requests(key: str, weeks: list[dt.date], reason: str) -> list[dg.RunRequest]:
    """One run per range of consecutive weeks; ``key`` makes the run key unique to what prompted them."""
    return [
        dg.RunRequest(
            run_key=f"landing-{key}-{run[0]}",
            tags={RANGE_TAGS[0]: run[0].isoformat(), RANGE_TAGS[1]: run[-1].isoformat(), "ecommerce/landing": reason},
        )
        for run in consecutive(weeks)
    ]


def read_before_a_change(instance: dg.DagsterInstance, after: int | None, now: dict[str, LandedMonth]) -> tuple[set[dt.date], int | None]:
    """Weeks whose raw_events materializations since storage id ``after`` read a dump that has changed
    since (a month landed again while a run was splitting it), and the last storage id looked at."""
    weeks: set[dt.date] = set()
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=RAW, after_storage_id=after), limit=1000,
                                              ascending=True).records
    for record in records:
        read = record.asset_materialization.metadata.get(LANDING_READ) if record.asset_materialization else None
        if read and any(name in now and outdated(version, now[name]) for name, version in read.value.items()):
            weeks.add(dt.date.fromisoformat(record.partition_key))
        after = record.storage_id
    return weeks, after


@dg.sensor(
    job=weekly_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes the landing zone; a redelivered month reruns exactly the weeks it feeds.",
)
def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor or "{}")
    reload_asked, checked = cursor.pop(RELOAD, None), cursor.pop(CHECKED, None)
    known = {name: (stamp, checksum) for name, (stamp, checksum) in cursor.items()}
    store = lake.lake
    if current().last_month is None and (past := [m for m in store.months_in_landing() if m >= SPAN.months_end]):
        month = past[-1].isoformat()
        if reload_asked is None or reload_asked[0] != month or time.time() - reload_asked[1] > RELOAD_EVERY_SECONDS:
            failed = reload_code_location(current().webserver_url)
            context.log.info(f"{', '.join(f'{m:%Y-%m}' for m in past)} landed past the partitions (last month "
                             f"{SPAN.last_month:%Y-%m}): " + (f"reload failed, {failed}" if failed else "code location reloaded"))
            reload_asked = [month, time.time()]
    else:
        reload_asked = None
    months = [dt.date.fromisoformat(key) for key in monthly_partitions_def.get_partition_keys()]
    landed = landed_months(store, months, known)
    built = set(context.instance.get_materialized_partitions(RAW)) & set(weekly_partitions_def.get_partition_keys())
    observations, requests, requested = [], [], set()
    for month in landed:
        key = month.month.isoformat()
        recorded = recorded_version(context.instance, key)
        # What this sensor saw last, else what was recorded: an "Observe" by hand records a new version
        # without hiding the change from the sensor.
        previous = known[month.name][1] if month.name in known else recorded
        if recorded != month.sha256:
            observations.append(dg.AssetObservation(
                asset_key=LANDING, partition=key, tags={DATA_VERSION_TAG: month.sha256},
                metadata={"file": month.name, "bytes": month.size, "sha256": month.sha256,
                          "previous_sha256": recorded or "", "read_to_hash": month.hashed},
            ))
        if previous == month.sha256:
            continue
        weeks = weeks_to_build(month, built, first_seen=previous is None)
        requests += rebuild_requests(f"{month.month:%Y-%m}-{month.sha256[:16]}", weeks, f"{month.name} {month.sha256[:16]}")
        requested.update(weeks)
        if weeks:
            change = "is new" if previous is None else f"changed ({previous[:12]} -> {month.sha256[:12]})"
            context.log.info(f"{month.name} {change}: building weeks {', '.join(map(str, weeks))}")
    # A run that split a month just before it changed may record its weeks after the change was seen.
    stale, checked = read_before_a_change(context.instance, checked, {m.name: m for m in landed})
    if stale := sorted(stale - requested):
        requests += rebuild_requests(f"reread-{checked}", stale, "read before a change")
        context.log.info(f"weeks {', '.join(map(str, stale))} were split from a dump that has changed since: building them again")
    state = {m.name: [m.stamp, m.sha256] for m in landed}
    extra = {CHECKED: checked, **({RELOAD: reload_asked} if reload_asked else {})}
    context.update_cursor(json.dumps({**state, **extra}, sort_keys=True))
    return dg.SensorResult(run_requests=requests, asset_events=observations)
