"""Jobs over the asset graph."""

import dagster as dg

from ecommerce_assets.partitions import monthly_partitions_def, weekly_partitions_def

landing_job = dg.define_asset_job(
    "landing_job",
    selection=dg.AssetSelection.assets("landing_files"),
    partitions_def=monthly_partitions_def,
    description="Validate the monthly dumps in the landing zone.",
)

weekly_events_job = dg.define_asset_job(
    "weekly_events_job",
    selection=dg.AssetSelection.assets("raw_events").downstream(),
    partitions_def=weekly_partitions_def,
    description="Raw split, Spark clean, warehouse load and weekly dbt models for a week or a range of weeks.",
)
