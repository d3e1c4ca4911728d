"""The one place warnings are filtered. Each entry is a Dagster feature this project relies on that the
installed Dagster still marks beta; nothing else is silenced, so a new warning still shows.

- ``backfill_policy``: single-run backfills (a range of weeks in one run, one Spark session);
- ``allow_nonexistent_upstream_partitions``: the first week starts in September, before the first month;
- ``include_sources``: Dagster's own selection syntax (``tag:weekly`` on the command line) calls it;
- code references (``with_source_code_references`` and its metadata classes): "open in editor" links;
- ``observable_source_asset``: the landing zone as a partitioned source with a data version per month;
- ``use_user_code_server``: the automation sensor evaluates a condition written in this project's Python;
- ``load_definitions_from_module(s)`` (preview): Dagster's defs-folder loader calls them for each module.
"""

import warnings

from dagster import BetaWarning, PreviewWarning

BETA_FEATURES_USED = (
    "backfill_policy",
    "allow_nonexistent_upstream_partitions",
    "include_sources",
    "with_source_code_references",
    "CodeReferencesMetadataValue",
    "LocalFileCodeReference",
    "observable_source_asset",
    "use_user_code_server",
)

for feature in BETA_FEATURES_USED:
    warnings.filterwarnings("ignore", message=rf".*`{feature}` .*is currently in beta", category=BetaWarning)

for function in ("load_definitions_from_module", "load_definitions_from_modules"):
    warnings.filterwarnings("ignore", message=rf"Function `{function}` is currently in preview", category=PreviewWarning)
