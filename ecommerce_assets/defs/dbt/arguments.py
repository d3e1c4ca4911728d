"""What a dbt asset run passes to `dbt build`: the window and warehouse as --vars, the run config
(``full_refresh``), the guard that a full refresh of the weekly models covers every week, and the
batches a retry still has to build."""

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

def dbt_window_vars(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """The partition window as the half-open week range the incremental models filter on."""
    return {"min_week": start.date().isoformat(), "max_week": end.date().isoformat()}


class DbtBuildConfig(dg.Config):
    """Launchpad config of a dbt asset definition, e.g. ``ops: {weekly_dbt_models: {config: {full_refresh: true}}}``."""

    full_refresh: bool = Field(
        default=False,
        description=(
            "Run `dbt build --full-refresh`: drop and rebuild the incremental tables (and seeds) from their "
            "sources instead of replacing the run's weeks, e.g. after a model's columns changed "
            "(on_schema_change='fail' stops an incremental run then). Weekly models: only over every week "
            "in one run (the model's select keeps the run's weeks only), any other range fails before dbt starts."
        ),
    )


def dbt_build_args(variables: Mapping[str, Any], full_refresh: bool = False) -> list[str]:
    """``dbt build`` with the run's variables (window, warehouse location) as ``--vars``, and
    ``--full-refresh`` when asked for."""
    args = ["build", "--vars", json.dumps(dict(variables), sort_keys=True)] if variables else ["build"]
    return [*args, "--full-refresh"] if full_refresh else args


def require_every_week(first: str, last: str, partition_keys: Sequence[str]) -> None:
    """A full refresh of the weekly models must cover every week, in one run.

    ``--full-refresh`` recreates each incremental table from the model's select, and the select keeps the
    run's window only (the window applies on every run, full or incremental): over a few weeks it would
    leave a table holding just those weeks. Refused before dbt starts, naming the range to run instead."""
    if not partition_keys or (first, last) == (partition_keys[0], partition_keys[-1]):
        return
    whole = f"{partition_keys[0]}...{partition_keys[-1]}"
    raise dg.Failure(
        description=(
            f"full_refresh over the weeks {first}...{last} refused: a full refresh rebuilds each weekly table "
            f"from the run's weeks only and would drop every other week. Run it over every week in one run, "
            f"partition range {whole}, or leave full_refresh off to replace just these weeks."
        ),
        metadata={"run_range": f"{first}...{last}", "required_range": whole},
        allow_retries=False,
    )


def week_after(week: str) -> str:
    """The Monday after partition key ``week``: the window's open end."""
    return (dt.date.fromisoformat(week) + dt.timedelta(days=7)).isoformat()


# The last week of the batches built so far, on the run itself (visible in the UI): a retry of the step
# resumes after it instead of rebuilding every batch (at full scale a batch is a week, ~1 min).
BATCHES_DONE_TAG = "ecommerce/dbt_built_through"


def remaining_batches(context: dg.AssetExecutionContext, batches: list[list[str]]) -> list[list[str]]:
    """The batches after the last one this run built (a retry's); the last batch is always built, so the
    step still reports every model. The tag names the run: a re-execution, which copies tags, starts over."""
    mark = (context.instance.get_run_by_id(context.run_id).tags.get(BATCHES_DONE_TAG) or "").rpartition(":")
    if mark[0] != context.run_id:
        return batches
    remaining = [batch for batch in batches if batch[-1] > mark[2]] or batches[-1:]
    if len(remaining) < len(batches):
        context.log.info(f"Resuming after {mark[2]}, built by an earlier try of this step: "
                         f"{len(batches) - len(remaining)} of {len(batches)} dbt builds skipped.")
    return remaining
