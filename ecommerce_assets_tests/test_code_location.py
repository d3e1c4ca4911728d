"""The code location loads only what every run needs: optional kinds are imported by the steps that use them."""

import subprocess
import sys

import pytest

from ecommerce_assets_tests.conftest import ROOT

pytestmark = pytest.mark.unit

# Client libraries of kinds a default run does not use, or only some steps use (each costs time to import).
NOT_AT_LOAD = ("snowflake.connector", "snowflake.snowpark", "dagster_snowflake", "pyspark", "dagster_pyspark",
               "plotly", "boto3", "dagster_aws", "duckdb")
PROBE = f"""
import sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import ecommerce_assets.definitions
print(sorted(m for m in {NOT_AT_LOAD!r} if m in sys.modules))
# What a user sees: Dagster's warnings and the project's; other libraries' deprecations are hidden by default.
shown = [w for w in caught if not issubclass(w.category, DeprecationWarning) or "dagster" in w.filename or "ecommerce" in w.filename]
print(sorted({{w.category.__name__ + ": " + str(w.message)[:80] for w in shown}}))
"""


def test_default_settings_load_no_optional_client_and_warn_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_TELEMETRY_DISABLED": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded, warned = done.stdout.strip().splitlines()[-2:]
    assert loaded == "[]"
    assert warned == "[]"


def test_the_selected_warehouse_kind_is_the_one_imported(tmp_path):
    probe = (
        "import sys\n"
        "from ecommerce_assets.lib.settings import load_settings\n"
        "from ecommerce_assets.warehouses import build_warehouse\n"
        "w = build_warehouse(load_settings(env={}))\n"
        "print(type(w).__name__, 'dagster_snowflake' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["DuckDBWarehouse", "False"], done.stderr[-2000:]
