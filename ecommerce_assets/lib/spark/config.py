"""Spark configuration for the cleaning step, built from :class:`Settings` in one place.

Local masters bind to loopback only. A standalone or other cluster master takes executor sizes from the
environment. With ``ECOMMERCE_SPARK_LAKE_ACCESS=s3a`` (a cluster image that carries hadoop-aws), Spark
reads and writes the S3 lake itself; credentials are never put in the configuration: the s3a
connector's default provider chain reads the standard AWS variables (or an instance role).
"""

from __future__ import annotations

import sys
from typing import Any

from ecommerce_assets.lib.settings import Settings, s3a_url


def spark_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "spark.master": settings.spark_master,
        "spark.app.name": "ecommerce-assets-clean",
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.pyspark.python": sys.executable,
        "spark.ui.showConsoleProgress": "false",
        # Local files without Hadoop's .crc checksum beside each (checksums of 0.6 bytes per event, and
        # their computing); the manifests count every week's rows, and the checks compare them.
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    }
    if settings.spark_master.startswith("local"):
        config |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
        }
    else:
        executor = {
            "spark.executor.memory": settings.spark_executor_memory,
            "spark.executor.cores": settings.spark_executor_cores,
            "spark.cores.max": settings.spark_cores_max,
        }
        config |= {key: str(value) for key, value in executor.items() if value is not None}
    if settings.lake_on_s3 and settings.spark_lake_access == "s3a":
        config |= s3a_config(settings)
    return config


def s3a_config(settings: Settings) -> dict[str, str]:
    """hadoop-aws settings for reading and writing ``s3a://`` paths of the lake (endpoint, no secrets)."""
    config = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": settings.aws_region,
        # Spark writes to a staging prefix and the lake publishes whole weeks itself, so the default
        # committer's renames only ever touch staging objects.
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
    }
    if settings.s3_endpoint_url:
        # MinIO and other S3-compatible stores: their own endpoint, bucket in the path.
        config |= {
            "spark.hadoop.fs.s3a.endpoint": settings.s3_endpoint_url,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": str(settings.s3_endpoint_url.startswith("https")).lower(),
        }
    return config


def s3a_lake_url(lake_url: str, key: str) -> str:
    """The ``s3a://`` URL of a lake key (relative to the ``s3://`` lake root)."""
    return f"{s3a_url(lake_url)}/{key}"
