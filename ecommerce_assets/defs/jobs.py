"""Jobs over the asset graph."""

import dagster as dg

# Every weekly-partitioned asset carries the tag "weekly" (dbt models through their dbt tag).
WEEKLY_ASSETS = dg.AssetSelection.tag("weekly", "")
HISTORY_ASSETS = dg.AssetSelection.tag("history", "") | dg.AssetSelection.assets("dashboard")

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
