"""Data-quality checks, computed from what was written (Parquet files, warehouse rows), not from the
counts the writer reported, so that each check can fail. Results cover every week of the run."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ecommerce_assets.lib.kaggle import EVENT_TYPES
from ecommerce_assets.lib.lake import LakeStore

CLEAN = dg.AssetKey("clean_events")
WAREHOUSE = dg.AssetKey("warehouse_events")

clean_check_specs = [
    dg.AssetCheckSpec(
        "row_accounting",
        asset=CLEAN,
        blocking=True,
        description="Per week: raw rows = clean rows + exact duplicates + rejected rows.",
    ),
    dg.AssetCheckSpec("no_null_keys", asset=CLEAN, description="event_id, event_time, event_type, product_id, category_id and user_id are never null."),
    dg.AssetCheckSpec("event_id_unique", asset=CLEAN, description="event_id is unique within each week."),
    dg.AssetCheckSpec("accepted_event_types", asset=CLEAN, description=f"event_type is one of {', '.join(EVENT_TYPES)}."),
    dg.AssetCheckSpec("events_inside_week", asset=CLEAN, description="Every event_time lies in its week's half-open window [Monday, next Monday)."),
]
warehouse_check_specs = [
    dg.AssetCheckSpec(
        "rows_match_clean",
        asset=WAREHOUSE,
        blocking=True,
        description="Warehouse rows per week equal the cleaned Parquet rows of that week.",
    ),
]


LocalFiles = dict[str, list[str]]  # lake key -> local Parquet paths (see LakeStore.local_files)


def _of(files: LocalFiles, keys: list[str]) -> list[str]:
    return sorted(path for key in keys for path in files.get(key, []))


def _rows_per_week(files: list[str]) -> dict[dt.date, int]:
    """Row count per week folder, read from the Parquet files themselves."""
    if not files:
        return {}
    import duckdb

    rows = duckdb.execute(
        "select week, count(*) from read_parquet($files, hive_partitioning = true, hive_types = {'week': date}) group by week",
        {"files": files},
    ).fetchall()
    return {week: count for week, count in rows}


def clean_check_results(lake: LakeStore, weeks: list[dt.date], files: LocalFiles) -> list[dg.AssetCheckResult]:
    """Checks on the weeks' published output; ``files`` holds the local copies of their clean and
    quarantine Parquet files."""
    clean_files = _of(files, [lake.clean_week(w) for w in weeks])
    clean = _rows_per_week(clean_files)
    rejected = _rows_per_week(_of(files, [lake.rejected_week(w) for w in weeks]))
    unbalanced, accounts = {}, {}
    for week in weeks:
        raw_rows = int(lake.read_manifest(lake.raw_week(week))["rows"])
        duplicates = int(lake.read_manifest(lake.clean_week(week))["duplicates"])
        accounted = clean.get(week, 0) + duplicates + rejected.get(week, 0)
        sign = "=" if raw_rows == accounted else "!="
        accounts[week.isoformat()] = f"raw {raw_rows} {sign} clean {clean.get(week, 0)} + duplicates {duplicates} + rejected {rejected.get(week, 0)}"
        if raw_rows != accounted:
            unbalanced[week.isoformat()] = accounts[week.isoformat()]
    results = [
        dg.AssetCheckResult(
            check_name="row_accounting",
            asset_key=CLEAN,
            passed=not unbalanced,
            # Every week's account, so a ranged run's check shows each week it covered.
            metadata={"weeks_checked": len(weeks), "unbalanced_weeks": dg.MetadataValue.json(unbalanced),
                      "weeks": dg.MetadataValue.json(accounts)},
        )
    ]
    # One query per week: event_id uniqueness needs a hash table of the rows checked, so a 31-week
    # backfill holds one week's at a time (beside the run's Spark JVM) rather than the whole range's.
    import duckdb

    failing_by_week: dict[str, tuple[int, ...]] = {}
    for week in weeks:
        week_files = _of(files, [lake.clean_week(week)])
        if not week_files:
            continue
        failing_by_week[week.isoformat()] = duckdb.execute(
            f"""
            with events as (select * from read_parquet($files, hive_partitioning = true, hive_types = {{'week': date}}))
            select
                count(*) filter (where event_id is null or event_time is null or event_type is null
                                 or product_id is null or category_id is null or user_id is null),
                count(*) - count(distinct (week, event_id)),
                count(*) filter (where event_type not in {EVENT_TYPES!r}),
                count(*) filter (where event_time < week or event_time >= week + interval 7 day)
            from events
            """,
            {"files": week_files},
        ).fetchone()
    for index, name in enumerate(("no_null_keys", "event_id_unique", "accepted_event_types", "events_inside_week")):
        by_week = {week: counts[index] for week, counts in failing_by_week.items()}
        failing = sum(by_week.values())
        results.append(
            dg.AssetCheckResult(
                check_name=name, asset_key=CLEAN, passed=failing == 0,
                metadata={"failing_rows": failing, "failing_rows_by_week": dg.MetadataValue.json(by_week)},
            )
        )
    return results


def warehouse_check_result(loaded: dict[dt.date, int], lake: LakeStore, weeks: list[dt.date]) -> dg.AssetCheckResult:
    """``loaded``: rows per week counted in the warehouse table; compared with the clean manifests, whose
    counts were read from the published Parquet."""
    clean = {w: int(lake.read_manifest(lake.clean_week(w))["clean_rows"]) for w in weeks}
    mismatched = {
        w.isoformat(): f"warehouse {loaded.get(w, 0)} != clean {clean.get(w, 0)}"
        for w in weeks
        if loaded.get(w, 0) != clean.get(w, 0)
    }
    return dg.AssetCheckResult(
        check_name="rows_match_clean",
        asset_key=WAREHOUSE,
        passed=not mismatched,
        metadata={"weeks_checked": len(weeks), "mismatched_weeks": dg.MetadataValue.json(mismatched)},
    )
