"""The dbt project as Dagster sees it. The manifest is built by `dbt parse` at install time
(scripts/setup.sh), or when the code location loads under `dagster dev` / `dg`, never elsewhere."""

import sys
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject

from ecommerce_assets.lib.settings import DBT_PROJECT_DIR



def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so a venv works without being activated."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


class VenvDbtPreparer(DagsterDbtProjectPreparer):
    """Parses with :func:`dbt_executable` (dagster-dbt's default preparer runs `dbt` from PATH, which a
    venv that is not activated does not put there), and only when a project file is newer than the
    manifest: every process that loads the code location under `dg` or `dagster dev` (the run, its step
    server) would otherwise parse again."""

    def prepare_if_dev(self, project: DbtProject) -> None:
        if self.using_dagster_dev() and _stale(project.manifest_path):
            self.prepare(project)

    def prepare(self, project: DbtProject) -> None:
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = (p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts)
    return any(p.stat().st_mtime > built for p in sources)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
VenvDbtPreparer().prepare_if_dev(dbt_project)
