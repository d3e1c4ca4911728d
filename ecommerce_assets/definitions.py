"""The one place Definitions are assembled: everything under ``defs/``, loaded as dg projects load them."""

from pathlib import Path

import dagster as dg

from ecommerce_assets import warnings_filter  # noqa: F401 (before the definitions, which would warn)

DEFS = Path(__file__).resolve().parent / "defs"

# The project's component tree (pyproject.toml, [tool.dg]) built at its defs folder. Not
# dg.load_from_defs_folder: at the tree's root it also imports every installed Dagster plugin to
# catalogue their component types (dagster-aws with boto3, dagster-snowflake with the Snowflake
# client): seconds at every start of every run and step, for a catalogue this project does not use.


def _with_code_links(loaded: dg.Definitions) -> dg.Definitions:
    """The same definitions, each asset with its "open in editor" link to the function that computes it."""
    return dg.Definitions(
        assets=dg.with_source_code_references(list(loaded.assets or [])),
        asset_checks=loaded.asset_checks,
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources=loaded.resources,
        executor=loaded.executor,
    )


defs = _with_code_links(dg.ComponentTree.for_project(DEFS).build_defs(DEFS))
