"""Test helpers: run the weekly assets in process and compute expected figures independently."""

import datetime as dt
import gzip
from collections import Counter
from pathlib import Path

import dagster as dg

from ecommerce_assets import definitions
from ecommerce_assets.defs.jobs import WEEKLY_ASSETS
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import Settings
from ecommerce_assets_tests.stages import WEEKLY_STAGES

WEEKLY = WEEKLY_ASSETS
HISTORY = dg.AssetSelection.tag("history", "")
# Every asset the code location defines, as its defs folder loads them.
ALL_ASSETS = list(definitions.defs.assets or [])

# The path of one week, stage by stage, in order: what the benchmarks time and the fault suite kills.
_LOADED = dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events", "warehouse_events")
STAGES = {
    "raw split": dg.AssetSelection.assets("raw_events"),
    "spark clean": dg.AssetSelection.assets("clean_events", "rejected_events"),
    "warehouse load": dg.AssetSelection.assets("warehouse_events"),
    "weekly dbt": WEEKLY_ASSETS - _LOADED,
    "history dbt": HISTORY,
    "dashboard": dg.AssetSelection.assets("dashboard"),
}
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_weeks(selection: dg.AssetSelection, first: str | None, last: str | None, resources: dict, **kwargs):
    """One run of ``selection`` in this process, as the UI or the CLI starts it: for one week its
    partition, for a range of weeks a single-run backfill (the range tags), with no week unpartitioned."""
    partition_key, tags = None, dict(kwargs.pop("tags", {}))
    if first is not None and (last is None or last == first):
        partition_key = first
    elif first is not None:
        tags.update(zip(RANGE_TAGS, (first, last)))
    return dg.materialize(ALL_ASSETS, selection=selection, partition_key=partition_key, tags=tags, resources=resources, **kwargs)


def run_stage(stage: str, weeks: list[str], resources: dict, **kwargs):
    """One stage of STAGES as one run: a weekly stage over ``weeks``, a history stage over every week."""
    first, last = (weeks[0], weeks[-1]) if stage in WEEKLY_STAGES else (None, None)
    return run_weeks(STAGES[stage], first, last, resources, **kwargs)


def materialize_weeks(
    settings: Settings,
    first: str,
    last: str | None = None,
    raise_on_error: bool = True,
    selection: dg.AssetSelection = WEEKLY,
    instance: dg.DagsterInstance | None = None,
):
    """Materialize the weekly assets for one week, or a range of weeks in a single run."""
    return run_weeks(selection, first, last, build_resources(settings), raise_on_error=raise_on_error, instance=instance)


def lines_by_week(files: list[Path]) -> dict[dt.date, list[str]]:
    """Data lines of Kaggle files grouped by the Monday of their date, read without the project's code."""
    weeks: dict[dt.date, list[str]] = {}
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            next(handle)
            for line in handle:
                day = dt.date.fromisoformat(line[:10])
                weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(line.rstrip("\n"))
    return weeks


def duplicate_count(lines: list[str]) -> int:
    return sum(n - 1 for n in Counter(lines).values())


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
