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


def materialize_weeks(
    settings: Settings,
    first: str,
    last: str | None = None,
    raise_on_error: bool = True,
    selection: dg.AssetSelection = WEEKLY,
    instance: dg.DagsterInstance | None = None,
):
    """Materialize the weekly assets for one week, or a range of weeks in a single run."""
    tags = {}
    partition_key = None
    if last is None or last == first:
        partition_key = first
    else:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=partition_key,
        tags=tags,
        resources=build_resources(settings),
        raise_on_error=raise_on_error,
        instance=instance,
    )


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
