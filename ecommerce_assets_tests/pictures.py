"""docs/dashboard.png, drawn from the current code on command A's data:

    bash scripts/demo.sh                                  # once: the demo data in ./data
    .venv/bin/python -m ecommerce_assets_tests.pictures   # [--data DIR]

The dashboard asset is materialized again over the marts in DIR (no other step runs), the page is
screenshotted in headless Chromium, and ``docs/dashboard.png.version`` records the code version of the
module that draws it: ``test_docs_pictures.py`` fails when that module changes and the picture does not.
docs/asset-graph.png, docs/partitions.png and docs/automation.png come from the UI test, run with
ECOMMERCE_UPDATE_DOCS=1, which records beside each the version of what the UI draws (``graph_version``):
the same test fails when the asset graph or an automation condition changes and the pictures do not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "docs" / "dashboard.png"
DRAWN_BY = "ecommerce_assets.lib.dashboard_page"
UI_PICTURES = (ROOT / "docs" / "asset-graph.png", ROOT / "docs" / "partitions.png", ROOT / "docs" / "automation.png")


def version_file(picture: Path) -> Path:
    return picture.with_name(picture.name + ".version")


def graph_version() -> str:
    """A digest of what the UI's pictures show: each asset's key, group, upstream assets, partitions,
    checks and automation condition (the tree of its operands), as the code location defines them."""
    import hashlib

    from ecommerce_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def.get_partition_keys() if node.partitions_def else []
        lines.append("|".join([key.to_user_string(), node.group_name or "", ",".join(sorted(p.to_user_string() for p in node.parent_keys)),
                               ",".join(partitions[:1] + partitions[-1:]), str(len(partitions)),
                               ",".join(sorted(c.name for c in node.check_keys)), _tree(node.automation_condition)]))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _tree(condition) -> str:
    if condition is None:
        return ""
    children = condition.children
    return condition.name + (f"({','.join(_tree(child) for child in children)})" if children else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data"), help="ECOMMERCE_DATA_DIR holding command A's warehouse")
    args = parser.parse_args(argv)
    os.environ["ECOMMERCE_DATA_DIR"] = str(Path(args.data).resolve())

    import dagster as dg

    from ecommerce_assets.defs.step_helpers import code_version
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.lib.settings import load_settings
    from ecommerce_assets_tests.browser import render
    from ecommerce_assets_tests.helpers import ALL_ASSETS

    settings = load_settings()
    if not settings.duckdb_path.exists():
        raise SystemExit(f"{settings.duckdb_path}: no warehouse; run command A (bash scripts/demo.sh) first")
    result = dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets("dashboard"), resources=build_resources(settings))
    assert result.success
    page = settings.reports_dir / "dashboard.html"
    with tempfile.TemporaryDirectory() as profile:
        shot = Path(profile) / "dashboard.png"
        render(page.as_uri(), Path(profile) / "chromium", screenshot=shot, size="1400,3400")
        DASHBOARD.write_bytes(shot.read_bytes())
    version_file(DASHBOARD).write_text(code_version(DRAWN_BY) + "\n")
    print(f"{DASHBOARD} ({DASHBOARD.stat().st_size:,} bytes) from {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
