"""The monthly dumps as delivered to the lake's landing zone."""

import datetime as dt

import dagster as dg

from ecommerce_assets.lake import MissingLandingFile
from ecommerce_assets.partitions import monthly_partitions_def
from ecommerce_assets.raw_split import LandingFormatError, read_header
from ecommerce_assets.resources import LakeResource


@dg.asset(
    partitions_def=monthly_partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="landing",
    kinds={"csv"},
    description="Kaggle monthly dumps (YYYY-Mon.csv or .csv.gz) found in `lake/landing/`; validated, not copied.",
)
def landing_files(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    months = [dt.date.fromisoformat(key) for key in context.partition_keys]
    files = {}
    try:
        for month in months:
            path = lake.lake.landing_file(month)
            read_header(path)
            files[f"{month:%Y-%m}"] = path
    except (MissingLandingFile, LandingFormatError) as error:
        raise dg.Failure(description=str(error)) from None
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.json({month: source.name for month, source in files.items()}),
            "bytes": sum(source.size for source in files.values()),
        }
    )
