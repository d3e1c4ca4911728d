"""Scenario folders: the data a stage runs on (a copy of the reference), its landing files, and one stage run in process."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ecommerce_assets_tests.stages import PIPELINE_STAGES

ROOT = Path(__file__).resolve().parents[2]
W1, W2 = "2019-10-07", "2019-10-14"
WEEKS = (W1, W2)
MONTH = "2019-10"
SCALE, SEED = 0.0002, 17
# Lines the raw split routes but Spark rejects, and one it cannot route: the quarantines are not empty.
INJECTED = [
    "2019-10-08 10:00:00 UTC,click,1004856,2053013555631882655,,samsung,130.76,543272936,s",
    "2019-10-16 10:00:01 UTC,view,1004856,2053013555631882655,,samsung,-130.76,543272936,s",
    "2019-10-17 99:00:00 UTC,view,1004856,2053013555631882655,,samsung,130.76,543272936,s",
]
STAGES = [*PIPELINE_STAGES, "land", "generate"]
# Columns stamped by the run (its times) or naming where its lake is (raw.event_weeks.folder), not a
# function of the data: left out of row comparisons.
RUN_TIME_COLUMNS = {"loaded_at", "refreshed_at", "folder"}
_GENERATION = re.compile(r"^g[0-9a-f]{12}-")


# -- scenario folders ------------------------------------------------------------------------------------

@dataclass
class Folder:
    """A data folder (lake, warehouse, reports, staging) and how the pipeline reaches its lake."""

    data: Path
    lake_url: str | None = None  # None: <data>/lake; or s3://bucket/prefix
    endpoint: str | None = None

    @property
    def on_s3(self) -> bool:
        return bool(self.lake_url and self.lake_url.startswith("s3://"))

    def env(self) -> dict[str, str]:
        env = {
            "ECOMMERCE_DATA_DIR": str(self.data), "SPARK_MASTER": "local[2]", "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
            "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": "4", "ECOMMERCE_DUCKDB_MEMORY_LIMIT": "1GB",
        }
        if self.lake_url:
            env["ECOMMERCE_LAKE"] = self.lake_url
        if self.endpoint:
            env["ECOMMERCE_S3_ENDPOINT_URL"] = self.endpoint
        return env

    def settings(self):
        from ecommerce_assets.lib.settings import load_settings

        return load_settings(env=self.env())

    def store(self):
        from ecommerce_assets.defs.resources import build_resources

        return build_resources(self.settings())["lake"].lake

    def copy(self, data: Path, lake_url: str | None = None) -> Folder:
        """This folder's files under ``data`` (an S3 lake's objects under ``lake_url``, copied in the bucket)."""
        shutil.copytree(self.data, data, symlinks=True)
        if not self.on_s3:
            return Folder(data)
        assert lake_url is not None
        store, (bucket, prefix) = self.store(), _split(self.lake_url)
        _, new_prefix = _split(lake_url)
        for item in _list_objects(store.client, bucket, prefix + "/"):
            store.client.copy_object(Bucket=bucket, Key=new_prefix + item[len(prefix):],
                                     CopySource={"Bucket": bucket, "Key": item})
        return Folder(data, lake_url, self.endpoint)


def _split(url: str) -> tuple[str, str]:
    from ecommerce_assets.lib.settings import split_s3_url

    return split_s3_url(url)


def _list_objects(client, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def landing_files(out: Path, scale: float = SCALE, seed: int = SEED) -> list[Path]:
    """The weeks' days (October only), generated, with INJECTED lines placed in time order."""
    from ecommerce_assets.lib.generator.synthetic import generate

    files = generate(out, scale, seed=seed, start=dt.date(2019, 10, 7), end=dt.date(2019, 10, 20), workers=1)
    for path in files:
        with gzip.open(path, "rt", newline="") as handle:
            header, *lines = handle.read().splitlines()
        for line in INJECTED:
            lines.insert(next((i for i, other in enumerate(lines) if other[:10] >= line[:10]), len(lines)), line)
        path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))
    return files


# -- running a stage (in process, or in the child) ----------------------------------------------------------

def materialize(folder_env: dict[str, str], stage: str, weeks: list[str]):
    """One stage as one run (a range of weeks in one run), in this process; the Dagster result."""
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets_tests.helpers import run_stage

    return run_stage(stage, weeks, build_resources(load_settings(env=folder_env)), raise_on_error=False,
                     run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})


def failure_message(result) -> str:
    """The failed steps' error messages, as the run's event log shows them."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            texts.append(error.to_string() if error else str(event.message))
    return "\n".join(texts)


def run_cli(argv: list[str]) -> int:
    from ecommerce_assets.cli import main

    return main(argv)


