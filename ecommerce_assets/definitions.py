"""The one place Definitions are assembled."""

import dagster as dg

from ecommerce_assets.assets import LAYERS
from ecommerce_assets.automation import automation_sensor
from ecommerce_assets.jobs import marts_job, weekly_events_job
from ecommerce_assets.landing_sensor import landing_sensor
from ecommerce_assets.resources import build_resources
from ecommerce_assets.run_purge import purge_runs_job, purge_runs_schedule
from ecommerce_assets.schedules import weekly_schedule
from ecommerce_assets.sensors import history_replay_sensor
from ecommerce_assets.settings import current

# Steps run in processes forked from a server that imported the code location and the instance's
# storage once per run (step_preload.py), instead of importing them again per step ("spawn").
executor = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["ecommerce_assets.step_preload"]}}}
)

defs = dg.Definitions(
    assets=dg.with_source_code_references(dg.load_assets_from_modules(LAYERS)),
    jobs=[weekly_events_job, marts_job, purge_runs_job],
    schedules=[weekly_schedule, purge_runs_schedule],
    sensors=[history_replay_sensor, automation_sensor, landing_sensor],
    resources=build_resources(current()),
    executor=executor,
)
