"""The one place Definitions are assembled."""

import dagster as dg

from ecommerce_assets.assets import clean, dbt, landing, raw, warehouse
from ecommerce_assets.jobs import landing_job, marts_job, weekly_events_job
from ecommerce_assets.resources import build_resources
from ecommerce_assets.settings import load_settings

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([landing, raw, clean, warehouse, dbt]),
    jobs=[landing_job, weekly_events_job, marts_job],
    resources=build_resources(load_settings()),
)
