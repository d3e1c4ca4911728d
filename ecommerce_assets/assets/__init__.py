"""One module per layer, each named for the assets it defines: landing -> raw -> clean -> warehouse -> dbt -> dashboard."""

from ecommerce_assets import warnings_filter  # noqa: F401 (before the asset modules, which would warn)
from ecommerce_assets.assets import clean_events, dashboard, dbt_models, landing_files, raw_events, warehouse_events

LAYERS = [landing_files, raw_events, clean_events, warehouse_events, dbt_models, dashboard]
