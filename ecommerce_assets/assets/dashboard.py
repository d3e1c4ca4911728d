"""The dashboard: one self-contained HTML file rendered from the marts."""

import dagster as dg

from ecommerce_assets.assets.dbt import WAREHOUSE_POOL
from ecommerce_assets.dashboard import render_dashboard
from ecommerce_assets.resources import ReportsResource
from ecommerce_assets.warehouses import Warehouse

SOURCES = [
    dg.AssetKey(["marts", name])
    for name in (
        "mart_daily_kpis", "mart_active_users", "mart_rfm", "mart_retention_weekly", "mart_customer_value",
        "mart_revenue_by_category", "mart_revenue_by_brand", "mart_purchase_heatmap",
    )
] + [dg.AssetKey(["core", "dim_users"])]


@dg.asset(
    deps=SOURCES,
    group_name="marts",
    kinds={"html", "plotly"},
    pool=WAREHOUSE_POOL,
    automation_condition=dg.AutomationCondition.eager(),
    description="<reports>/dashboard.html: KPI cards and 13 charts from the marts; opens offline (no CDN).",
)
def dashboard(warehouse: Warehouse, reports: ReportsResource) -> dg.MaterializeResult:
    with warehouse.dashboard_connection() as connection:
        page, charts = render_dashboard(connection)
    path = reports.write("dashboard.html", page)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "open": dg.MetadataValue.url(path.as_uri()),
            "charts": charts,
            "bytes": path.stat().st_size,
        }
    )
