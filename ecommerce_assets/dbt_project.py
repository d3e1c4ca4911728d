"""The dbt project as Dagster sees it. The manifest is built by `dbt parse` at install time
(scripts/setup.sh) or on the fly under `dagster dev`, never by importing this module elsewhere."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "ecommerce_dbt"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
