"""Resources for both shapes, built from :class:`Settings` in one function.

Client libraries that only some runs use (boto3 through dagster-aws, pyspark through dagster-pyspark, the
selected warehouse's client) are imported when a step first uses them, not when the code location loads:
every run and every step process loads the code location, and those imports cost seconds each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr

from ecommerce_assets.defs.dbt.project import dbt_executable, dbt_project
from ecommerce_assets.lib.lake import Lake, LakeStore, S3Lake
from ecommerce_assets.lib.settings import Settings, current, split_s3_url
from ecommerce_assets.lib.spark.config import spark_config
from ecommerce_assets.warehouses import build_warehouse


class LakeResource(dg.ConfigurableResource):
    """The lake: a local folder (embedded default) or ``s3://bucket/prefix`` through dagster-aws's S3 resource."""

    url: str
    staging_dir: str
    spark_access: str = "stage"  # for a lake on S3: "stage" copies weeks locally for Spark, "s3a" reads in place
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    raw_retention: str = "keep"  # "until_clean": the clean step drops a week's raw parts once it is clean

    @property
    def on_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def lake(self) -> LakeStore:
        if not self.on_s3:
            return Lake(Path(self.url))
        from dagster_aws.s3 import S3Resource

        # Keys come from boto3's own chain (AWS_* variables, profile or instance role), never from config.
        client = S3Resource(region_name=self.s3_region, endpoint_url=self.s3_endpoint_url).get_client()
        bucket, prefix = split_s3_url(self.url)
        return S3Lake(client, bucket, prefix, Path(self.staging_dir))


class SparkResource(dg.ConfigurableResource):
    """dagster-pyspark's lazy session, with dagster-pyspark (and so pyspark) imported by the step that asks
    for the session: only the clean step starts a JVM, once per run."""

    spark_config: dict[str, Any]
    _lazy: Any = PrivateAttr(default=None)

    @property
    def spark_session(self) -> Any:
        if self._lazy is None:
            from dagster_pyspark import LazyPySparkResource

            self._lazy = LazyPySparkResource(spark_config=self.spark_config)
        return self._lazy.spark_session


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


def lake_resource(settings: Settings) -> LakeResource:
    return LakeResource(
        url=settings.lake_url,
        staging_dir=str(settings.staging_dir),
        spark_access=settings.spark_lake_access,
        s3_region=settings.aws_region,
        s3_endpoint_url=settings.s3_endpoint_url,
        raw_retention=settings.raw_retention,
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "lake": lake_resource(settings),
        "warehouse": build_warehouse(settings),
        "reports": ReportsResource(folder=str(settings.reports_dir)),
        "pyspark": SparkResource(spark_config=spark_config(settings)),
        "dbt": DbtCliResource(project_dir=dbt_project, target=settings.dbt_target, dbt_executable=dbt_executable()),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(current()))
