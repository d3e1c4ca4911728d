"""One self-contained HTML dashboard from the marts (plotly, its JavaScript inlined: opens offline).

Pure rendering: ``render_dashboard`` takes a read-only DuckDB connection to the warehouse and returns
the HTML text; the Dagster asset only decides where it goes.

The page must be right on any data, not only on the full history: months, cohorts and hours are
categorical axes (plotly would read "2019-10" or "2019-09-30" as dates and draw ticks that do not line up
with the bars), hours always show 0..23, days without data are gaps rather than interpolated lines, every
value axis starts at zero, and a mart without rows gives a message in place of its chart.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from decimal import Decimal

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = tuple(str(hour) for hour in range(24))
TEMPLATE = "plotly_white"
DAY_MS = 86_400_000
RETENTION_WEEKS = 12  # week offsets shown: 0..12
# A secondary axis picks its own round ticks (plotly.js syncs them to the primary grid by default: 6.1k, 12.2k).
SECONDARY = {"tickmode": "auto", "showgrid": False}
LEGEND_ON_TOP = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}


class NoData(Exception):
    """A chart's mart has nothing to draw; the message replaces the chart."""


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _require(rows: list, table: str, what: str = "data") -> list:
    if not rows:
        raise NoData(f"No {what} in {table} yet")
    return rows


def _month_label(month: dt.date) -> str:
    return f"{month:%b %Y}"


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _layout(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, height: int = 380) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, margin={"l": 60, "r": 30, "t": 60, "b": 50})
    if fig.layout.height is None:  # a chart may size itself to its data (the retention cohorts)
        fig.update_layout(height=height)
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def _categories(axis_update: Callable[..., go.Figure], labels: Sequence[str]) -> None:
    """A categorical axis holding exactly ``labels``, in that order, each with its own tick."""
    axis_update(type="category", categoryorder="array", categoryarray=list(labels), tickmode="array",
                tickvals=list(labels), ticktext=list(labels))


def _from_zero(fig: go.Figure) -> go.Figure:
    """Every value axis of a bar/line chart starts at zero. An axis whose values are all zero gets 0..1
    (plotly would centre it on zero, with negative ticks); a few counts get whole ticks (no 0.5 purchase)."""
    fig.update_yaxes(rangemode="tozero")
    values: dict[str, list[float]] = {}
    for trace in fig.data:
        axis = "yaxis" + (trace.yaxis or "y")[1:]
        values.setdefault(axis, []).extend(float(v) for v in (trace.y or ()) if v is not None)
    for axis, ys in values.items():
        peak = max(ys, default=0.0)
        if peak <= 0:
            fig.layout[axis].range = [0, 1]
        if peak <= 5 and all(y.is_integer() for y in ys):
            fig.layout[axis].dtick = 1
    return fig


def _color_top(rows: list[list], floor: float) -> float:
    """The colour scale's top: the largest value, at least ``floor`` (plotly needs zmin and zmax together,
    and one distinct value would otherwise get a scale like 19.6..20.4)."""
    return max([floor, *(v for row in rows for v in row if v is not None)])


def _message(title: str, text: str, height: int) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 16, "color": "#5b6474"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=height)


def kpis(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The headline figures of the page's cards, as (label, formatted value)."""
    # coalesce: sum() over an empty mart is NULL
    events, revenue, purchases, sessions, purchase_sessions = _rows(
        con,
        "select coalesce(sum(events), 0), coalesce(sum(revenue), 0), coalesce(sum(purchases), 0), "
        "coalesce(sum(sessions), 0), coalesce(sum(purchase_sessions), 0) from marts.mart_daily_kpis",
    )[0]
    users, buyers = _rows(
        con, "select count(*), count(case when lifetime_purchases > 0 then 1 end) from core.dim_users"
    )[0]
    return [
        ("Events", f"{events:,}"),
        ("Users", f"{users:,}"),
        ("Buyers", f"{buyers:,}"),
        ("Revenue", f"${float(revenue):,.0f}"),
        ("Avg order value", f"${float(revenue) / purchase_sessions:,.2f}" if purchase_sessions else "–"),
        ("Session conversion", f"{purchase_sessions / sessions:.2%}" if sessions else "–"),
        ("Purchases", f"{purchases:,}"),
    ]


class _Marts:
    """The marts' rows the charts share, read once."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.monthly = _rows(
            con,
            """
            select cast(date_trunc('month', date_day) as date) as month, sum(views), sum(carts), sum(purchases),
                   sum(revenue), sum(sessions), sum(cart_sessions), sum(purchase_sessions), sum(buyers), sum(dau)
            from marts.mart_daily_kpis group by 1 order by 1
            """,
        )
        self.months = [_month_label(r[0]) for r in self.monthly]
        self.heatmap = _rows(
            con,
            "select cast(iso_weekday as integer), cast(event_hour as integer), purchases from marts.mart_purchase_heatmap",
        )


def _monthly_events(m: _Marts) -> go.Figure:
    monthly = _require(m.monthly, "marts.mart_daily_kpis")
    fig = go.Figure([go.Bar(name=name, x=m.months, y=[r[i] for r in monthly])
                     for i, name in ((1, "view"), (2, "cart"), (3, "purchase"))])
    fig.update_layout(barmode="stack")
    _categories(fig.update_xaxes, m.months)
    return _from_zero(fig)


def _monthly_conversion(m: _Marts) -> go.Figure:
    monthly = _require(m.monthly, "marts.mart_daily_kpis")
    rates = {
        "session -> cart": [r[6] / r[5] if r[5] else None for r in monthly],
        "session -> purchase": [r[7] / r[5] if r[5] else None for r in monthly],
        "active user -> buyer (daily)": [r[8] / r[9] if r[9] else None for r in monthly],
    }
    z = list(rates.values())
    fig = go.Figure(go.Heatmap(z=z, x=m.months, y=list(rates), colorscale="Blues", zmin=0, zmax=_color_top(z, 0.01),
                               texttemplate="%{z:.1%}", colorbar={"title": "rate", "tickformat": ".0%"}))
    _categories(fig.update_xaxes, m.months)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def _rfm(m: _Marts) -> go.Figure:
    segments = _require(_rows(m.con, "select segment, count(*) from marts.mart_rfm group by 1 order by 2 desc, 1"),
                        "marts.mart_rfm")
    return go.Figure(go.Pie(labels=[s for s, _ in segments], values=[n for _, n in segments], hole=0.5, sort=False))


def _active_users(m: _Marts) -> go.Figure:
    active = _require(_rows(m.con, "select date_day, dau, wau from marts.mart_active_users order by 1"),
                      "marts.mart_active_users")
    by_day = {r[0]: r for r in active}
    first, last = active[0][0], active[-1][0]
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    x = [d.isoformat() for d in days]
    # A day without a row is a gap: None breaks the line (connectgaps=False); markers show lone days.
    fig = go.Figure([
        go.Scatter(name=name, x=x, y=[by_day[d][i] if d in by_day else None for d in days], mode="lines+markers",
                   marker={"size": 5 if len(days) <= 62 else 3}, connectgaps=False)
        for i, name in ((1, "DAU"), (2, "WAU (ISO week)"))
    ])
    half_day = dt.timedelta(hours=12)
    fig.update_xaxes(type="date", range=[(dt.datetime.combine(first, dt.time()) - half_day).isoformat(),
                                         (dt.datetime.combine(last, dt.time()) + half_day).isoformat()])
    fig.update_layout(legend=LEGEND_ON_TOP)
    if len(days) <= 14:
        fig.update_xaxes(dtick=DAY_MS, tick0=first.isoformat(), tickformat="%b %-d, %Y")
    return _from_zero(fig)


def _bar_and_line(x: list[str], bars: tuple[str, list, str], line: tuple[str, list, str],
                  line_format: str | None = None) -> go.Figure:
    """Bars on the left axis and a line on the right, each (name, values, axis title), over categories ``x``."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(name=bars[0], x=x, y=bars[1]), secondary_y=False)
    fig.add_trace(go.Scatter(name=line[0], x=x, y=line[1], mode="lines+markers"), secondary_y=True)
    fig.update_yaxes(title_text=bars[2], secondary_y=False)
    fig.update_yaxes(title_text=line[2], secondary_y=True, **({"tickformat": line_format} if line_format else {}), **SECONDARY)
    fig.update_layout(legend=LEGEND_ON_TOP)
    _categories(fig.update_xaxes, x)
    return _from_zero(fig)


def _mau(m: _Marts) -> go.Figure:
    mau = _require(_rows(m.con, "select distinct month_start, mau, month_stickiness from marts.mart_active_users order by 1"),
                   "marts.mart_active_users")
    return _bar_and_line([_month_label(r[0]) for r in mau],
                         ("MAU", [r[1] for r in mau], "Monthly active users"),
                         ("stickiness (avg DAU / MAU)", [_number(r[2]) for r in mau], "Stickiness"), ".0%")


def _retention(m: _Marts) -> go.Figure:
    retention = _require(_rows(
        m.con,
        f"select cohort_week, cast(week_offset as integer), retention_rate from marts.mart_retention_weekly "
        f"where week_offset <= {RETENTION_WEEKS} order by 1, 2",
    ), "marts.mart_retention_weekly")
    cohorts = sorted({r[0] for r in retention})
    offsets = range(max(r[1] for r in retention) + 1)
    grid = {(c, o): rate for c, o, rate in retention}
    labels = [c.isoformat() for c in cohorts]
    columns = [f"week {o}" for o in offsets]
    fig = go.Figure(go.Heatmap(
        z=[[grid.get((c, o)) for o in offsets] for c in cohorts], x=columns, y=labels,
        colorscale="Greens", zmin=0, zmax=0.5, colorbar={"title": "retained", "tickformat": ".0%"},
        hovertemplate="cohort %{y}, %{x}: %{z:.1%}<extra></extra>",
    ))
    _categories(fig.update_xaxes, columns)
    _categories(fig.update_yaxes, labels)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(520, 160 + 14 * len(cohorts)))
    return fig


def _tiers(m: _Marts) -> go.Figure:
    tiers = _require(_rows(
        m.con,
        "select value_tier, count(*), sum(lifetime_revenue) from marts.mart_customer_value where value_tier <> 'none' "
        "group by 1 order by array_position(['platinum', 'gold', 'silver', 'bronze'], value_tier)",
    ), "marts.mart_customer_value", "buyers")
    return _bar_and_line([t[0] for t in tiers], ("buyers", [t[1] for t in tiers], "Buyers"),
                         ("revenue", [_number(t[2]) for t in tiers], "Lifetime revenue ($)"))


def _monthly_revenue(m: _Marts) -> go.Figure:
    monthly = _require(m.monthly, "marts.mart_daily_kpis")
    fig = go.Figure(go.Bar(x=m.months, y=[_number(r[4]) or 0.0 for r in monthly]))
    _categories(fig.update_xaxes, m.months)
    return _from_zero(fig)


def _calendar(m: _Marts) -> go.Figure:
    daily = _require(_rows(m.con, "select date_day, purchases from marts.mart_daily_kpis order by 1"),
                     "marts.mart_daily_kpis")
    # One column per week from the first to the last week with data: weeks without data stay empty.
    first_monday = daily[0][0] - dt.timedelta(days=daily[0][0].weekday())
    last_monday = daily[-1][0] - dt.timedelta(days=daily[-1][0].weekday())
    weeks = [first_monday + dt.timedelta(weeks=w) for w in range((last_monday - first_monday).days // 7 + 1)]
    calendar: list[list[int | None]] = [[None] * len(weeks) for _ in WEEKDAYS]
    for day, purchases in daily:
        calendar[day.weekday()][(day - first_monday).days // 7] = purchases
    labels = [w.isoformat() for w in weeks]
    fig = go.Figure(go.Heatmap(z=calendar, x=labels, y=list(WEEKDAYS), colorscale="Oranges", zmin=0,
                               zmax=_color_top(calendar, 1),
                               colorbar={"title": "purchases"},
                               hovertemplate="week of %{x}, %{y}: %{z} purchases<extra></extra>"))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    _categories(fig.update_yaxes, WEEKDAYS)
    fig.update_yaxes(autorange="reversed")
    return fig


def _category_share(m: _Marts) -> go.Figure:
    categories = _require(_rows(
        m.con,
        "select coalesce(category_l1, 'unknown'), sum(revenue) from marts.mart_revenue_by_category "
        "group by 1 having sum(revenue) > 0 order by 2 desc, 1",
    ), "marts.mart_revenue_by_category", "revenue")
    top, rest = categories[:7], sum(float(r[1]) for r in categories[7:])
    return go.Figure(go.Pie(labels=[c for c, _ in top] + (["other"] if rest else []),
                            values=[float(v) for _, v in top] + ([rest] if rest else []), sort=False))


def _brands(m: _Marts) -> go.Figure:
    """The 7 named brands with most revenue, and beside them the revenue no brand can be credited with
    ('unknown': the product was never delivered with a brand that week), so its share is in plain view."""
    revenue = dict(_require(_rows(
        m.con,
        "select brand, sum(revenue) from marts.mart_revenue_by_brand group by 1 having sum(revenue) > 0",
    ), "marts.mart_revenue_by_brand", "revenue"))
    unknown = revenue.pop("unknown", None)
    top = sorted(revenue.items(), key=lambda item: (-item[1], item[0]))[:7]
    labels = [brand for brand, _ in top] + (["brand unknown"] if unknown else [])
    values = [float(v) for _, v in top] + ([float(unknown)] if unknown else [])
    # Shares of all revenue (every brand and the unknown), not of the boxes shown (plotly's percentRoot).
    total = float(sum(revenue.values())) + float(unknown or 0)
    return go.Figure(go.Treemap(labels=labels, parents=[""] * len(labels), values=values,
                                customdata=[v / total for v in values],
                                texttemplate="%{label}<br>$%{value:,.0f}<br>%{customdata:.1%} of all revenue"))


def _hours(m: _Marts) -> go.Figure:
    _require(m.heatmap, "marts.mart_purchase_heatmap")
    per_hour = [0] * 24
    for _, hour, purchases in m.heatmap:
        per_hour[hour] += purchases
    fig = go.Figure(go.Bar(x=list(HOURS), y=per_hour))
    _categories(fig.update_xaxes, HOURS)
    return _from_zero(fig)


def _weekday_hours(m: _Marts) -> go.Figure:
    _require(m.heatmap, "marts.mart_purchase_heatmap")
    grid = {(d, h): n for d, h, n in m.heatmap}
    z = [[grid.get((d, h), 0) for h in range(24)] for d in range(1, 8)]
    fig = go.Figure(go.Heatmap(z=z, x=list(HOURS), y=list(WEEKDAYS), colorscale="Purples", zmin=0, zmax=_color_top(z, 1),
                               colorbar={"title": "purchases"}))
    _categories(fig.update_xaxes, HOURS)
    _categories(fig.update_yaxes, WEEKDAYS)
    fig.update_yaxes(autorange="reversed")
    return fig


# (title, x axis title, y axis title, height, builder), in page order: chart-0 .. chart-12.
CHARTS: tuple[tuple[str, str | None, str | None, int, Callable[[_Marts], go.Figure]], ...] = (
    ("Monthly events by type", "Month", "Events", 380, _monthly_events),
    ("Monthly conversion", "Month", None, 320, _monthly_conversion),
    ("RFM segments (buyers)", None, None, 380, _rfm),
    ("Daily and weekly active users", "Day", "Users", 380, _active_users),
    ("MAU and stickiness", "Month", None, 380, _mau),
    ("Weekly cohort retention (cohort = first active week)", "Weeks since first activity", "Cohort", 520, _retention),
    ("Customer value tiers", "Tier", None, 380, _tiers),
    ("Monthly revenue", "Month", "Revenue ($)", 380, _monthly_revenue),
    ("Daily purchases (calendar)", "Week starting", None, 320, _calendar),
    ("Revenue share of the top 7 categories", None, None, 380, _category_share),
    ("Top 7 brands by revenue", None, None, 380, _brands),
    ("Purchases by hour of day (UTC)", "Hour (UTC)", "Purchases", 380, _hours),
    ("Purchases by weekday and hour (UTC)", "Hour (UTC)", None, 340, _weekday_hours),
)


def _charts(con: duckdb.DuckDBPyConnection) -> list[go.Figure]:
    marts = _Marts(con)
    charts = []
    for title, x, y, height, build in CHARTS:
        try:
            charts.append(_layout(build(marts), title, x, y, height))
        except NoData as missing:
            charts.append(_message(title, str(missing), height))
    return charts


def render_dashboard(con: duckdb.DuckDBPyConnection, title: str = "E-commerce behaviour") -> tuple[str, int]:
    """The dashboard's HTML and how many charts it holds."""
    charts = _charts(con)
    cards = "".join(
        f'<div class="card"><div class="label">{html.escape(k)}</div><div class="value">{html.escape(v)}</div></div>'
        for k, v in kpis(con)
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
