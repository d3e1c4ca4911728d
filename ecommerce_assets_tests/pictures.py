"""docs/dashboard.png, drawn from the current code on command A's data:

    bash scripts/demo.sh                                  # once: the demo data in ./data
    .venv/bin/python -m ecommerce_assets_tests.pictures   # [--data DIR]

The dashboard asset is materialized again over the marts in DIR (no other step runs), the page is
screenshotted in headless Chromium, and ``docs/dashboard.png.version`` records the code version of the
module that draws it: ``test_docs_pictures.py`` fails when that module changes and the picture does not.
(docs/asset-graph.png and docs/partitions.png come from the UI test, run with ECOMMERCE_UPDATE_DOCS=1.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "docs" / "dashboard.png"
DRAWN_BY = "ecommerce_assets.lib.dashboard_page"


def version_file(picture: Path) -> Path:
    return picture.with_name(picture.name + ".version")


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
