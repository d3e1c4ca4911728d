"""Code versions: the Python assets carry a digest of the code that shapes their output, and a week built by
other code shows as stale, "code version changed", as the UI resolves it."""

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleCauseCategory, StaleStatus
from dagster._core.loader import LoadingContextForTest

from ecommerce_assets.defs.step_helpers import code_version
from ecommerce_assets.definitions import defs
from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import ALL_ASSETS, materialize_weeks

RAW = dg.AssetKey("raw_events")
WEEKS = ["2019-10-07", "2019-10-14"]


@pytest.mark.unit
def test_python_assets_carry_the_digest_of_the_code_that_shapes_them():
    graph = defs.get_repository_def().asset_graph
    versions = {key.to_user_string(): graph.get(key).code_version for key in graph.get_all_asset_keys()}
    assert versions["raw_events"] == code_version("ecommerce_assets.lib.raw_split", "ecommerce_assets.lib.kaggle")
    assert versions["clean_events"] == versions["rejected_events"] == code_version(
        "ecommerce_assets.lib.spark.rules", "ecommerce_assets.lib.spark.pipeline", "ecommerce_assets.lib.spark.lineage")
    assert versions["dashboard"] == code_version("ecommerce_assets.lib.dashboard_page")
    assert versions["warehouse_events"] and versions["core/fct_sessions"]  # dbt models: from dagster-dbt
    assert code_version("ecommerce_assets.lib.raw_split") != code_version("ecommerce_assets.lib.kaggle")
    with pytest.raises(ModuleNotFoundError, match="ecommerce_assets.nothing"):
        code_version("ecommerce_assets.nothing")


def _stale(instance, assets, resources, partition):
    graph = dg.Definitions(assets=assets, resources=resources).get_repository_def().asset_graph
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    return resolver.get_status(RAW, partition), resolver.get_stale_root_causes(RAW, partition)


@pytest.mark.integration
def test_weeks_built_by_other_code_are_stale_until_rebuilt(tmp_path):
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data")})
    resources = build_resources(settings)
    generate(settings.lake / "landing", 0.00005, parse_months("2019-10"), seed=5, workers=1)
    changed = [asset.map_asset_specs(lambda spec: spec.replace_attributes(code_version="a changed rule"))
               if isinstance(asset, dg.AssetsDefinition) and RAW in asset.keys else asset for asset in ALL_ASSETS]
    with dg.instance_for_test() as instance:
        for week in WEEKS:
            assert materialize_weeks(settings, week, selection=dg.AssetSelection.assets(RAW), instance=instance).success
        assert [_stale(instance, ALL_ASSETS, resources, week)[0] for week in WEEKS] == [StaleStatus.FRESH] * 2

        # The code changes: both weeks built before are stale, for that reason.
        for week in WEEKS:
            status, causes = _stale(instance, changed, resources, week)
            assert status == StaleStatus.STALE
            assert [(c.category, c.reason) for c in causes] == [(StaleCauseCategory.CODE, "has a new code version")]

        # One week rebuilt by the new code is fresh again; the other stays stale.
        assert dg.materialize(changed, selection=dg.AssetSelection.assets(RAW), partition_key=WEEKS[0],
                              resources=resources, instance=instance).success
        assert [_stale(instance, changed, resources, week)[0] for week in WEEKS] == [StaleStatus.FRESH, StaleStatus.STALE]
