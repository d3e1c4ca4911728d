"""The Dagster UI driven as a user drives it, in the system Chromium through Playwright, against a real
`dg dev` on 127.0.0.1 over a tiny October 2019 (five weekly partitions), started as docs/operating.md says from a
shell whose PATH lacks the venv; the location loads with no warning, and the runs print no Python warning:

- Lineage shows the whole asset graph (screenshot: docs/asset-graph.png);
- clean_events' Partitions tab starts with five missing weeks;
- the automation sensor is switched off in the UI first, so that its mart refreshes do not share the
  machine's two cores with the runs here;
- Jobs -> weekly_events_job -> Materialize all… launches one week (2019-10-07) as one run, then a
  two-week backfill (2019-10-14, 2019-10-21) that runs as ONE run (single-run backfill policy);
- each week's own figures are on that week's materialization, read back as text on the asset pages and
  equal to the lake's manifests: clean_events raw_rows/clean_rows/duplicates/rejected_rows,
  raw_events rows, warehouse_events rows_loaded and core/fct_events dagster/row_count
  (screenshot: docs/partitions.png);
- the automation sensor switched on again catches up on the weeks that landed while it was off: the
  marts and the dashboard refresh with no further click, and a mart's Automation tab shows why, under
  the condition's label (screenshot: docs/automation.png).

Screenshots go to the test's tmp folder; with ECOMMERCE_UPDATE_DOCS=1 the three above are copied to docs/.
The page may throw no uncaught JavaScript error."""

import json
import os
import re
import shutil
import subprocess

import duckdb
import pytest
from playwright.sync_api import expect, sync_playwright

from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.pictures import UI_PICTURES, graph_version, version_file
from ecommerce_assets_tests.services import BIN, free_port, http_ok, process, wait_until
from ecommerce_assets_tests.ui_support import (
    launch,
    materialize_job_partitions,
    metadata_cell,
    nav,
    open_page,
    open_partition,
    screenshot,
    show_whole_graph,
    switch_sensor,
    wait_backfill,
    wait_run,
)

# Five to six minutes alone; command B runs another module beside it.
pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

WEEKS = ["2019-09-30", "2019-10-07", "2019-10-14", "2019-10-21", "2019-10-28"]


def test_materialize_and_read_back_weeks_in_the_ui(tmp_path):
    home, data, shots = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "screenshots"
    home.mkdir()
    shots.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECOMMERCE_")},
        "DAGSTER_HOME": str(home),
        "ECOMMERCE_DATA_DIR": str(data),
        "ECOMMERCE_LAST_WEEK": WEEKS[-1],
        "ECOMMERCE_LAST_MONTH": "2019-10",
        "SPARK_MASTER": "local[2]",
        "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "DAGSTER_TELEMETRY_DISABLED": "1",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run([str(BIN / "ecommerce"), "generate", "--scale", "0.0001", "--months", "2019-10"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = f"{base}/graphql"
    log = tmp_path / "dagster-dev.log"
    with process([str(BIN / "dg"), "dev", "--no-check-yaml", "-h", "127.0.0.1", "-p", str(port)], log, env, ROOT) as server, \
            sync_playwright() as playwright:
        wait_until(lambda: http_ok(f"{base}/server_info"), "dg dev", 240, server, log)
        at_start = log.read_text()
        assert [line for line in at_start.splitlines() if "warning" in line.lower()] == [], at_start[-3000:]
        browser = launch(playwright)
        try:
            page = open_page(browser)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(base)

            # Lineage: every group expanded, every asset on one screen.
            nav(page, "Lineage")
            show_whole_graph(page)
            for asset in ("landing_files", "raw_events", "clean_events", "rejected_events", "warehouse_events",
                          "stg_events", "fct_events", "fct_sessions", "mart_daily_kpis", "dashboard"):
                expect(page.get_by_text(asset, exact=True)).to_be_visible()
            lineage = screenshot(page, shots / "01-lineage.png")

            # clean_events before any run: five weekly partitions, all missing.
            nav(page, "Catalog")
            page.get_by_role("link", name="clean_events").first.click()
            page.get_by_role("tab", name="Partitions").click()
            expect(page.get_by_text("Missing (5)", exact=True)).to_be_visible()
            expect(page.get_by_text("Materialized (0)", exact=True)).to_be_visible()
            screenshot(page, shots / "02-clean-events-partitions-before.png")

            switch_sensor(page, "automation_condition_sensor", on=False)

            # One week through the Materialize dialog: one run.
            run_page = materialize_job_partitions(page, "weekly_events_job", "2019-10-07", 1, "Launch 1 run")
            run_id = run_page.removeprefix("/runs/")
            assert wait_run(api, run_id) == "SUCCESS", log.read_text()[-4000:]
            page.goto(base + run_page)
            expect(page.get_by_text("partition: 2019-10-07")).to_be_visible()
            expect(page.get_by_text("Success", exact=True).first).to_be_visible()
            screenshot(page, shots / "03-run-2019-10-07.png")

            # Two weeks through the same dialog: a backfill, run as one run.
            backfill_page = materialize_job_partitions(page, "weekly_events_job", "2019-10-14, 2019-10-21", 2,
                                                       "Launch backfill")
            backfill_id = backfill_page.removeprefix("/runs/b/")
            status, runs = wait_backfill(api, backfill_id)
            assert status == "COMPLETED_SUCCESS" and [r["status"] for r in runs] == ["SUCCESS"], (status, runs)
            page.goto(base + backfill_page)
            expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
            expect(page.get_by_text("100% completed")).to_be_visible()
            screenshot(page, shots / "04-backfill.png")

            # Each week's own figures on its own partition, as the page shows them, against the lake.
            page.set_viewport_size({"width": 1600, "height": 1650})
            lake = data / "lake"
            for week in ("2019-10-07", "2019-10-14", "2019-10-21"):
                clean = json.loads((lake / "clean" / "events" / f"week={week}" / "_manifest.json").read_text())
                open_partition(page, base, "clean_events", week)
                expect(page.get_by_text("Materialized (3)", exact=True)).to_be_visible()
                for label in ("raw_rows", "clean_rows", "duplicates", "rejected_rows"):
                    expect(metadata_cell(page, label)).to_have_text(str(clean[label]))
                if week == "2019-10-14":
                    page.get_by_role("cell", name="clean_rows", exact=True).scroll_into_view_if_needed()
                    partitions = screenshot(page, shots / "05-clean-events-2019-10-14.png")
            page.set_viewport_size({"width": 1600, "height": 1000})
            weekly = {}
            for week in ("2019-10-14", "2019-10-21"):
                raw = json.loads((lake / "raw" / "events" / f"week={week}" / "_manifest.json").read_text())
                clean = json.loads((lake / "clean" / "events" / f"week={week}" / "_manifest.json").read_text())
                open_partition(page, base, "raw_events", week)
                expect(metadata_cell(page, "rows")).to_have_text(str(raw["rows"]))
                weekly[week] = raw["rows"]
                if week == "2019-10-14":
                    screenshot(page, shots / "06-raw-events-2019-10-14.png")
                    open_partition(page, base, "warehouse_events", week)
                    expect(metadata_cell(page, "rows_loaded")).to_have_text(str(clean["clean_rows"]))
                    open_partition(page, base, "core/fct_events", week)
                    expect(metadata_cell(page, "dagster/row_count")).to_have_text(str(clean["clean_rows"]))
                    screenshot(page, shots / "07-fct-events-2019-10-14.png")
            assert min(weekly.values()) > 0, weekly
            switch_sensor(page, "automation_condition_sensor", on=True)
            dashboard = data / "reports" / "dashboard.html"
            wait_until(dashboard.exists, "the automation sensor to refresh the marts and the dashboard", 600, server, log)

            # Why the mart ran: its evaluations; the one that requested a run, under the condition's label.
            page.goto(f"{base}/assets/marts/mart_daily_kpis?view=automation")
            requested = page.get_by_role("row").filter(has=page.get_by_text("Requested", exact=True)).first
            expect(requested).to_be_visible(timeout=60_000)
            requested.get_by_role("button").first.click()  # its time opens the evaluation
            expect(page.get_by_text("refresh after upstream").first).to_be_visible(timeout=60_000)
            automation = screenshot(page, shots / "08-automation-mart-daily-kpis.png")
            assert errors == [], errors
        finally:
            browser.close()
    # The runs print no Python warning either (the JVM's own "WARNING: Using incubator modules" line is Java's).
    assert re.findall(r"\w+Warning: .*", log.read_text()) == []
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        days, events = con.execute("select count(*), sum(events) from marts.mart_daily_kpis").fetchone()
        facts = con.execute("select count(*) from core.fct_events").fetchone()[0]
    assert days == 21 and events == facts > 0, (days, events, facts)  # the three weeks' days, every event
    if os.environ.get("ECOMMERCE_UPDATE_DOCS") == "1":
        for shot, picture in zip((lineage, partitions, automation), UI_PICTURES, strict=True):
            shutil.copy(shot, picture)
            version_file(picture).write_text(graph_version() + "\n")
