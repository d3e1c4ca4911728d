"""The package's layout as dg projects have it: Dagster definitions under ``defs/``, a library without Dagster
under ``lib/``, and no file that edits ``sys.path``."""

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ecommerce_assets

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ecommerce_assets"


def _modules(folder: Path) -> list[str]:
    prefix = ".".join(folder.relative_to(ROOT).parts) + "."
    return [name for _, name, is_package in pkgutil.walk_packages([str(folder)], prefix) if not is_package]


def test_the_library_imports_no_dagster():
    """Each library module imported in a fresh interpreter: none brings in dagster, nor a module of defs/."""
    modules = _modules(PACKAGE / "lib")
    assert "ecommerce_assets.lib.spark.pipeline" in modules and "ecommerce_assets.lib.settings" in modules
    probe = ("import importlib, sys\n"
             f"for name in {modules!r}:\n"
             "    importlib.import_module(name)\n"
             "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('dagster')} "
             "| {m for m in sys.modules if m.startswith(('ecommerce_assets.defs', 'ecommerce_assets.definitions'))}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_every_definition_lives_under_defs():
    """Outside defs/, no module defines an asset, check, job, schedule or sensor; the code location's
    definitions are the ones the defs folder loads."""
    import dagster as dg

    from ecommerce_assets.definitions import defs

    kinds = (dg.AssetsDefinition, dg.AssetChecksDefinition, dg.JobDefinition, dg.ScheduleDefinition,
             dg.SensorDefinition, dg.SourceAsset, type(dg.define_asset_job("any")))
    outside = [name for name in _modules(PACKAGE) if ".defs." not in name and ".lib." not in name]
    assert "ecommerce_assets.cli" in outside
    found = [f"{name}.{attr}" for name in outside for attr, value in vars(importlib.import_module(name)).items()
             if isinstance(value, kinds)]
    assert found == []
    inside = {id(value) for name in _modules(PACKAGE / "defs") for value in vars(importlib.import_module(name)).values()
              if isinstance(value, kinds)}
    loaded = [*defs.jobs, *defs.schedules, *defs.sensors]
    assert len(loaded) >= 8 and all(id(definition) in inside for definition in loaded)
    assert {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()} >= {
        "landing_files", "raw_events", "clean_events", "rejected_events", "warehouse_events", "core/fct_events", "dashboard"}


def test_no_file_edits_sys_path():
    edits = []
    for folder in ("ecommerce_assets", "ecommerce_assets_tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                        and node.value.id == "sys":
                    edits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert edits == []
    assert ecommerce_assets.__file__ and Path(ecommerce_assets.__file__).parent == PACKAGE
