"""Driving the Dagster UI with Playwright for Python and the system Chromium (Debian's package, installed by
scripts/system-deps.sh; `playwright install` cannot download browsers here), plus the GraphQL look-ups that tell when a
run launched from the UI has finished."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from ecommerce_assets_tests.browser import FLAGS, chromium
from ecommerce_assets_tests.services import graphql

VIEWPORT = {"width": 2560, "height": 1440}  # the whole graph (with the weekly parts) on one screen
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
# The page's actions wait up to 30 s (open_page); assertions get the same, not Playwright's 5 s: the first
# page of a UI whose server shares the machine with another test module can take longer.
expect.set_options(timeout=30_000)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium(), args=FLAGS)


def open_page(browser: Browser) -> Page:
    """A page whose "Join the Dagster community" prompt (shown once on a new DAGSTER_HOME) is skipped
    whenever it appears, as a user would."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(30_000)
    prompt = page.get_by_text("Join the Dagster community")
    page.add_locator_handler(prompt, lambda: page.get_by_role("button", name="Skip").click())
    return page


def screenshot(page: Page, path: Path) -> Path:
    expect(page.get_by_role("navigation")).to_be_visible()  # lets a pending prompt handler run first
    page.mouse.move(2, page.viewport_size["height"] - 2)  # no hover highlight in the picture
    page.wait_for_timeout(500)
    page.screenshot(path=path)
    return path


def nav(page: Page, name: str) -> None:
    """Click an entry of the left navigation (Overview, Runs, Catalog, Jobs, Automation, Lineage...)."""
    # A link's name starts with its icon's ("column_lineage Jobs"): the label is matched at the end.
    page.get_by_role("navigation").get_by_role("link", name=re.compile(rf"\b{re.escape(name)}$")).click()


# -- Lineage: the whole asset graph -----------------------------------------------------------------------
def show_whole_graph(page: Page) -> None:
    """On the Lineage page: hide the group list, lay the graph out top-down and expand every group. The
    graph re-fits itself only when its nodes change, so the orientation goes before the expansion."""
    controls = page.locator("#zoom-slider-container")
    graph_settings = controls.locator('[aria-label="settings"]')
    expect(graph_settings).to_be_visible()
    page.locator("button", has=page.locator('[aria-label="panel_show_right"]')).last.click()  # the group list
    page.wait_for_timeout(1000)
    graph_settings.click()
    page.get_by_role("menuitem", name="vertical orientation").click()
    expect(page.get_by_role("menuitem", name="horizontal orientation")).to_be_visible()
    page.get_by_role("menuitem", name="Expand all groups").click()
    expect(page.get_by_role("menuitem", name="Collapse all groups")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_text("fct_events", exact=True)).to_be_visible()
    page.wait_for_timeout(800)
    controls.locator('[aria-label="zoom_out"]').click()  # the fit leaves the widest group under the zoom bar
    page.wait_for_timeout(1000)


# -- Automation: a sensor's on/off switch --------------------------------------------------------------------
def switch_sensor(page: Page, name: str, on: bool) -> None:
    nav(page, "Automation")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(rf"/sensors/{name}$"))
    switch = page.get_by_role("checkbox")
    expect(switch).to_be_checked(checked=not on)
    page.locator("label", has=switch).click()
    expect(switch).to_be_checked(checked=on)


# -- Materialize: the launch dialog of an asset job ---------------------------------------------------------
def materialize_job_partitions(page: Page, job: str, partitions: str, count: int, button: str) -> str:
    """Jobs -> ``job`` -> Materialize all… -> (confirm the upstream warning) -> type the partitions ->
    ``button``; returns the address of the run or backfill that the toast's View link opens."""
    nav(page, "Jobs")
    page.get_by_role("link", name=job).first.click()
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog")
    selection = dialog.get_by_placeholder("ex: ")
    # landing_files (upstream, optional) is never materialized here: the UI asks for a confirmation first,
    # or, on a busy machine, over the partitions dialog after it opened. Confirmed whenever it shows.
    asked = page.get_by_role("dialog").filter(has_text="Are you sure?")
    page.add_locator_handler(asked, lambda: asked.get_by_role("button", name="Confirm").click())
    expect(dialog.get_by_text(re.compile(r"^Launch runs to materialize \d+ assets$"))).to_be_visible()
    chosen = dialog.get_by_text(f"{count} partition{'s' if count > 1 else ''}", exact=True)
    for attempt in range(3):  # typed again if a confirmation took the focus from the field
        selection.fill(partitions)
        selection.press("Enter")
        try:
            expect(chosen).to_be_visible()
            break
        except AssertionError:
            if attempt == 2:
                raise
    page.remove_locator_handler(asked)
    dialog.get_by_role("button", name=button, exact=True).click()
    view = page.get_by_role("link", name="View", exact=True)
    # The launch asks the code server for the run's plan: seconds on a busy 2-core machine, not Playwright's 5.
    expect(view.first).to_have_attribute("href", re.compile(r"^/runs/"), timeout=60_000)
    return view.first.get_attribute("href")


# -- The asset page: a partition's metadata ---------------------------------------------------------------
def open_partition(page: Page, base: str, asset_path: str, partition: str) -> None:
    """The asset's page (opened by its address) -> Partitions tab -> the partition, clicked in the list."""
    page.goto(f"{base}/assets/{asset_path}")
    page.get_by_role("tab", name="Partitions").click()
    page.get_by_text(partition, exact=True).first.click()
    page.wait_for_url(re.compile(rf"partition={re.escape(partition)}"))


def metadata_cell(page: Page, label: str) -> Locator:
    """The value cell of the metadata row ``label`` (in the partition's latest materialization)."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=label, exact=True))
    return row.get_by_role("cell").nth(1)


# -- GraphQL: when launched work has finished -----------------------------------------------------------------
RUN = "query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"
BACKFILL = """
query Backfill($id: String!, $tag: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $tag}]}) {
    ... on Runs { results { runId status } }
  }
}
"""


def wait_run(url: str, run_id: str, timeout: float = 600) -> str:
    deadline = time.time() + timeout
    while True:
        run = graphql(url, RUN, {"id": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if run["status"] in FINISHED:
            return run["status"]
        assert time.time() < deadline, f"run {run_id} still {run['status']} after {timeout} s"
        time.sleep(2)


def wait_backfill(url: str, backfill_id: str, timeout: float = 600) -> tuple[str, list[dict]]:
    deadline = time.time() + timeout
    while True:
        data = graphql(url, BACKFILL, {"id": backfill_id, "tag": backfill_id})
        status = data["partitionBackfillOrError"]["status"]
        runs = data["runsOrError"]["results"]
        if status not in ("REQUESTED", "CANCELING") and runs and all(r["status"] in FINISHED for r in runs):
            return status, runs
        assert time.time() < deadline, f"backfill {backfill_id} still {status} after {timeout} s: {runs}"
        time.sleep(2)
