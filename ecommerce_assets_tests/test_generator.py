"""The generator writes Kaggle-format files, deterministic for a seed, with the real data's features."""

import csv
import datetime as dt
import gzip
import re
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecommerce_assets.lib.generator import synthetic
from ecommerce_assets.lib.generator.synthetic import _pick, daily_counts, day_text, generate, parse_months
from ecommerce_assets.lib.kaggle import HEADER

pytestmark = pytest.mark.unit

ROW = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC,(view|cart|purchase),\d+,\d{19},[a-z_.]*,[^,]*,\d+\.\d{2},\d+,"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate(tmp_path / "a", 0.0002, parse_months("2019-10"), seed=3)
    b = generate(tmp_path / "b", 0.0002, parse_months("2019-10"), seed=3)
    c = generate(tmp_path / "c", 0.0002, parse_months("2019-10"), seed=4)
    assert [p.name for p in a] == ["2019-Oct.csv.gz"]
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()


def test_format_volume_and_features(tmp_path):
    files = generate(tmp_path, 0.0005, parse_months("2019-11..2019-12"), seed=1, compress=False)
    assert [p.name for p in files] == ["2019-Nov.csv", "2019-Dec.csv"]
    for path, month in zip(files, (11, 12)):
        lines = path.read_text().splitlines()
        assert lines[0] == HEADER
        rows = lines[1:]
        assert all(ROW.match(r) for r in rows), next(r for r in rows if not ROW.match(r))
        assert all(r.startswith(f"2019-{month}-") for r in rows)
        assert rows == sorted(rows, key=lambda r: r[:19])  # files are sorted by event_time
        expected = sum(n for d, n in daily_counts().items() if d.month == month and d.year == 2019) * 0.0005
        assert abs(len(rows) - expected) / expected < 0.01
        types = Counter(r.split(",")[1] for r in rows)
        assert types["view"] > types["cart"] > types["purchase"] > 0
        duplicates = sum(n - 1 for n in Counter(rows).values())
        assert 0.001 < duplicates / len(rows) < 0.02
        parsed = list(csv.reader(rows))
        assert 0.05 < sum(not r[5] for r in parsed) / len(rows) < 0.5  # brand nulls
        assert 0.05 < sum(not r[4] for r in parsed) / len(rows) < 0.6  # category_code nulls
        assert max(float(r[6]) for r in parsed) <= 2574.07
    # The December taxonomy shift: smartphones move to construction.tools.light.
    december = files[1].read_text()
    assert "2232732093077520756,construction.tools.light" in december
    assert "electronics.smartphone" not in december
    assert "2053013555631882655,electronics.smartphone" in files[0].read_text()


def test_gzip_output_reads_as_the_same_text(tmp_path):
    gz = generate(tmp_path / "gz", 0.0001, parse_months("2020-02"), seed=9)[0]
    plain = generate(tmp_path / "plain", 0.0001, parse_months("2020-02"), seed=9, compress=False)[0]
    with gzip.open(gz, "rt") as handle:
        assert handle.read() == plain.read_text()
    assert dt.date(2020, 2, 27) in daily_counts()


def test_same_bytes_on_one_and_two_worker_processes(tmp_path):
    one = generate(tmp_path / "one", 0.0005, parse_months("2019-11"), seed=5, workers=1)[0]
    two = generate(tmp_path / "two", 0.0005, parse_months("2019-11"), seed=5, workers=2)[0]
    assert one.read_bytes() == two.read_bytes()
    assert [p.name for p in (tmp_path / "two").iterdir()] == ["2019-Nov.csv.gz"]  # no day files left behind


def test_lines_do_not_depend_on_the_chunk_size_and_sessions_are_uuid4(monkeypatch):
    day = dt.date(2019, 11, 16)
    whole = b"".join(day_text(day, 0.002, 5))
    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 997)  # a full-scale day is built in many chunks
    assert b"".join(day_text(day, 0.002, 5)) == whole
    sessions = {line.rsplit(",", 1)[1] for line in whole.decode().splitlines()} - {""}
    assert sessions and all(str(uuid.UUID(s)) == s and uuid.UUID(s).version == 4 for s in sessions)


def test_weighted_pick_is_a_plain_search_of_the_cumulative_weights():
    rng = np.random.default_rng(0)
    cumweight = np.cumsum(rng.lognormal(0.0, 2.0, 5000))
    u = np.concatenate([rng.random(20_000), [0.0, 0.5, 0.5]])  # ties keep their own answers
    for upto in (None, 1, 2500):
        total = cumweight[-1] if upto is None else cumweight[upto - 1]
        expected = np.minimum(np.searchsorted(cumweight, u * total, side="right"), len(cumweight) - 1)
        assert (_pick(cumweight, u, upto) == expected).all()


def test_a_date_range_is_the_same_as_those_days_of_a_full_month(tmp_path):
    week = generate(tmp_path / "week", 0.0005, seed=5, start=dt.date(2019, 11, 25), end=dt.date(2019, 12, 1))
    months = generate(tmp_path / "months", 0.0005, parse_months("2019-11..2019-12"), seed=5)
    assert [p.name for p in week] == ["2019-Nov.csv.gz", "2019-Dec.csv.gz"]
    for part, whole in zip(week, months):
        with gzip.open(part, "rt") as a, gzip.open(whole, "rt") as b:
            lines = a.read().splitlines()
            wanted = [l for l in b.read().splitlines() if l[:10] in {f"2019-11-{d}" for d in range(25, 31)} | {"2019-12-01"}]
        assert lines[0] == HEADER and lines[1:] == wanted


def test_generated_rows_have_the_real_sample_format():
    real = (Path(__file__).parent / "data" / "real_sample_2019-10_first1000.csv").read_text().splitlines()
    assert real[0] == HEADER
    assert all(ROW.match(r) for r in real[1:])  # the pattern the generated rows are held to is the real one


def test_months_after_april_carry_on_the_weekly_pattern_and_leave_the_published_months_as_they_were(tmp_path):
    april_may = generate(tmp_path / "later", 0.0002, parse_months("2020-04..2020-05"), seed=3, compress=False)
    april_alone = generate(tmp_path / "april", 0.0002, parse_months("2020-04"), seed=3, compress=False)
    assert [p.name for p in april_may] == ["2020-Apr.csv", "2020-May.csv"]
    assert april_may[0].read_bytes() == april_alone[0].read_bytes()  # users and lines of April unchanged
    lines = april_may[1].read_text().splitlines()
    assert lines[0] == HEADER and all(ROW.match(line) for line in lines[1:200])
    per_day = Counter(dt.date.fromisoformat(line[:10]) for line in lines[1:])
    assert sorted(per_day) == [dt.date(2020, 5, 1) + dt.timedelta(days=i) for i in range(31)]
    # Each weekday at its mean over April's last four weeks, scaled (duplicates and rounding aside).
    counts = daily_counts()
    for day in (dt.date(2020, 5, 4), dt.date(2020, 5, 9)):
        april = [counts[d] for d in counts if dt.date(2020, 4, 3) <= d <= dt.date(2020, 4, 30) and d.weekday() == day.weekday()]
        assert counts[day] == round(sum(april) / 4)
        assert abs(per_day[day] - counts[day] * 0.0002) <= 0.05 * counts[day] * 0.0002 + 5, (day, per_day[day])
    with pytest.raises(ValueError, match="no reference volume for 2022-01-01"):
        generate(tmp_path / "too-late", 0.0002, parse_months("2022-01"), seed=3)
