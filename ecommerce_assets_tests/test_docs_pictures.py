"""The pictures in the docs are drawn from the current code: a picture records the code version of what
drew it, and a change to that code without a new picture fails here (ecommerce_assets_tests/pictures.py)."""

import pytest
from PIL import Image

from ecommerce_assets.defs.step_helpers import code_version
from ecommerce_assets_tests.pictures import DASHBOARD, DRAWN_BY, UI_PICTURES, graph_version, version_file

pytestmark = pytest.mark.unit


def test_the_dashboard_picture_is_drawn_by_the_current_dashboard_code():
    recorded = version_file(DASHBOARD).read_text().strip()
    assert recorded == code_version(DRAWN_BY), (
        f"{DASHBOARD.name} was drawn by other code than today's {DRAWN_BY}: "
        "run `.venv/bin/python -m ecommerce_assets_tests.pictures` after command A")
    with Image.open(DASHBOARD) as picture:
        assert picture.size[0] >= 1000 and len(picture.convert("RGB").resize((100, 300)).getcolors(maxcolors=100_000)) > 100


@pytest.mark.parametrize("picture", UI_PICTURES, ids=lambda p: p.name)
def test_the_ui_pictures_show_the_current_asset_graph(picture):
    assert version_file(picture).read_text().strip() == graph_version(), (
        f"{picture.name} shows another asset graph than today's: run the UI test with ECOMMERCE_UPDATE_DOCS=1")
    with Image.open(picture) as image:
        assert image.size[0] >= 1000


def test_the_star_schema_diagram_is_the_one_the_dbt_manifest_gives():
    import json

    from ecommerce_assets_tests.diagrams import MANIFEST, PAGE, page_with, star_schema

    diagram = star_schema(json.loads(MANIFEST.read_text()))
    assert "dim_users ||--o{ fct_sessions" in diagram
    assert page_with(diagram, PAGE.read_text()) == PAGE.read_text(), (
        "docs/data-model.md's diagram is not the manifest's: run `.venv/bin/python -m ecommerce_assets_tests.diagrams`")
