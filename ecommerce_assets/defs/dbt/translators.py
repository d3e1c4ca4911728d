"""How the dbt models appear as Dagster assets: the facts' freshness, the history models' automation."""

import datetime as dt

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from ecommerce_assets.defs.step_helpers import FACTS
from ecommerce_assets.defs.automation import refresh_after_upstream

TRANSLATOR_SETTINGS = DagsterDbtTranslatorSettings(enable_code_references=True)
# Built once: the translator is asked for fct_events' spec by every test that reads it, and each policy
# computes its cron's smallest interval (about 35 ms).
FACTS_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=dt.timedelta(hours=8), timezone="UTC")


class WeeklyTranslator(DagsterDbtTranslator):
    """The week's facts are due by Monday 09:00 UTC after the week ends (the schedule runs at 01:00):
    ``core/fct_events`` shows as failing its freshness policy in the UI when a week is missing."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key != FACTS:
            return spec
        return spec.replace_attributes(freshness_policy=FACTS_FRESHNESS)


class HistoryTranslator(DagsterDbtTranslator):
    """Dimensions and marts refresh by themselves once weekly facts land (declarative automation)."""

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        return spec.replace_attributes(automation_condition=refresh_after_upstream())
