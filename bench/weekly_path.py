"""Benchmark the weekly path on generated data: each stage of the graph as the pipeline runs it.

Generates (or reuses) Kaggle-format landing files for the requested weeks at a scale, then materializes,
in process and in the pipeline's order, one Dagster run per stage over the whole week range (a
single-run backfill, as the UI or the CLI would start it): raw split, Spark clean, warehouse load,
incremental dbt models, then the marts. For each stage it prints wall seconds, rows/s, the peak memory
of this process tree (Spark's JVM and dbt included; PSS, shared pages counted once) and output bytes.
After the raw split it runs the DuckDB reference clean (ecommerce_assets_tests/reference_clean.py) on the same raw files
(before the clean step may drop them) and prints Spark / reference, and with ``--verify`` checks that both
clean outputs hold the same rows. Last, the storage per layer and per warehouse table, per raw event.

    python bench/weekly_path.py --scale 1 --week 2020-01-13               # one full-scale week
    python bench/weekly_path.py --scale 0.1 --week 2019-09-30 --weeks 31  # the whole history at 0.1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ecommerce_assets_tests.peak_memory import PeakMemory, stop_spark

FIRST_DAY, LAST_DAY = dt.date(2019, 10, 1), dt.date(2020, 4, 30)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def warehouse_tables(path: Path) -> list[tuple[str, int, int]]:
    """(schema.table, rows, bytes) of each table in the DuckDB file, bytes counted as its storage blocks
    (tables rarely share one: the sum comes within a block or two of the file's size)."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        block = con.execute("select block_size from pragma_database_size()").fetchone()[0]
        tables = con.execute("select schema_name || '.' || table_name, estimated_size from duckdb_tables() order by 1").fetchall()
        return [(name, rows, block * con.execute(
            f"select count(distinct block_id) from pragma_storage_info('{name}') where block_id >= 0").fetchone()[0])
            for name, rows in tables]


def storage_report(root: Path, lake: Path, events: int) -> list[str]:
    """Bytes per layer beyond the landing files, and per event, at the end of the run."""
    layers = [("landing (input, not counted)", folder_bytes(lake / "landing")),
              ("raw parts", folder_bytes(lake / "raw")), ("clean", folder_bytes(lake / "clean")),
              ("quarantine", folder_bytes(lake / "quarantine"))]
    duckdb_file = root / "warehouse.duckdb"
    tables = warehouse_tables(duckdb_file) if duckdb_file.exists() else []
    by_schema: dict[str, int] = {}
    for name, _, size in tables:
        by_schema[name.split(".")[0]] = by_schema.get(name.split(".")[0], 0) + size
    layers += [(f"warehouse {schema}", size) for schema, size in sorted(by_schema.items())]
    file_size = duckdb_file.stat().st_size if duckdb_file.exists() else 0
    layers.append(("warehouse file beyond its tables", max(0, file_size - sum(by_schema.values()))))
    lines = [f"{'layer':34} {'MB':>10} {'bytes/event':>12}"]
    lines += [f"{name:34} {size / 1e6:10,.1f} {size / events:12.1f}" for name, size in layers]
    derived = sum(size for name, size in layers[1:])
    lines.append(f"{'derived (all but landing)':34} {derived / 1e6:10,.1f} {derived / events:12.1f}")
    lines.append(f"{'table':34} {'rows':>12} {'MB':>10} {'bytes/event':>12}")
    lines += [f"{name:34} {rows:12,} {size / 1e6:10,.1f} {size / events:12.1f}" for name, rows, size in tables if size >= 1e6]
    return lines


def landing(root: Path, scale: float, first: dt.date, last_week: dt.date, seed: int) -> Path:
    """The run's lake with its landing files, generated once per (scale, weeks, seed) and reused."""
    lake = root / "lake"
    stamp = lake / "landing" / "_generated.json"
    wanted = {"scale": scale, "first_week": first.isoformat(), "last_week": last_week.isoformat(), "seed": seed}
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        from ecommerce_assets.lib.generator.synthetic import generate

        shutil.rmtree(lake / "landing", ignore_errors=True)
        start, end = max(first, FIRST_DAY), min(last_week + dt.timedelta(days=6), LAST_DAY)
        print(f"generating scale {scale} {start}..{end} into {lake / 'landing'} ...", flush=True)
        began = time.perf_counter()
        generate(lake / "landing", scale, seed=seed, start=start, end=end)
        print(f"generated in {time.perf_counter() - began:.0f} s", flush=True)
        stamp.write_text(json.dumps(wanted))
    # Every run starts from the landing files alone.
    for child in lake.iterdir():
        if child.name != "landing":
            shutil.rmtree(child)
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        (root / name).unlink(missing_ok=True)
    return lake


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real 411.7M events (default 1)")
    parser.add_argument("--week", default="2020-01-13", help="first week, a Monday (default 2020-01-13)")
    parser.add_argument("--weeks", type=int, default=1, help="number of consecutive weeks, one run per stage (default 1)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data" / "bench"),
                        help="scratch folder; landing files are reused from it (default: data/bench in the repo)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-marts", action="store_true", help="stop after the incremental dbt models (no marts, no dashboard)")
    parser.add_argument("--skip-reference", action="store_true", help="do not run the DuckDB reference clean")
    parser.add_argument("--verify", action="store_true", help="compare Spark's clean rows with the reference's, all columns")
    parser.add_argument("--raw-retention", choices=("keep", "until_clean"), default="until_clean",
                        help="ECOMMERCE_RAW_RETENTION for the run (default until_clean, the lean layout)")
    args = parser.parse_args(argv)

    first = dt.date.fromisoformat(args.week)
    last = first + dt.timedelta(days=7 * (args.weeks - 1))
    root = Path(args.data) / f"scale-{args.scale:g}-{first}-{args.weeks}w"
    root.mkdir(parents=True, exist_ok=True)
    lake = landing(root, args.scale, first, last, args.seed)
    # Settings are read when the package is imported: point them at the scratch folder first.
    os.environ.update({"ECOMMERCE_DATA_DIR": str(root), "ECOMMERCE_LAKE": str(lake), "SPARK_LOCAL_IP": "127.0.0.1",
                       "DAGSTER_TELEMETRY_DISABLED": "1", "ECOMMERCE_RAW_RETENTION": args.raw_retention})
    os.environ.pop("ECOMMERCE_DUCKDB_PATH", None)

    import duckdb

    from ecommerce_assets_tests.helpers import run_stage
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets.lib.spark.config import spark_config
    from ecommerce_assets_tests.reference_clean import compare, reference_clean

    settings = load_settings()
    resources = build_resources(settings)
    weeks = [first + dt.timedelta(days=7 * i) for i in range(args.weeks)]
    memory = PeakMemory(root)
    conf = spark_config(settings)
    print(f"weeks {first}..{last} ({args.weeks}), scale {args.scale:g}, {os.cpu_count()} cores, Spark {conf['spark.master']} "
          f"driver {conf['spark.driver.memory']}, shuffle partitions {conf['spark.sql.shuffle.partitions']}", flush=True)

    def rows_in(folder: str) -> int:
        return sum(json.loads((lake / folder / f"week={w}" / "_manifest.json").read_text())[key]
                   for w in weeks for key in (("rows",) if folder == "raw/events" else ("clean_rows",)))

    def warehouse_rows(table: str) -> int:
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            return con.execute(f"select count(*) from {table}").fetchone()[0]

    spark_seconds: dict[str, float] = {}
    checks: dict[str, bool] = {}  # asset:check -> passed, over every stage's run
    accounts: dict[str, str] = {}  # week -> its row account, from the row_accounting check

    def run(stage: str) -> None:
        result = run_stage(stage, [w.isoformat() for w in weeks], resources, raise_on_error=True)
        for evaluation in result.get_asset_check_evaluations():
            key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            checks[key] = checks.get(key, True) and evaluation.passed
            if evaluation.check_name == "row_accounting":
                accounts.update(evaluation.metadata["weeks"].value)
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            if "spark_seconds" in metadata:  # the clean step's own split: session start, then Spark work
                spark_seconds.update(session=metadata["spark_session_seconds"].value, spark=metadata["spark_seconds"].value)

    stages: list[tuple[str, Callable[[], None], Callable[[], int], Callable[[], int]]] = [
        ("raw split", lambda: run("raw split"),
         lambda: rows_in("raw/events"), lambda: folder_bytes(lake / "raw")),
        ("spark clean", lambda: run("spark clean"),
         lambda: rows_in("raw/events"), lambda: folder_bytes(lake / "clean") + folder_bytes(lake / "quarantine")),
        ("warehouse load", lambda: run("warehouse load"),
         lambda: rows_in("clean/events"), lambda: settings.duckdb_path.stat().st_size),
        ("dbt incremental", lambda: run("weekly dbt"),
         lambda: rows_in("clean/events"), lambda: settings.duckdb_path.stat().st_size),
    ]
    if not args.skip_marts:
        stages.append(("marts (dbt history)", lambda: run("history dbt"),
                       lambda: warehouse_rows("raw.events"), lambda: settings.duckdb_path.stat().st_size))
        stages.append(("dashboard", lambda: run("dashboard"),
                       lambda: warehouse_rows("raw.events"), lambda: folder_bytes(settings.reports_dir)))

    reference: dict = {}
    if not args.skip_reference:
        shutil.rmtree(root / "reference", ignore_errors=True)
    header = f"{'stage':24} {'seconds':>8} {'rows/s':>12} {'peak GiB':>9} {'output bytes':>15}"
    lines = [header, "-" * len(header)]
    seconds: dict[str, float] = {}
    for name, action, rows, out_bytes in stages:
        memory.take()
        began = time.perf_counter()
        try:
            action()
        except Exception as error:  # later stages need this one's output: report and stop there
            lines.append(f"{name:24} FAILED: {str(error).splitlines()[0][:200]}")
            print(lines[-1], flush=True)
            break
        seconds[name] = time.perf_counter() - began
        if name == "spark clean":
            stop_spark()
        line = f"{name:24} {seconds[name]:8.1f} {rows() / seconds[name]:12,.0f} {memory.take() / 2**30:9.2f} {out_bytes():15,}"
        lines.append(line)
        print(line, flush=True)
        if name == "raw split" and not args.skip_reference:
            # Run on the raw parts while they exist (the clean drops them under until_clean); its output
            # stays outside the lake until --verify has compared it with Spark's.
            reference = reference_clean(sorted(str(p) for w in weeks for p in (lake / "raw" / "events" / f"week={w}").glob("*.csv.gz")),
                                        root / "reference", root / "reference-tmp")
            reference.update(peak=memory.take(), bytes=folder_bytes(root / "reference"))
            print(f"reference clean (duckdb): {reference['seconds']:.1f} s", flush=True)
    done = [s for s in ("raw split", "spark clean", "warehouse load", "dbt incremental") if s in seconds]
    weekly = sum(seconds[s] for s in done)
    raw_rows = rows_in("raw/events")
    label = "weekly path (4 stages)" if len(done) == 4 else f"weekly path ({len(done)} of 4)"
    lines.append(f"{label:24} {weekly:8.1f} {raw_rows / weekly:12,.0f} {memory.run_peak / 2**30:9.2f}")
    spark_metadata = spark_seconds

    if reference:
        same = reference["clean_rows"] == rows_in("clean/events")
        lines.append(f"{'reference clean (duckdb)':24} {reference['seconds']:8.1f} {raw_rows / reference['seconds']:12,.0f} "
                     f"{reference['peak'] / 2**30:9.2f} {reference['bytes']:15,}")
        lines.append(f"spark clean / reference: {seconds.get('spark clean', float('nan')) / reference['seconds']:.2f}x "
                     f"(stage, with the Spark session start of {spark_metadata.get('session', float('nan')):.1f} s); "
                     f"{spark_metadata.get('spark', float('nan')):.1f} s of Spark work: "
                     f"{spark_metadata.get('spark', float('nan')) / reference['seconds']:.2f}x")
        lines.append(f"clean rows spark {rows_in('clean/events'):,} / reference {reference['clean_rows']:,}: "
                     f"{'same' if same else 'DIFFERENT'}")
    run_peak = memory.run_peak  # the check below is not part of the pipeline's footprint
    if reference and args.verify:
        differing = compare(lake / "clean" / "events", root / "reference" / "clean", root / "reference-tmp")
        lines.append(f"rows differing between Spark's and the reference's clean output (all columns): {differing:,}")
    shutil.rmtree(root / "reference", ignore_errors=True)
    shutil.rmtree(root / "reference-tmp", ignore_errors=True)
    lines.append(f"peak memory of the whole run (PSS of the process tree; --verify's comparison not counted): {run_peak / 2**30:.2f} GiB")
    lines.append(f"free disk at the worst moment: {memory.min_free / 1e9:,.1f} GB (of {shutil.disk_usage(root).total / 1e9:,.0f} GB)")
    failed = sorted(key for key, passed in checks.items() if not passed)
    lines.append(f"asset checks: {len(checks) - len(failed)} of {len(checks)} passed{': failed ' + ', '.join(failed) if failed else ''}")
    exact = sum(" = " in account for account in accounts.values())
    lines.append(f"row accounting (raw = clean + duplicates + rejected): exact for {exact} of {len(weeks)} weeks")
    lines += ["", f"storage at the end, per raw event ({raw_rows:,}):", *storage_report(root, lake, raw_rows)]
    if args.scale < 1:
        lines.append(f"linear extrapolation to scale 1 of the weekly path: {weekly / args.scale / 60:.1f} min "
                     f"({args.weeks} weeks; fixed costs such as the Spark session start scale too, so this is an upper bound)")
    print("\n".join(["", *lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
