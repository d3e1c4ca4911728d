"""`ecommerce` console entry point: generate data, show settings, print per-layer counts."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from ecommerce_assets.lib.settings import VARIABLES, SettingsError, current, markdown_table


def _generate(args: argparse.Namespace) -> int:
    from ecommerce_assets.lib.generator.synthetic import generate, parse_months

    out = Path(args.out) if args.out else current().lake / "landing"
    started = time.perf_counter()
    files = generate(
        out,
        args.scale,
        months=None if (args.start or args.end) else parse_months(args.months),
        seed=args.seed,
        compress=not args.plain,
        workers=args.workers,
        start=dt.date.fromisoformat(args.start) if args.start else None,
        end=dt.date.fromisoformat(args.end) if args.end else None,
        progress=sys.stderr.isatty() or args.progress,
    )
    for path in files:
        print(f"{path}  {path.stat().st_size:,} bytes")
    print(f"generated {len(files)} file(s) in {time.perf_counter() - started:.1f}s")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from ecommerce_assets.lib.generator.profile import compare, estimate_scale, format_table, profile_files

    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"not found: {', '.join(missing)}")
    started = time.perf_counter()
    profile = profile_files(files)
    elapsed = time.perf_counter() - started
    if not args.compare:
        for key, value in profile.items():
            print(f"{key:44} {value:,.6g}")
        print(f"profiled {profile['rows']:,.0f} rows in {elapsed:.1f}s")
        return 0
    scale = args.scale or estimate_scale(profile)
    comparisons = compare(profile, scale)
    print(f"scale {scale:.6g}; tolerance {args.tolerance:.0%}; {profile['rows']:,.0f} rows profiled in {elapsed:.1f}s")
    print(format_table(comparisons, args.tolerance))
    failing = [c.figure.key for c in comparisons if c.held and not c.passes(args.tolerance)]
    print(f"{len(comparisons) - len(failing)} figures within tolerance or informational, {len(failing)} outside")
    return 1 if failing else 0


def _land(args: argparse.Namespace) -> int:
    from ecommerce_assets.lib.landing_copy import land, land_on_s3

    settings = current()
    if args.to or not settings.lake_on_s3:
        landing = Path(args.to) if args.to else settings.lake / "landing"
        into = lambda path: land(path, landing, replace=args.replace)  # noqa: E731
    else:
        from ecommerce_assets.defs.resources import lake_resource

        lake = lake_resource(settings).lake
        into = lambda path: land_on_s3(path, lake, replace=args.replace)  # noqa: E731
    for name in args.files:
        landed = into(Path(name))
        action = "copied" if landed.copied else "unchanged: the same file is landed already, nothing to do"
        print(f"{landed.target}  {landed.bytes:,} bytes  sha256 {landed.sha256[:16]}…  {action}")
        if landed.replaced:
            first, last = landed.weeks[0].isoformat(), landed.weeks[-1].isoformat()
            print(f"  replaced: the file landed before is kept as {landed.replaced}\n"
                  f"  weeks to recompute ({', '.join(f'{m:%Y-%m}' for m in landed.months)}): {first}...{last}, e.g.\n"
                  f"  dg launch --assets 'tag:weekly' --partition-range {first}...{last}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table(), end="")
        return 0
    settings = current()
    for variable in VARIABLES:
        print(f"{variable.name:38} default {variable.default_text:40} {variable.description}")
    print()
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0


def layer_counts() -> dict[str, int]:
    """Rows per layer over all weeks, from the lake's manifests (local or S3) and the DuckDB warehouse."""
    from ecommerce_assets.lib.lake import MissingPartition
    from ecommerce_assets.defs.partitions import weeks_in_range
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.span import span_of

    settings = current()
    store = build_resources(settings)["lake"].lake
    span = span_of(settings, store.months_in_landing())
    weeks = weeks_in_range(span.first_week.isoformat(), span.last_week.isoformat())
    months = span.months_overlapping(weeks)

    def manifests(keys: list[str]) -> list[dict]:
        found = []
        for key in keys:
            try:
                found.append(store.read_manifest(key))
            except MissingPartition:
                pass
        return found

    raw = manifests([store.raw_week(w) for w in weeks])
    clean = manifests([store.clean_week(w) for w in weeks])
    counts = {
        "raw weeks": len(raw),
        "raw rows": sum(m["rows"] for m in raw),
        "unroutable lines": sum(m["rows"] for m in manifests([store.unroutable_month(m) for m in months])),
        "duplicates dropped": sum(m["duplicates"] for m in clean),
        "clean rows": sum(m["clean_rows"] for m in clean),
        "rejected rows": sum(m["rejected_rows"] for m in clean),
    }
    if settings.warehouse == "duckdb" and settings.duckdb_path.exists():
        import duckdb

        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            for label, table in (
                ("warehouse raw.events", "raw.events"),
                ("dbt core.fct_events", "core.fct_events"),
                ("dbt core.fct_sessions", "core.fct_sessions"),
                ("dbt core.dim_users", "core.dim_users"),
                ("dbt marts.mart_daily_kpis", "marts.mart_daily_kpis"),
            ):
                try:
                    counts[label] = con.execute(f"select count(*) from {table}").fetchone()[0]
                except duckdb.CatalogException:
                    counts[label] = 0
    return counts


def _counts(_: argparse.Namespace) -> int:
    for label, value in layer_counts().items():
        print(f"{label:24} {value:>14,}")
    return 0


def _category_remaps(args: argparse.Namespace) -> int:
    from ecommerce_assets.lib import category_remaps
    from ecommerce_assets.warehouses import build_warehouse

    candidates = build_warehouse(current()).query(category_remaps.CANDIDATES_SQL)
    print(f"{'from category':42} {'to category':42} {'products':>8} {'share':>6}  first moved  review")
    for from_id, from_code, to_id, to_code, moved, share, first, status in candidates:
        print(f"{from_id} {from_code or '':22} {to_id} {to_code or '':22} {moved:>8} {share or 0:>6.0%}  {first}   {status or 'unreviewed'}")
    if not args.write:
        print(f"{len(candidates)} candidate remap(s); --write adds the unreviewed ones to {category_remaps.SEED}")
        return 0
    seed = category_remaps.read_seed()
    rows = category_remaps.merge(seed, candidates)
    category_remaps.write_seed(rows)
    print(f"{len(rows) - len(seed)} detected remap(s) added to {category_remaps.SEED}: set status to confirmed or "
          "rejected, then rebuild the facts from valid_from (docs/data-model.md, 'Category remaps')")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecommerce", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write Kaggle-format monthly files into the landing zone")
    gen.add_argument("--scale", type=float, default=0.001, help="fraction of the real 411.7M rows (default 0.001)")
    gen.add_argument("--months", default="2019-10..2020-04", help="YYYY-MM..YYYY-MM (default 2019-10..2020-04)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--out", help="output folder (default: <lake>/landing)")
    gen.add_argument("--plain", action="store_true", help="write .csv instead of .csv.gz")
    gen.add_argument("--start", help="first day YYYY-MM-DD (instead of --months)")
    gen.add_argument("--end", help="last day YYYY-MM-DD (instead of --months)")
    gen.add_argument("--workers", type=int, help="processes (default: all cores); output is the same for any count")
    gen.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    gen.set_defaults(func=_generate)
    prof = commands.add_parser("profile", help="profile Kaggle-format files; --compare checks them against the real data")
    prof.add_argument("files", nargs="+", help=".csv or .csv.gz files")
    prof.add_argument("--compare", action="store_true", help="print each figure beside the published one; exit 1 if any is outside")
    prof.add_argument("--scale", type=float, help="scale to compare at (default: rows / published rows of the months present)")
    prof.add_argument("--tolerance", type=float, default=0.10, help="relative tolerance (default 0.10)")
    prof.set_defaults(func=_profile)
    land_cmd = commands.add_parser("land", help="copy real dumps (.csv, .csv.gz or the Kaggle .zip) into the landing zone")
    land_cmd.add_argument("files", nargs="+")
    land_cmd.add_argument("--to", help="a local landing folder (default: <lake>/landing; on S3, <lake>/landing/ objects)")
    land_cmd.add_argument("--replace", action="store_true",
                          help="replace a different file landed under the same name (kept under landing/_replaced/)")
    land_cmd.set_defaults(func=_land)
    settings_cmd = commands.add_parser("settings", help="show the environment variables and their values")
    settings_cmd.add_argument("--markdown", action="store_true", help="print the table of variables in docs/configuration.md")
    settings_cmd.set_defaults(func=_settings)
    commands.add_parser("counts", help="print rows per layer").set_defaults(func=_counts)
    remaps_cmd = commands.add_parser("category-remaps", help="list category moves detected in the warehouse (core.int_category_moves)")
    remaps_cmd.add_argument("--write", action="store_true", help="add the unreviewed ones to the seed category_remaps.csv as 'detected'")
    remaps_cmd.set_defaults(func=_category_remaps)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, ValueError, OSError) as error:
        print(f"ecommerce {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
