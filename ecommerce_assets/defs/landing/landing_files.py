"""The monthly dumps as delivered to the lake's landing zone: observed, never produced by the pipeline.

Each month's data version is the SHA-256 of its dump (``landing_versions``). A raw week built after its
months were observed records their versions; when a month's version changes, the UI shows exactly the
weeks that overlap it as stale ("has a new dependency data version"). ``landing_sensor`` observes the
landing zone on its own and reruns the weeks a changed month feeds; "Observe" on the asset's page in the UI
does the same observation by hand.
"""

import datetime as dt

import dagster as dg

from ecommerce_assets.lib.landing_versions import landed_months
from ecommerce_assets.defs.partitions import monthly_partitions_def


@dg.observable_source_asset(
    partitions_def=monthly_partitions_def,
    group_name="landing",
    required_resource_keys={"lake"},
    description=(
        "Kaggle monthly dumps (YYYY-Mon.csv, .csv.gz, or inside a .zip) in `lake/landing/`; each month's data "
        "version is its SHA-256. Not copied: raw_events reads them."
    ),
)
def landing_files(context) -> dg.DataVersionsByPartition:
    months = [dt.date.fromisoformat(key) for key in monthly_partitions_def.get_partition_keys()]
    # Every month, whichever partition the observation was launched for: one look records the whole zone.
    landed = landed_months(context.resources.lake.lake, months)
    context.log.info("landed: " + (", ".join(f"{m.name} {m.sha256[:12]}" for m in landed) or "nothing"))
    if missing := sorted(set(months) - {m.month for m in landed}):
        context.log.warning(f"not landed: {', '.join(f'{m:%Y-%m}' for m in missing)} (the weeks holding their days "
                            "cannot be built; ECOMMERCE_FIRST_MONTH and ECOMMERCE_LAST_MONTH bound the months)")
    return dg.DataVersionsByPartition({m.month.isoformat(): dg.DataVersion(m.sha256) for m in landed})
