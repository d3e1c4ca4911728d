"""One self-contained HTML dashboard from the marts (plotly, its JavaScript inlined: opens offline).

Pure rendering: ``render_dashboard`` takes a read-only DuckDB connection to the warehouse and returns
the HTML text; the Dagster asset only decides where it goes.
"""

from __future__ import annotations

import datetime as dt
import html

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TEMPLATE = "plotly_white"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _layout(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, height: int = 380) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, height=height, margin={"l": 60, "r": 30, "t": 60, "b": 50})
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def _kpis(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    events, revenue, purchases, sessions, purchase_sessions = _rows(
        con,
        "select sum(events), sum(revenue), sum(purchases), sum(sessions), sum(purchase_sessions) from marts.mart_daily_kpis",
    )[0]
    users, buyers = _rows(
        con, "select count(*), count(case when lifetime_purchases > 0 then 1 end) from core.dim_users"
    )[0]
    return [
        ("Events", f"{events:,}"),
        ("Users", f"{users:,}"),
        ("Buyers", f"{buyers:,}"),
        ("Revenue", f"${float(revenue):,.0f}"),
        ("Avg order value", f"${float(revenue) / max(purchase_sessions, 1):,.2f}"),
        ("Session conversion", f"{purchase_sessions / max(sessions, 1):.2%}"),
        ("Purchases", f"{purchases:,}"),
    ]


def _charts(con: duckdb.DuckDBPyConnection) -> list[go.Figure]:
    charts = []
    monthly = _rows(
        con,
        """
        select strftime(date_trunc('month', date_day), '%Y-%m') as month, sum(views), sum(carts), sum(purchases),
               sum(revenue), sum(sessions), sum(cart_sessions), sum(purchase_sessions), sum(buyers), sum(dau)
        from marts.mart_daily_kpis group by 1 order by 1
        """,
    )
    months = [r[0] for r in monthly]
    fig = go.Figure([go.Bar(name=name, x=months, y=[r[i] for r in monthly]) for i, name in ((1, "view"), (2, "cart"), (3, "purchase"))])
    charts.append(_layout(fig.update_layout(barmode="stack"), "Monthly events by type", "Month", "Events"))

    rates = {
        "session -> cart": [r[6] / max(r[5], 1) for r in monthly],
        "session -> purchase": [r[7] / max(r[5], 1) for r in monthly],
        "active user -> buyer (daily)": [r[8] / max(r[9], 1) for r in monthly],
    }
    fig = go.Figure(go.Heatmap(z=list(rates.values()), x=months, y=list(rates), colorscale="Blues",
                               texttemplate="%{z:.1%}", colorbar={"title": "rate", "tickformat": ".0%"}))
    charts.append(_layout(fig, "Monthly conversion", "Month", None, 320))

    segments = _rows(con, "select segment, count(*) from marts.mart_rfm group by 1 order by 2 desc")
    fig = go.Figure(go.Pie(labels=[s for s, _ in segments], values=[n for _, n in segments], hole=0.5))
    charts.append(_layout(fig, "RFM segments (buyers)"))

    active = _rows(con, "select date_day, dau, wau from marts.mart_active_users order by 1")
    fig = go.Figure([
        go.Scatter(name="DAU", x=[r[0] for r in active], y=[r[1] for r in active], mode="lines"),
        go.Scatter(name="WAU (ISO week)", x=[r[0] for r in active], y=[r[2] for r in active], mode="lines"),
    ])
    charts.append(_layout(fig, "Daily and weekly active users", "Day", "Users"))

    mau = _rows(con, "select distinct strftime(month_start, '%Y-%m'), mau, month_stickiness from marts.mart_active_users order by 1")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(name="MAU", x=[r[0] for r in mau], y=[r[1] for r in mau]), secondary_y=False)
    fig.add_trace(go.Scatter(name="stickiness (avg DAU / MAU)", x=[r[0] for r in mau], y=[r[2] for r in mau],
                             mode="lines+markers"), secondary_y=True)
    fig.update_yaxes(title_text="Monthly active users", secondary_y=False)
    fig.update_yaxes(title_text="Stickiness", tickformat=".0%", secondary_y=True)
    charts.append(_layout(fig, "MAU and stickiness", "Month"))

    retention = _rows(
        con,
        "select strftime(cohort_week, '%Y-%m-%d'), week_offset, retention_rate from marts.mart_retention_weekly "
        "where week_offset <= 12 order by 1, 2",
    )
    cohorts = sorted({r[0] for r in retention})
    grid = {(c, o): rate for c, o, rate in retention}
    fig = go.Figure(go.Heatmap(
        z=[[grid.get((c, o)) for o in range(13)] for c in cohorts], x=[f"week {o}" for o in range(13)], y=cohorts,
        colorscale="Greens", zmin=0, zmax=0.5, colorbar={"title": "retained", "tickformat": ".0%"},
    ))
    fig.update_yaxes(autorange="reversed")
    charts.append(_layout(fig, "Weekly cohort retention (cohort = first active week)", "Weeks since first activity", "Cohort", 520))

    tiers = _rows(
        con,
        "select value_tier, count(*), sum(lifetime_revenue) from marts.mart_customer_value where value_tier <> 'none' "
        "group by 1 order by array_position(['platinum', 'gold', 'silver', 'bronze'], value_tier)",
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(name="buyers", x=[t[0] for t in tiers], y=[t[1] for t in tiers]), secondary_y=False)
    fig.add_trace(go.Scatter(name="revenue", x=[t[0] for t in tiers], y=[float(t[2]) for t in tiers], mode="lines+markers"), secondary_y=True)
    fig.update_yaxes(title_text="Buyers", secondary_y=False)
    fig.update_yaxes(title_text="Lifetime revenue ($)", secondary_y=True)
    charts.append(_layout(fig, "Customer value tiers", "Tier"))

    fig = go.Figure(go.Bar(x=months, y=[float(r[4]) for r in monthly]))
    charts.append(_layout(fig, "Monthly revenue", "Month", "Revenue ($)"))

    daily = _rows(con, "select date_day, purchases from marts.mart_daily_kpis order by 1")
    first_monday = daily[0][0].toordinal() - daily[0][0].weekday()
    weeks = sorted({(d.toordinal() - first_monday) // 7 for d, _ in daily})
    calendar = [[None] * len(weeks) for _ in WEEKDAYS]
    for day, purchases in daily:
        calendar[day.weekday()][(day.toordinal() - first_monday) // 7] = purchases
    week_labels = [dt.date.fromordinal(first_monday + 7 * w).isoformat() for w in weeks]
    fig = go.Figure(go.Heatmap(z=calendar, x=week_labels, y=list(WEEKDAYS), colorscale="Oranges",
                               colorbar={"title": "purchases"}))
    fig.update_yaxes(autorange="reversed")
    charts.append(_layout(fig, "Daily purchases (calendar)", "Week starting", None, 320))

    categories = _rows(
        con,
        "select category_l1, sum(revenue) from marts.mart_revenue_by_category group by 1 order by 2 desc",
    )
    top, rest = categories[:7], sum(float(r[1]) for r in categories[7:])
    fig = go.Figure(go.Pie(labels=[c for c, _ in top] + (["other"] if rest else []),
                           values=[float(v) for _, v in top] + ([rest] if rest else [])))
    charts.append(_layout(fig, "Revenue share of the top 7 categories"))

    brands = _rows(con, "select brand, sum(revenue) from marts.mart_revenue_by_brand group by 1 order by 2 desc limit 7")
    fig = go.Figure(go.Treemap(labels=[b for b, _ in brands], parents=[""] * len(brands),
                               values=[float(v) for _, v in brands], texttemplate="%{label}<br>$%{value:,.0f}"))
    charts.append(_layout(fig, "Top 7 brands by revenue"))

    hours = _rows(con, "select event_hour, sum(purchases) from marts.mart_purchase_heatmap group by 1 order by 1")
    fig = go.Figure(go.Bar(x=[h for h, _ in hours], y=[n for _, n in hours]))
    charts.append(_layout(fig, "Purchases by hour of day (UTC)", "Hour (UTC)", "Purchases"))

    cells = _rows(con, "select iso_weekday, event_hour, purchases from marts.mart_purchase_heatmap")
    grid = {(d, h): n for d, h, n in cells}
    fig = go.Figure(go.Heatmap(z=[[grid.get((d, h), 0) for h in range(24)] for d in range(1, 8)],
                               x=list(range(24)), y=list(WEEKDAYS), colorscale="Purples",
                               colorbar={"title": "purchases"}))
    fig.update_yaxes(autorange="reversed")
    charts.append(_layout(fig, "Purchases by weekday and hour (UTC)", "Hour (UTC)", None, 340))
    return charts


def render_dashboard(con: duckdb.DuckDBPyConnection, title: str = "E-commerce behaviour") -> tuple[str, int]:
    """The dashboard's HTML and how many charts it holds."""
    charts = _charts(con)
    cards = "".join(
        f'<div class="card"><div class="label">{html.escape(k)}</div><div class="value">{html.escape(v)}</div></div>'
        for k, v in _kpis(con)
    )
    divs = "".join(
        '<section class="chart">'
        + fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{i}", default_width="100%",
                      config={"responsive": True, "displaylogo": False})
        + "</section>"
        for i, fig in enumerate(charts)
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; background: #f6f7f9; color: #1d2330; }}
h1 {{ margin: 0 0 16px; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 20px; }}
.card {{ background: white; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
.label {{ font-size: 13px; color: #5b6474; }} .value {{ font-size: 24px; font-weight: 600; margin-top: 4px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }}
.chart {{ background: white; border-radius: 8px; padding: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); min-width: 0; overflow: hidden; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<div class="cards">{cards}</div>
<div class="grid">{divs}</div>
</body></html>
"""
    return page, len(charts)
