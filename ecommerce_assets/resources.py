"""Resources for the embedded default shape, built from :class:`Settings` in one function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_dbt import DbtCliResource
from dagster_pyspark import LazyPySparkResource

from ecommerce_assets.dbt_project import dbt_project
from ecommerce_assets.lake import Lake, LakeStore, S3Lake
from ecommerce_assets.settings import Settings
from ecommerce_assets.spark.config import spark_config
from ecommerce_assets.warehouses import DuckDBWarehouse, snowflake_warehouse


class LakeResource(dg.ConfigurableResource):
    """The lake: a local folder (embedded default) or ``s3://bucket/prefix`` through dagster-aws's S3 resource."""

    url: str
    staging_dir: str
    spark_access: str = "stage"  # for a lake on S3: "stage" copies weeks locally for Spark, "s3a" reads in place
    s3: S3Resource

    @property
    def on_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def lake(self) -> LakeStore:
        if not self.on_s3:
            return Lake(Path(self.url))
        bucket, _, prefix = self.url.removeprefix("s3://").partition("/")
        return S3Lake(self.s3.get_client(), bucket, prefix, Path(self.staging_dir))


class ReportsResource(dg.ConfigurableResource):
    """The folder reports (the dashboard) are written to."""

    folder: str

    def write(self, name: str, text: str) -> Path:
        """Write aside, then rename: a reader never sees half a file."""
        target = Path(self.folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
        return target


def _dbt_executable() -> str:
    """The dbt installed beside this interpreter, so a venv works without being activated."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "lake": LakeResource(
            url=settings.lake_url,
            staging_dir=str(settings.staging_dir),
            spark_access=settings.spark_lake_access,
            # Keys come from boto3's own chain (AWS_* variables, profile or instance role), never from config.
            s3=S3Resource(region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url),
        ),
        "warehouse": (
            snowflake_warehouse(settings) if settings.warehouse == "snowflake" else DuckDBWarehouse(
                path=str(settings.duckdb_path), memory_limit=settings.duckdb_memory_limit
            )
        ),
        "reports": ReportsResource(folder=str(settings.reports_dir)),
        # Lazy: only the step that asks for the session starts a JVM, once per run.
        "pyspark": LazyPySparkResource(spark_config=spark_config(settings)),
        "dbt": DbtCliResource(project_dir=dbt_project, target=settings.dbt_target, dbt_executable=_dbt_executable()),
    }
