"""The pictures in the docs are drawn from the current code: a picture records the code version of what
drew it, and a change to that code without a new picture fails here (ecommerce_assets_tests/pictures.py)."""

import pytest
from PIL import Image

from ecommerce_assets.defs.step_helpers import code_version
from ecommerce_assets_tests.pictures import DASHBOARD, DRAWN_BY, version_file

pytestmark = pytest.mark.unit


def test_the_dashboard_picture_is_drawn_by_the_current_dashboard_code():
    recorded = version_file(DASHBOARD).read_text().strip()
    assert recorded == code_version(DRAWN_BY), (
        f"{DASHBOARD.name} was drawn by other code than today's {DRAWN_BY}: "
        "run `.venv/bin/python -m ecommerce_assets_tests.pictures` after command A")
    with Image.open(DASHBOARD) as picture:
        assert picture.size[0] >= 1000 and len(picture.convert("RGB").resize((100, 300)).getcolors(maxcolors=100_000)) > 100
