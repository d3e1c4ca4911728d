"""The child process: hooks that write a marker and pause at a point, then the stage."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from ecommerce_assets_tests.faults.folders import W2, failure_message, materialize, run_cli
from ecommerce_assets_tests.faults.points import install_anchors

class _Child:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.markers = spec, Path(spec["markers"])
        self.point: str | None = spec.get("marker")
        self.passing = spec.get("passing", False)
        self.counts: dict[str, int] = {}

    def mark(self, name: str) -> None:
        partial = self.markers / f".{name}.tmp"
        partial.write_text(f"{time.time()}\n")
        os.replace(partial, self.markers / name)

    def reached(self, name: str) -> None:
        """At the kill point: report it, and wait there to be killed (unless the point is passing)."""
        if name != self.point:
            return
        self.mark("point")
        if not self.passing:
            time.sleep(3600)

    def nth(self, key: str) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def install(self) -> None:
        point = self.point or ""
        if point.startswith(("raw:", "clean:")):
            self._lake_hooks()
        if point.startswith("load:"):
            self._load_hooks()
        if point.startswith("dbt:"):
            self._dbt_hooks()
        if point.startswith(("replace:", "replaced:", "sidecar:")):
            self._file_hooks()
        install_anchors(lambda name: self.mark(name) if name == "body" and not (self.markers / name).exists() else None)

    def _lake_hooks(self) -> None:
        from ecommerce_assets.lib import lake
        from ecommerce_assets.defs.raw import raw_events
        from ecommerce_assets.lib.spark import pipeline

        child = self
        split_month = raw_events.split_month

        def split_then_pause(*args, **kwargs):
            result = split_month(*args, **kwargs)
            child.reached("raw:staged")
            return result

        raw_events.split_month = split_then_pause
        write_batch = pipeline._write_batch

        def write_then_pause(*args, **kwargs):
            write_batch(*args, **kwargs)
            child.reached("clean:written")

        pipeline._write_batch = write_then_pause
        for cls in (lake.Lake, lake.S3Lake):
            original = cls.publish

            def counted(self, staged, key, manifest, _original=original):
                layer = "raw" if key.startswith("raw/events") else "clean" if key.startswith(("clean/", "quarantine/events")) else None
                if layer:
                    n = child.nth(layer)
                    child.reached({2: f"{layer}:second-publish", 3: f"{layer}:third-publish"}.get(n, ""))
                return _original(self, staged, key, manifest)

            cls.publish = counted
        exchange = lake._exchange

        def exchange_then_pause(staged, final):
            swapped = exchange(staged, final)
            if "raw/events/week=" + W2 in str(final):
                child.reached("raw:after-swap")
            return swapped

        lake._exchange = exchange_then_pause
        upload, delete = lake.S3Lake.upload, lake.S3Lake.delete

        def upload_then_pause(self, path, key):
            upload(self, path, key)
            if key.startswith("raw/events"):
                child.reached("raw:mid-upload")

        def pause_then_delete(self, object_keys):
            if any("/raw/events/" in k for k in object_keys):
                child.reached("raw:switched")
            delete(self, object_keys)

        lake.S3Lake.upload, lake.S3Lake.delete = upload_then_pause, pause_then_delete

    def _load_hooks(self) -> None:
        from ecommerce_assets.lib.warehouses.duckdb import DuckDBWarehouse

        child, connect = self, DuckDBWarehouse.connect

        class Watched:
            def __init__(self, connection) -> None:
                self._connection = connection

            def execute(self, sql, *args, **kwargs):
                result = self._connection.execute(sql, *args, **kwargs)
                # The table's copy (a lake on S3) or the view's registry of weeks (a local lake).
                if sql.startswith(("delete from raw.events", "delete from raw.event_weeks")):
                    child.reached("load:deleted")
                elif sql.startswith(("insert into raw.events", "insert into raw.event_weeks")):
                    child.reached("load:inserted")
                return result

            def __getattr__(self, name):
                return getattr(self._connection, name)

        @contextlib.contextmanager
        def watched(self, read_only: bool = False):
            with connect(self, read_only=read_only) as connection:
                yield Watched(connection)

        DuckDBWarehouse.connect = watched

    def _dbt_hooks(self) -> None:
        from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

        child, stream = self, DbtCliInvocation.stream_raw_events
        model = (self.point or "").split(":", 1)[1]

        def watched(self):
            for event in stream(self):
                info, data = event.raw_event.get("info", {}), event.raw_event.get("data", {})
                node = data.get("node_info", {})
                # LogModelResult: dbt's line for a finished model (NodeFinished is debug level, not streamed)
                if info.get("name") == "LogModelResult" and node.get("node_name") == model:
                    child.reached(f"dbt:{model}")
                yield event

        DbtCliInvocation.stream_raw_events = watched

    def _file_hooks(self) -> None:
        import builtins

        from ecommerce_assets.lib import landing_copy

        child, replace = self, Path.replace

        def watched_replace(path, target):
            child.reached(f"replace:{Path(path).name}")
            result = replace(path, target)
            child.reached(f"replaced:{Path(path).name}")
            return result

        def watched_open(file, mode="r", *args, **kwargs):
            handle = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 (returned open, as open does)
            name = Path(file).name
            if ".sha256" in name and "w" in mode:  # opened for writing (truncated), nothing written yet
                child.reached(f"sidecar:{name.split('.sha256')[0]}")
            return handle

        Path.replace = watched_replace
        landing_copy.open = watched_open  # the module's own name for open, ahead of the builtin

    def run(self) -> int:
        self.install()
        self.mark("started")
        stage = self.spec["stage"]
        if stage in ("land", "generate"):
            code = run_cli(self.spec["argv"])
        else:
            result = materialize(dict(os.environ), stage, self.spec["weeks"])
            code = 0 if result.success else 1
            if not result.success:
                print(failure_message(result)[-3000:], file=sys.stderr)
        self.mark("done")
        return code


