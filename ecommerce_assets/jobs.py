"""Jobs over the asset graph."""

import dagster as dg

# Every weekly-partitioned asset carries the tag "weekly" (dbt models through their dbt tag).
WEEKLY_ASSETS = dg.AssetSelection.tag("weekly", "")
HISTORY_ASSETS = dg.AssetSelection.tag("history", "") | dg.AssetSelection.assets("dashboard")

# The path of one week, stage by stage, in order: what the benchmarks time and the fault suite kills.
_LOADED = dg.AssetSelection.assets("raw_events", "clean_events", "rejected_events", "warehouse_events")
STAGES = {
    "raw split": dg.AssetSelection.assets("raw_events"),
    "spark clean": dg.AssetSelection.assets("clean_events", "rejected_events"),
    "warehouse load": dg.AssetSelection.assets("warehouse_events"),
    "weekly dbt": WEEKLY_ASSETS - _LOADED,
    "history dbt": dg.AssetSelection.tag("history", ""),
    "dashboard": dg.AssetSelection.assets("dashboard"),
}

weekly_events_job = dg.define_asset_job(
    "weekly_events_job",
    selection=WEEKLY_ASSETS,
    description="Raw split, Spark clean, warehouse load and weekly dbt models for a week or a range of weeks.",
)

marts_job = dg.define_asset_job(
    "marts_job",
    selection=HISTORY_ASSETS,
    description="Dimensions, marts and the dashboard over all loaded weeks.",
)
