"""The one place Definitions are assembled."""

import dagster as dg

from ecommerce_assets.assets import clean, dashboard, dbt, landing, raw, warehouse
from ecommerce_assets.checks import fact_freshness_checks, freshness_sensor
from ecommerce_assets.jobs import landing_job, marts_job, weekly_events_job
from ecommerce_assets.resources import build_resources
from ecommerce_assets.retention import run_retention_job, run_retention_schedule
from ecommerce_assets.schedules import weekly_schedule
from ecommerce_assets.sensors import history_replay_sensor
from ecommerce_assets.settings import load_settings

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([landing, raw, clean, warehouse, dbt, dashboard]),
    asset_checks=fact_freshness_checks,
    jobs=[landing_job, weekly_events_job, marts_job, run_retention_job],
    schedules=[weekly_schedule, run_retention_schedule],
    sensors=[history_replay_sensor, freshness_sensor],
    resources=build_resources(load_settings()),
)
