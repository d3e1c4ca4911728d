"""What a folder holds, as comparable state (rows, manifests), and what must never be seen (half-written partitions, leftovers)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ecommerce_assets_tests.faults.folders import Folder, MONTH, RUN_TIME_COLUMNS, WEEKS, _GENERATION, _list_objects, _split

def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()[:16]


def _strip_generation(name: str) -> str:
    return _GENERATION.sub("", Path(name).name)


def lake_state(folder: Folder, weeks: tuple[str, ...] = WEEKS) -> dict[str, Any]:
    """Every partition of the weeks (and their month's unroutable lines) as a reader sees it: manifest
    (without the S3 file list and the generation) and rows, read through the lake's own interface (an S3 lake: what the
    manifest lists). A missing partition is ``None``."""
    import duckdb

    from ecommerce_assets.lib.lake import LINE_MAP_SUFFIX, RAW_SUFFIX, MissingPartition

    store = folder.store()
    state: dict[str, Any] = {}

    def manifest(key: str) -> dict | None:
        try:
            found = store.read_manifest(key)
        except MissingPartition:
            return None
        return {k: v for k, v in found.items() if k not in ("files", "generation")}

    month = dt.date.fromisoformat(MONTH + "-01")
    keys = {f"unroutable {MONTH}": (store.unroutable_month(month), ".csv")}
    for week in weeks:
        day = dt.date.fromisoformat(week)
        keys |= {f"raw {week}": (store.raw_week(day), (RAW_SUFFIX, LINE_MAP_SUFFIX)),
                 f"clean {week}": (store.clean_week(day), ".parquet"),
                 f"rejected {week}": (store.rejected_week(day), ".parquet")}
    with store.local_files([key for key, _ in keys.values()], (RAW_SUFFIX, LINE_MAP_SUFFIX, ".parquet", ".csv")) as local:
        for label, (key, suffix) in keys.items():
            found = manifest(key)
            if found is None:
                state[label] = None
                continue
            files = [p for p in local[key] if p.endswith(suffix)]
            entry: dict[str, Any] = {"manifest": found}
            if label.startswith(("raw", "unroutable")):
                content = {}
                for path in files:
                    data = Path(path).read_bytes()
                    content[_strip_generation(path)] = hashlib.sha256(gzip.decompress(data) if path.endswith(".gz") else data).hexdigest()[:16]
                entry["files"] = content
                entry["rows"] = sum(
                    len(gzip.decompress(Path(p).read_bytes()).splitlines()) - 1 for p in files if p.endswith(RAW_SUFFIX)
                ) if label.startswith("raw") else found.get("rows")
            else:
                rows = duckdb.execute("select * exclude (week) from read_parquet($f, hive_partitioning = true)",
                                      {"f": files}).fetchall() if files else []
                columns = [c[0] for c in duckdb.execute("select * exclude (week) from read_parquet($f, hive_partitioning = true) limit 0",
                                                        {"f": files}).description] if files else []
                if "source_file" in columns:  # a path in this folder: keep the part's name only
                    at = columns.index("source_file")
                    rows = [(*r[:at], _strip_generation(r[at]), *r[at + 1:]) for r in rows]
                entry["rows"], entry["digest"] = len(rows), _digest(rows)
                if "event_id" in columns:
                    ids = [r[columns.index("event_id")] for r in rows]
                    entry["event_ids"] = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
            state[label] = entry
    return state


def warehouse_state(folder: Folder) -> dict[str, Any]:
    """Every table of the DuckDB file (sorted rows, run-time columns left out), and raw.events per week.
    Opening it read-only also fails if a dead run left a lock behind."""
    import duckdb

    path = folder.settings().duckdb_path
    if not path.exists():
        return {}
    state: dict[str, Any] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_type = 'BASE TABLE' and table_name <> 'refresh_watermarks' order by 1, 2").fetchall()
        for schema, table in tables:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table]).fetchall() if c not in RUN_TIME_COLUMNS]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns)} from "{schema}"."{table}"').fetchall()
            state[f"{schema}.{table}"] = {"rows": len(rows), "digest": _digest(rows)}
        if ("raw", "events") in tables:
            state["raw.events by week"] = {str(w): n for w, n in con.execute(
                "select event_week, count(*) from raw.events group by 1 order by 1").fetchall()}
    return state


def dashboard_state(folder: Folder) -> dict[str, Any] | None:
    """The page, with the ids plotly draws at random for each figure made equal."""
    page = folder.settings().reports_dir / "dashboard.html"
    if not page.exists():
        return None
    text = page.read_text()
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
    return {"bytes": len(text), "complete": text.rstrip().endswith("</html>"), "digest": hashlib.sha256(text.encode()).hexdigest()[:16]}


def state(folder: Folder, layers: tuple[str, ...] = ("lake", "warehouse", "dashboard")) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "lake" in layers:
        out.update(lake_state(folder))
    if "warehouse" in layers:
        out["warehouse"] = warehouse_state(folder)
    if "dashboard" in layers:
        out["dashboard"] = dashboard_state(folder)
    return out


def rows_lost(expected: dict[str, Any], found: dict[str, Any]) -> int:
    """Rows of the expected state that are not there, whole and unchanged."""
    lost = 0
    for key, want in expected.items():
        have = found.get(key)
        if key == "warehouse":
            for table, entry in (want or {}).items():
                if table == "raw.events by week":
                    continue
                got = (have or {}).get(table)
                if got != entry:
                    lost += max(entry["rows"] - (got or {}).get("rows", 0), 0) or entry["rows"]
        elif key == "dashboard":
            continue
        elif want is not None and have != want:
            lost += int((want or {}).get("rows") or 0)
    return lost


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(expected) | set(found)):
        want, have = expected.get(key), found.get(key)
        if key == "warehouse":
            for table in sorted(set(want or {}) | set(have or {})):
                if (want or {}).get(table) != (have or {}).get(table):
                    out.append(f"{table}: expected {(want or {}).get(table)}, found {(have or {}).get(table)}")
        elif want != have:
            out.append(f"{key}: expected {want}, found {have}")
    return out


PUBLISHED = {"raw/events": "week", "clean/events": "week", "quarantine/events": "week", "quarantine/unroutable": "month"}
DATA_NAME = re.compile(r"^(part-[\w.-]+\.(csv\.gz|lines\.gz|parquet)|unroutable\.csv|_manifest\.json|\.part-[\w.-]+\.crc)$")


def half_written(folder: Folder) -> list[str]:
    """What a reader must never see: in a local lake's published folders, a name that is not a
    partition (a moved-aside or half-deleted copy) or a file that is not data or a manifest; a partition
    whose rows differ from its manifest's count, or whose week breaks raw = clean + duplicates + rejected;
    on S3, a manifest that lists a missing object; in the warehouse, a week of raw.events that is not
    whole, a DuckDB file that does not open."""
    from ecommerce_assets.lib.lake import MissingPartition

    problems: list[str] = []
    store = folder.store()
    if not folder.on_s3:
        lake = folder.settings().lake
        for parent, kind in PUBLISHED.items():
            base = lake / parent
            for entry in sorted(base.iterdir()) if base.is_dir() else []:
                if not re.fullmatch(rf"{kind}=\d{{4}}-\d{{2}}(-\d{{2}})?", entry.name) or not entry.is_dir():
                    problems.append(f"{entry}: not a partition, in a published folder")
                    continue
                for file in sorted(entry.rglob("*")):
                    if file.is_file() and not DATA_NAME.match(file.name):
                        problems.append(f"{file}: not data, in a published partition")
                    if file.is_dir():
                        problems.append(f"{file}: a folder inside a published partition")
                if not (entry / "_manifest.json").is_file():
                    problems.append(f"{entry}: no manifest")
    else:
        objects, listed = _s3_listing(folder)
        problems += [f"{folder.lake_url}: a manifest lists {key}, which is missing" for key in sorted(listed - objects)]
    state_now = lake_state(folder)
    for week in WEEKS:
        raw, clean, rejected = (state_now[f"{k} {week}"] for k in ("raw", "clean", "rejected"))
        if raw is not None and raw["rows"] != raw["manifest"]["rows"]:
            problems.append(f"raw {week}: {raw['rows']} lines, manifest says {raw['manifest']['rows']}")
        if clean is not None:
            m = clean["manifest"]
            if clean["rows"] != m["clean_rows"]:
                problems.append(f"clean {week}: {clean['rows']} rows, manifest says {m['clean_rows']}")
            if m["raw_rows"] != m["clean_rows"] + m["duplicates"] + m["rejected_rows"]:
                problems.append(f"clean {week}: raw {m['raw_rows']} != clean + duplicates + rejected in its manifest")
            if raw is not None and raw["manifest"]["rows"] != m["raw_rows"]:
                problems.append(f"clean {week}: cleaned from {m['raw_rows']} raw rows, the raw week has {raw['manifest']['rows']}")
        if rejected is not None and rejected["rows"] != rejected["manifest"]["rejected_rows"]:
            problems.append(f"rejected {week}: {rejected['rows']} rows, manifest says {rejected['manifest']['rejected_rows']}")
    try:
        by_week = warehouse_state(folder).get("raw.events by week", {})
    except Exception as error:  # noqa: BLE001 (any failure to open is the finding)
        problems.append(f"warehouse: cannot be opened: {error}")
        by_week = {}
    for week, rows in by_week.items():
        try:
            expected = int(store.read_manifest(store.clean_week(dt.date.fromisoformat(week)))["clean_rows"])
        except MissingPartition:
            expected = None
        if rows != expected:
            problems.append(f"raw.events {week}: {rows} rows, the clean week has {expected}")
    return problems


def leftovers(folder: Folder) -> list[str]:
    """Scratch a dead run left behind (never visible to readers): staging folders, partial files."""
    settings = folder.settings()
    places = [settings.staging_dir, settings.lake / "_staging"] if not folder.on_s3 else [settings.staging_dir]
    found = [str(p) for place in places if place.is_dir() for p in sorted(place.iterdir())]
    found += [str(p) for p in sorted(folder.data.rglob("*.partial"))]
    if folder.on_s3:  # objects of a generation no manifest lists
        objects, listed = _s3_listing(folder)
        bucket, prefix = _split(folder.lake_url)
        found += [f"s3://{bucket}/{o}" for o in sorted(objects - listed)
                  if not o.endswith("/_manifest.json") and not o.startswith(f"{prefix}/landing/")]
    return found


def _s3_listing(folder: Folder) -> tuple[set[str], set[str]]:
    """The S3 lake's object keys, and the keys its manifests list."""
    store, (bucket, prefix) = folder.store(), _split(folder.lake_url)
    objects, listed = set(_list_objects(store.client, bucket, prefix + "/")), set()
    for key in (o for o in objects if o.endswith("/_manifest.json")):
        base = key.rsplit("/", 1)[0]
        manifest = json.loads(store.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        listed |= {f"{base}/{name}" for name in manifest.get("files", [])}
    return objects, listed


