"""`ecommerce profile`: exact figures on the real sample, and generated data within the published profile."""

import csv
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from ecommerce_assets.lib.generator.profile import compare, estimate_scale, profile_files
from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets_tests.conftest import DATA, ROOT

SAMPLE = DATA / "real_sample_2019-10_first1000.csv"

# Figures that hold at scale 0.002 (~820k rows). Left out there, and why: prices, revenue and brand
# revenue shares (a few thousand purchases over a catalog whose top products decide the mean), buyers
# and month-1 repeat buyers (a few thousand buyers), the share of zero prices (a few hundred rows),
# November's duplicate rate (about a hundred copies) and catalog sizes (they do not shrink with volume).
HOLD_AT_SMALL_SCALE = (
    "rows", "share_cart", "share_purchase", "null_category_code", "null_brand", "duplicate_rate",
    "users_per_event", "sessions_per_event", "price_max", "price_two_decimals", "view_sessions_with_cart",
    "view_sessions_with_purchase", "cart_sessions_purchasing", "purchase_sessions_without_cart",
    "session_events_median", "session_events_mean", "session_seconds_median", "daily_correlation",
)


@pytest.mark.unit
def test_profile_reproduces_the_real_sample():
    rows = list(csv.reader(SAMPLE.read_text().splitlines()[1:]))
    profile = profile_files([SAMPLE])
    types = Counter(r[1] for r in rows)
    revenue = sum(Decimal(r[6]) for r in rows if r[1] == "purchase")
    assert profile["rows"] == profile["rows[2019-10]"] == 1000
    assert profile["share_cart"] == types["cart"] / 1000 == 0.003
    assert profile["share_purchase"] == types["purchase"] / 1000 == 0.010
    assert profile["null_category_code"] == sum(not r[4] for r in rows) / 1000
    assert profile["null_brand"] == sum(not r[5] for r in rows) / 1000
    assert profile["duplicate_rate"] == 0
    assert profile["users_per_event"] == len({r[7] for r in rows}) / 1000
    assert profile["sessions_per_event"] == len({r[8] for r in rows}) / 1000
    assert profile["products"] == len({r[2] for r in rows})
    assert profile["categories"] == len({r[3] for r in rows})
    assert profile["revenue"] == pytest.approx(float(revenue), abs=1e-6)
    assert profile["price_max"] == float(max(Decimal(r[6]) for r in rows))
    assert profile["price_two_decimals"] == 1.0
    assert profile["buyers_per_event"] == len({r[7] for r in rows if r[1] == "purchase"}) / 1000


@pytest.mark.integration
def test_small_generation_is_within_the_published_profile(tmp_path):
    files = generate(tmp_path, 0.002, parse_months("2019-10..2020-04"), seed=7)
    profile = profile_files(files)
    scale = estimate_scale(profile)
    assert scale == pytest.approx(0.002, rel=0.01)
    held = [c for c in compare(profile, scale) if c.figure.key.split("[")[0] in HOLD_AT_SMALL_SCALE]
    assert len(held) >= 35
    outside = {c.figure.key: round(c.ratio, 3) for c in held if not c.passes(0.10)}
    assert not outside


@pytest.mark.integration
def test_compare_command_passes_at_scale_001_and_fails_on_a_mismatch(tmp_path):
    ecommerce = str(Path(sys.executable).with_name("ecommerce"))
    generate(tmp_path, 0.01, parse_months("2019-10..2020-04"), seed=7)
    files = sorted(str(p) for p in tmp_path.glob("*.csv.gz"))
    ok = subprocess.run([ecommerce, "profile", "--compare", *files], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    assert "0 outside" in ok.stdout
    # The real sample is the first 17 minutes of October: its funnel and daily volume are nothing like a month's.
    bad = subprocess.run([ecommerce, "profile", "--compare", str(SAMPLE)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "OUT" in bad.stdout


@pytest.mark.unit
def test_one_month_is_held_to_that_months_figures_not_the_seven_months_totals(tmp_path):
    files = generate(tmp_path, 0.002, parse_months("2019-11"), seed=7)
    profile = profile_files(files)
    scale = estimate_scale(profile)
    assert scale == pytest.approx(0.002, rel=0.01)  # from November's published rows alone
    comparisons = {c.figure.key: c for c in compare(profile, scale)}
    # The seven months' totals are shown for information only; November's own figures are held.
    assert not comparisons["rows"].held and not comparisons["revenue"].held and not comparisons["share_cart"].held
    assert comparisons["rows[2019-11]"].held and comparisons["share_cart[2019-11]"].held
    assert comparisons["price_two_decimals"].held
    held = [c for c in comparisons.values() if c.held and c.figure.key.split("[")[0] in HOLD_AT_SMALL_SCALE]
    assert len(held) >= 8
    assert not {c.figure.key: round(c.ratio, 3) for c in held if not c.passes(0.10)}
