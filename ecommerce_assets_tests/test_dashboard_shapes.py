"""The dashboard on data of different shapes, drawn in headless Chromium: the full demo range, a single day,
two days a month apart, and a warehouse whose marts have no rows.

Each shape goes through the real pipeline (generated Kaggle files -> weekly graph -> history dbt models ->
dashboard asset). A probe script appended to a copy of the page reads back what plotly drew: each chart's
tick labels from the SVG, its annotations, and its axes' types and ranges.
"""

import datetime as dt
import json
import re

import dagster as dg
import duckdb
import pytest

from ecommerce_assets.defs.reports.dashboard import TABLES
from ecommerce_assets.lib.generator.synthetic import generate
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.browser import render
from ecommerce_assets_tests.helpers import ALL_ASSETS, HISTORY, materialize_weeks

pytestmark = pytest.mark.stack

CHARTS = 13
MONTH_CHARTS = (0, 1, 4, 7)  # monthly events, conversion, MAU, revenue
VALUE_CHARTS = (0, 3, 4, 6, 7, 11)  # bars and lines: every y axis starts at zero
HOURS = [str(h) for h in range(24)]
SHAPES = {
    # name: (days with data (None: the whole demo range), scale, first week, last week)
    "full": (None, 0.00005, "2019-09-30", "2020-04-27"),
    "one_day": ([dt.date(2019, 10, 1)], 0.001, "2019-09-30", "2019-09-30"),
    "two_days": ([dt.date(2019, 10, 1), dt.date(2019, 11, 1)], 0.0005, "2019-09-30", "2019-10-28"),
}
PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const out = {};
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    const ticks = {};
    for (const g of gd.querySelectorAll("g")) {
      const name = g.getAttribute("class") || "";
      if (!/^[xy]\\d*tick$/.test(name)) continue;
      const text = g.querySelector("text"), lines = text.querySelectorAll("tspan.line");
      (ticks[name.slice(0, -4)] ||= []).push(lines.length ? [...lines].map(l => l.textContent).join(" ") : text.textContent);
    }
    const axes = {};
    for (const [key, axis] of Object.entries(gd._fullLayout)) {
      if (/^[xy]axis\\d*$/.test(key)) axes[key] = {type: axis.type, range: axis.range, visible: axis.visible};
    }
    out[gd.id] = {ticks, axes, annotations: [...gd.querySelectorAll(".annotation-text")].map(a => a.textContent),
                  data: gd._fullData.map(t => ({type: t.type, x: t.x, y: t.y, z: t.z, labels: t.labels, customdata: t.customdata, connectgaps: t.connectgaps}))};
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 500));
</script>"""


_BUILT: dict = {}


def _build(name, tmp_path_factory):
    """The shape's warehouse, built once per session (the empty warehouse borrows one_day's schemas)."""
    if name not in _BUILT:
        _BUILT[name] = _pipeline(tmp_path_factory.mktemp(name), *SHAPES[name])
    return _BUILT[name]


def _pipeline(root, days, scale, first_week, last_week):
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(root / "data"), "SPARK_MASTER": "local[2]"})
    landing = settings.lake / "landing"
    if days is None:
        generate(landing, scale, seed=5, workers=1)
    else:
        # A day is generated from its own random stream: the same lines as the full month filtered to it.
        for day in days:
            generate(landing, scale, seed=5, workers=1, start=day, end=day)
    assert materialize_weeks(settings, first_week, last_week).success
    resources = build_resources(settings)
    assert dg.materialize(ALL_ASSETS, selection=HISTORY, resources=resources).success
    return settings


def _draw(settings, profile) -> tuple[str, dict, str, list[str]]:
    """Materialize the dashboard asset, draw its page in Chromium: (html, probe, dom, console)."""
    result = dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets("dashboard"),
                            resources=build_resources(settings))
    assert result.get_asset_materialization_events()[0].materialization.metadata["charts"].value == CHARTS
    page = (settings.reports_dir / "dashboard.html").read_text()
    probed = settings.reports_dir / "dashboard-probe.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom, console = render(probed.as_uri(), profile)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, "the probe did not run"
    probe = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    return page, probe, dom, console


@pytest.fixture(scope="module", params=list(SHAPES))
def shape(request, spark, tmp_path_factory):
    settings = _build(request.param, tmp_path_factory)
    page, probe, dom, console = _draw(settings, tmp_path_factory.mktemp("profile"))
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        months = [r[0] for r in con.execute(
            "select distinct cast(date_trunc('month', date_day) as date) from marts.mart_daily_kpis order by 1").fetchall()]
        cohorts = [r[0].isoformat() for r in con.execute(
            "select distinct cohort_week from marts.mart_retention_weekly where week_offset <= 12 order by 1").fetchall()]
        active_days = {r[0] for r in con.execute("select date_day from marts.mart_active_users").fetchall()}
    return {"name": request.param, "days": SHAPES[request.param][0], "settings": settings, "page": page, "probe": probe, "dom": dom,
            "console": console, "months": months, "cohorts": cohorts, "active_days": active_days}


def _assert_drawn(dom: str, console: list[str]) -> None:
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    # plotly marks a chart's div js-plotly-plot once it has drawn it
    tags = [re.search(rf'<div[^>]*id="chart-{i}"[^>]*>', dom) for i in range(CHARTS)]
    assert all(tag and "js-plotly-plot" in tag.group(0) for tag in tags), [bool(t) for t in tags]
    assert f'id="chart-{CHARTS}"' not in dom


def test_every_chart_draws_without_a_console_error(shape):
    _assert_drawn(shape["dom"], shape["console"])
    assert set(shape["probe"]) == {f"chart-{i}" for i in range(CHARTS)}
    # every mart has rows in these shapes: no chart is replaced by a message
    assert not any(chart["annotations"] for chart in shape["probe"].values())
    for title in ("Monthly events by type", "RFM segments", "MAU and stickiness", "Weekly cohort retention",
                  "Top 7 brands by revenue", "Purchases by weekday and hour"):
        assert title in shape["dom"]


def test_brand_chart_shows_the_top_named_brands_and_the_unknown_share_apart(shape):
    with duckdb.connect(str(shape["settings"].duckdb_path), read_only=True) as con:
        revenue = dict(con.execute("select brand, sum(revenue) from marts.mart_revenue_by_brand group by 1 "
                                   "having sum(revenue) > 0").fetchall())
    unknown = revenue.pop("unknown", 0)
    top = [b for b, _ in sorted(revenue.items(), key=lambda item: (-item[1], item[0]))[:7]]
    labels = shape["probe"]["chart-10"]["data"][0]["labels"]
    assert labels == top + (["brand unknown"] if unknown else [])
    # Each box's share is of all revenue, every brand and the unknown included.
    total = sum(float(v) for v in revenue.values()) + float(unknown)
    shares = [float(revenue[b]) / total for b in top] + ([float(unknown) / total] if unknown else [])
    assert shape["probe"]["chart-10"]["data"][0]["customdata"] == pytest.approx(shares)
    if shape["name"] == "full":
        assert unknown > 0  # the demo has brandless products that sell


def test_month_axes_are_categories_named_for_the_months_with_data(shape):
    expected = [f"{m:%b %Y}" for m in shape["months"]]
    if shape["days"] is None:
        assert expected == ["Oct 2019", "Nov 2019", "Dec 2019", "Jan 2020", "Feb 2020", "Mar 2020", "Apr 2020"]
    else:
        assert expected == sorted({f"{d:%b %Y}" for d in shape["days"]}, key=lambda m: dt.datetime.strptime(m, "%b %Y"))
    for i in MONTH_CHARTS:
        chart = shape["probe"][f"chart-{i}"]
        assert chart["axes"]["xaxis"]["type"] == "category", i
        assert chart["ticks"]["x"] == expected, (i, chart["ticks"]["x"])


def test_hour_axes_always_show_0_to_23(shape):
    for i in (11, 12):
        chart = shape["probe"][f"chart-{i}"]
        assert chart["axes"]["xaxis"]["type"] == "category"
        assert chart["ticks"]["x"] == HOURS, (i, chart["ticks"]["x"])
    hours = shape["probe"]["chart-11"]["data"][0]
    assert hours["x"] == HOURS and len(hours["y"]) == 24 and all(isinstance(n, int) for n in hours["y"])


def test_value_axes_start_at_zero(shape):
    for i in VALUE_CHARTS:
        chart = shape["probe"][f"chart-{i}"]
        ys = [name for name in chart["axes"] if name.startswith("yaxis")]
        assert ys, i
        for name in ys:
            axis = chart["axes"][name]
            assert axis["type"] == "linear" and axis["range"][0] == 0, (i, name, axis)
            labels = chart["ticks"]["y" + name[5:]]
            assert labels[0] in ("0", "0%"), (i, name, labels)
            assert not any(label.startswith(("-", "\u2212")) for label in labels), (i, name, labels)


def test_cohorts_are_one_category_each(shape):
    chart = shape["probe"]["chart-5"]
    assert chart["axes"]["yaxis"]["type"] == "category"
    assert chart["ticks"]["y"] == shape["cohorts"]
    if shape["name"] == "two_days":
        assert chart["ticks"]["y"] == ["2019-09-30", "2019-10-28"]
    elif shape["name"] == "one_day":
        assert chart["ticks"]["y"] == ["2019-09-30"]
    else:
        assert len(shape["cohorts"]) == 31


def test_days_without_data_are_gaps_in_the_active_users_chart(shape):
    chart = shape["probe"]["chart-3"]
    dau = chart["data"][0]
    assert dau["connectgaps"] is False
    days = [dt.date.fromisoformat(x[:10]) for x in dau["x"]]
    assert days == [days[0] + dt.timedelta(days=i) for i in range(len(days))]  # a full daily range
    assert {d for d, y in zip(days, dau["y"]) if y is not None} == shape["active_days"]
    assert [d for d, y in zip(days, dau["y"]) if y is None] == [d for d in days if d not in shape["active_days"]]
    if shape["name"] == "two_days":
        assert len(days) == 32 and sum(y is None for y in dau["y"]) == 30
    lo, hi = chart["axes"]["xaxis"]["range"]
    assert chart["axes"]["xaxis"]["type"] == "date" and lo[:10] <= days[0].isoformat() <= days[-1].isoformat() <= hi[:10]


def test_calendar_has_one_column_per_week_in_the_range(shape):
    chart = shape["probe"]["chart-8"]
    heat = chart["data"][0]
    first = min(shape["active_days"])
    last = max(shape["active_days"])
    mondays = [first - dt.timedelta(days=first.weekday())]
    while mondays[-1] + dt.timedelta(days=7) <= last:
        mondays.append(mondays[-1] + dt.timedelta(days=7))
    assert heat["x"] == [m.isoformat() for m in mondays]
    assert chart["axes"]["xaxis"]["type"] == "category"
    filled = {(row, col) for row, values in enumerate(heat["z"]) for col, v in enumerate(values) if v is not None}
    assert filled == {(d.weekday(), (d - mondays[0]).days // 7) for d in shape["active_days"]}


@pytest.fixture(scope="module")
def empty(spark, tmp_path_factory):
    """A warehouse with the dashboard's tables and none of their rows (schemas taken from a one-day build)."""
    built = _build("one_day", tmp_path_factory)
    root = tmp_path_factory.mktemp("empty")
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(root / "data"), "SPARK_MASTER": "local[2]"})
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute(f"attach '{built.duckdb_path}' as built (read_only)")
        for table in TABLES:
            con.execute(f"create schema if not exists {table.split('.')[0]}")
            con.execute(f"create table {table} as select * from built.{table} limit 0")
        con.execute("detach built")
    return settings, root


def test_empty_marts_give_a_message_in_place_of_each_chart(empty):
    settings, root = empty
    page, probe, dom, console = _draw(settings, root / "profile")
    _assert_drawn(dom, console)
    messages = {chart: data["annotations"] for chart, data in probe.items()}
    assert all(len(m) == 1 and re.fullmatch(r"No (data|buyers|revenue) in (marts|core)\.\w+ yet", m[0])
               for m in messages.values()), messages
    assert messages["chart-0"] == ["No data in marts.mart_daily_kpis yet"]
    assert messages["chart-2"] == ["No data in marts.mart_rfm yet"]
    assert messages["chart-11"] == ["No data in marts.mart_purchase_heatmap yet"]
    for title in ("Monthly events by type", "RFM segments", "MAU and stickiness", "Weekly cohort retention",
                  "Top 7 brands by revenue", "Purchases by weekday and hour"):
        assert title in dom
    # the KPI cards survive sums over no rows
    cards = dict(re.findall(r'<div class="label">([^<]*)</div><div class="value">([^<]*)</div>', page))
    assert cards == {"Events": "0", "Users": "0", "Buyers": "0", "Revenue": "$0", "Avg order value": "–",
                     "Session conversion": "–", "Purchases": "0"}
