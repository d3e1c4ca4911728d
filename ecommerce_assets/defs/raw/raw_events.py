"""Raw weekly files: each week's lines copied unchanged from the month(s) it overlaps."""

import datetime as dt
import logging
import zipfile
from collections import Counter
from dataclasses import dataclass, field

import dagster as dg

from ecommerce_assets.defs.step_helpers import RETRY, code_version, disk_full, weeks_of
from ecommerce_assets.lib.lake import LakeStore, MissingLandingFile
from ecommerce_assets.lib.landing_versions import read_version, stamp_of
from ecommerce_assets.defs.partitions import weekly_partitions_def
from ecommerce_assets.lib.raw_split import LandingFormatError, split_month
from ecommerce_assets.defs.resources import LakeResource
from ecommerce_assets.lib.settings import current
from ecommerce_assets.lib.span import span_of


# The raw week's metadata naming each dump it read, as read: the landing sensor reruns a week read before a change.
LANDING_READ = "landing_read"


def _read_errors(on_s3: bool) -> tuple[type[BaseException], ...]:
    """What reading a landing file can raise, besides its format errors; boto's only on an S3 lake."""
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError)
    if on_s3:
        from botocore.exceptions import BotoCoreError, ClientError

        errors += (BotoCoreError, ClientError)
    return errors


def _discard(store: LakeStore, folders: list) -> None:
    """A failed run leaves the previous weeks in place: only its own staging goes."""
    for folder in folders:
        store.discard(folder)


@dataclass
class RawWeeks:
    weeks: list[dt.date]
    rows_by_week: Counter = field(default_factory=Counter)
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per week, per dump read: its stamp and checksum as read (``landing_versions.read_version``).
    versions: dict[str, dict[str, dict]] = field(default_factory=dict)
    unroutable: Counter = field(default_factory=Counter)


def publish_raw_weeks(store: LakeStore, weeks: list[dt.date], log: logging.Logger, on_s3: bool) -> RawWeeks:
    """Split the landing months that ``weeks`` overlap into the weeks' raw parts and publish them: the
    raw_events asset, and the clean step rebuilding weeks whose parts were dropped (raw retention)."""
    result = RawWeeks(weeks, sources={week.isoformat(): {} for week in weeks}, versions={week.isoformat(): {} for week in weeks})
    stages = {week: store.staging(f"raw-{week}") for week in weeks}
    read_errors = _read_errors(on_s3)
    # A month is read once per run, however many of the run's weeks it feeds.
    for month in span_of(current(), store.months_in_landing()).months_overlapping(weeks):
        unroutable_stage = store.staging(f"unroutable-{month:%Y-%m}")
        source = None
        try:
            source = store.landing_file(month)
            version = read_version(source)
            split = split_month(source, month, stages, unroutable_stage)
            after = stamp_of(store.landing_file(month))
        except (MissingLandingFile, LandingFormatError) as error:
            _discard(store, [*stages.values(), unroutable_stage])
            # The same file fails the same way seconds later: no retry.
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except read_errors as error:
            _discard(store, [*stages.values(), unroutable_stage])
            if (full := disk_full(error, f"the raw weeks into {store.staging_root} (lake {store.url})")) is not None:
                raise full from None
            where = source.name if source else f"the landing zone ({month:%Y-%m})"
            raise dg.Failure(description=f"{where}: reading failed ({error}); the file is damaged, incomplete or unreachable") from None
        if after != version["stamp"]:
            # Landed again while it was read: publishing would give weeks of the old file a new file's version.
            _discard(store, [*stages.values(), unroutable_stage])
            raise dg.Failure(description=f"{source.name} changed while it was read (stamp {version['stamp']} -> {after}): "
                                         "no week was published; the retry reads the new file")
        store.publish(
            unroutable_stage,
            store.unroutable_month(month),
            {"month": f"{month:%Y-%m}", "source": source.name, "rows": sum(split.unroutable.values()),
             "by_reason": dict(split.unroutable)},
        )
        log.info(f"{source.name}: {split.rows_read} lines, {sum(split.unroutable.values())} unroutable")
        result.unroutable.update(split.unroutable)
        result.rows_by_week.update(split.rows_by_week)
        for week, rows in split.rows_by_week.items():
            result.sources[week.isoformat()][source.name] = rows
            result.versions[week.isoformat()][source.name] = version
    for week, stage in stages.items():
        manifest = {"week": week.isoformat(), "rows": result.rows_by_week[week], "sources": result.sources[week.isoformat()]}
        store.publish(stage, store.raw_week(week), manifest)
    return result


@dg.asset(
    partitions_def=weekly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"weekly": ""},
    deps=[dg.AssetDep("landing_files", partition_mapping=dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True))],
    group_name="lake",
    kinds={"csv"},
    code_version=code_version("ecommerce_assets.lib.raw_split", "ecommerce_assets.lib.kaggle"),
    retry_policy=RETRY,
    description="`lake/raw/events/week=YYYY-MM-DD/part-*.csv.gz`: the week's lines as delivered, in several gzip parts, each with a line map (`part-*.lines.gz`) back to the landing file.",
)
def raw_events(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    split = publish_raw_weeks(lake.lake, weeks_of(context), context.log, lake.on_s3)
    for week in split.weeks:
        # Each week's own figures on its own materialization, not the run's totals.
        context.add_asset_metadata(
            {"rows": split.rows_by_week[week], "bytes": lake.lake.partition_bytes(lake.lake.raw_week(week)),
             "sources": dg.MetadataValue.json(split.sources[week.isoformat()]),
             LANDING_READ: dg.MetadataValue.json(split.versions[week.isoformat()])},
            partition_key=week.isoformat(),
        )
    return dg.MaterializeResult(
        metadata={
            "lake": lake.lake.url,
            # Lines of the run's source months that no week could take (see quarantine/unroutable).
            "unroutable_in_source_months": dg.MetadataValue.json(dict(split.unroutable)),
        }
    )
