"""dbt configured by folder (dbt_project.yml), as jaffle-shop does: every model folder has its block, and
no model's config() repeats what its folders already set."""

import ast
import re

import pytest
import yaml

from ecommerce_assets_tests.conftest import ROOT

pytestmark = pytest.mark.unit

DBT = ROOT / "ecommerce_dbt"
FOLDER_KEYS = {"incremental_strategy", "on_schema_change", "post_hook", "pre_hook", "schema", "tags", "meta", "group"}
CONFIG_START = re.compile(r"\{\{\s*config\(")
CALL_END = re.compile(r"\)\s*\}\}")


def _folder_configs() -> dict[tuple[str, ...], dict]:
    """Folder path under models/ -> its own `+key: value` settings, for every folder dbt_project.yml names."""
    tree = yaml.safe_load((DBT / "dbt_project.yml").read_text())["models"]["ecommerce"]
    folders: dict[tuple[str, ...], dict] = {}

    def walk(node: dict, path: tuple[str, ...]) -> None:
        folders[path] = {key[1:]: value for key, value in node.items() if key.startswith("+")}
        for key, value in node.items():
            if not key.startswith("+") and isinstance(value, dict):
                walk(value, (*path, key))

    walk(tree, ())
    return folders


def _model_config(sql: str) -> dict:
    """The keyword arguments of a model's {{ config(...) }}, as Python values."""
    start = CONFIG_START.search(sql)
    if start is None:
        return {}
    for end in CALL_END.finditer(sql, start.end()):  # the first `) }}` that closes the call (hooks hold `) }}` too)
        try:
            call = ast.parse(f"config({sql[start.end():end.start()]})", mode="eval").body
        except SyntaxError:
            continue
        return {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    raise ValueError(f"unclosed config() call: {sql[start.start():start.start() + 80]!r}")


def test_every_model_folder_is_configured_in_dbt_project_yml():
    folders = _folder_configs()
    model_folders = {path.parent.relative_to(DBT / "models").parts for path in (DBT / "models").rglob("*.sql")}
    assert model_folders, "no models found"
    assert sorted(model_folders - set(folders)) == []


def test_no_model_repeats_a_config_its_folders_set():
    folders = _folder_configs()
    repeats = []
    for path in sorted((DBT / "models").rglob("*.sql")):
        parts = path.parent.relative_to(DBT / "models").parts
        inherited: dict = {}
        for depth in range(len(parts) + 1):  # outer folders first, inner ones override
            inherited.update(folders.get(parts[:depth], {}))
        own = _model_config(path.read_text())
        repeats += [f"{path.name}: {key}={value!r}" for key, value in own.items()
                    if inherited.get(key.replace("_", "-") if key.endswith("_hook") else key) == value]
    assert repeats == []


def test_models_leave_folder_settings_to_their_folders():
    """Strategy, schema checks, hooks, schema, tags and group are the folder's: a model sets only what is its
    own (its unique key, a materialization that differs from its folder's)."""
    set_by_models = [f"{path.name}: {key}" for path in sorted((DBT / "models").rglob("*.sql"))
                     for key in _model_config(path.read_text()) if key in FOLDER_KEYS]
    assert set_by_models == []


def test_the_config_parser_sees_a_repeat():
    """The check above can fail: a model restating its folder's materialization is caught."""
    own = _model_config("{{ config(materialized='incremental', unique_key='event_week') }}\nselect 1")
    folders = _folder_configs()
    assert own == {"materialized": "incremental", "unique_key": "event_week"}
    assert folders[("intermediate", "weekly")]["materialized"] == own["materialized"]
