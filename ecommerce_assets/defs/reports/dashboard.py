"""The dashboard: one self-contained HTML file rendered from the marts."""

import dagster as dg

from ecommerce_assets.defs.step_helpers import WAREHOUSE_POOL, code_version
from ecommerce_assets.defs.automation import refresh_after_upstream
from ecommerce_assets.defs.resources import ReportsResource
from ecommerce_assets.lib.warehouses import Warehouse

# The tables the page reads (schema.name), which are also the asset's upstream dbt models.
TABLES = [
    "core.dim_users", "marts.mart_active_users", "marts.mart_customer_value", "marts.mart_daily_kpis",
    "marts.mart_purchase_heatmap", "marts.mart_retention_weekly", "marts.mart_revenue_by_brand",
    "marts.mart_revenue_by_category", "marts.mart_rfm",
]


@dg.asset(
    deps=[dg.AssetKey(table.split(".")) for table in TABLES],
    group_name="reports",
    kinds={"html", "plotly"},
    code_version=code_version("ecommerce_assets.lib.dashboard_page"),
    pool=WAREHOUSE_POOL,
    automation_condition=refresh_after_upstream(),
    description="`$ECOMMERCE_REPORTS_DIR/dashboard.html`: KPI cards and 13 charts from the marts; opens offline (no CDN).",
)
def dashboard(warehouse: dg.ResourceParam[Warehouse], reports: ReportsResource) -> dg.MaterializeResult:
    from ecommerce_assets.lib.dashboard_page import kpis, render_dashboard  # plotly: loaded by this step only

    with warehouse.dashboard_connection(TABLES) as connection:
        page, charts = render_dashboard(connection)
        headline = kpis(connection)
    path = reports.write("dashboard.html", page)
    figures = "\n".join(f"| {label} | {value} |" for label, value in headline)
    return dg.MaterializeResult(
        metadata={
            # The page's cards, readable in the UI; the page itself opens from the link or the path (a
            # browser may refuse a file:// link from the UI's http page: then paste the path).
            "headline": dg.MetadataValue.md(f"| figure | value |\n|---|---:|\n{figures}\n\n"
                                            f"Open `{path}` in a browser for the {charts} charts."),
            "open": dg.MetadataValue.url(path.as_uri()),
            "path": dg.MetadataValue.path(str(path)),
            "charts": charts,
            "bytes": path.stat().st_size,
        }
    )
