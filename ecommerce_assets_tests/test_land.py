"""Real downloads: the Kaggle zip, a .csv and a .csv.gz land the same way; a copy is never partial; a landed
file is never lost (a redelivered month is refused, or replaced with the old file kept)."""

import datetime as dt
import gzip
import json
import os
import shutil
import zipfile

import boto3
import dagster as dg
import pytest
import requests

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets import cli
from ecommerce_assets.cli import main
from ecommerce_assets.lib.kaggle import month_of_stem, weeks_of_month
from ecommerce_assets.lib.lake import Lake, LandingFile
from ecommerce_assets.lib.landing_copy import LandError, land, sha256_of
from ecommerce_assets.lib.raw_split import LandingFormatError
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import materialize_weeks
from ecommerce_assets_tests.services import moto_server

WEEK = "2019-10-28"  # spans 2019-Oct and 2019-Nov


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """The same two months as .csv, as .csv.gz and as one Kaggle-style zip."""
    root = tmp_path_factory.mktemp("dumps")
    plain = generate(root / "csv", 0.0002, parse_months("2019-10..2019-11"), seed=8, compress=False)
    (root / "gz").mkdir()
    (root / "zip").mkdir()
    gz = []
    for path in plain:
        target = root / "gz" / (path.name + ".gz")
        with open(path, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        gz.append(target)
    archive = root / "zip" / "ecommerce-behavior-data-from-multi-category-store.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in plain:
            out.write(path, arcname=path.name)
    return {"csv": plain, "gz": gz, "zip": [archive]}


def _raw_week(tmp_path, files):
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data")})
    for path in files:
        assert land(path, settings.lake / "landing").copied
    materialize_weeks(settings, WEEK, selection=dg.AssetSelection.assets("raw_events"))
    folder = settings.lake / "raw" / "events" / f"week={WEEK}"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.integration
def test_zip_csv_and_gz_give_the_same_raw_weekly_files(tmp_path, dumps):
    results = {kind: _raw_week(tmp_path / kind, files) for kind, files in dumps.items()}
    parts = ("part-2019-10-00000", "part-2019-11-00000")
    assert set(results["csv"]) == {"_manifest.json", *(p + s for p in parts for s in (".csv.gz", ".lines.gz"))}
    assert results["csv"]["part-2019-10-00000.csv.gz"] != b""
    manifests = {kind: result.pop("_manifest.json") for kind, result in results.items()}
    # The parts are the same bytes; their line maps name the landing file each was split from.
    line_maps = {kind: {p: gzip.decompress(result.pop(p + ".lines.gz")).decode() for p in parts} for kind, result in results.items()}
    assert results["zip"] == results["csv"] == results["gz"]
    with open(dumps["csv"][0]) as october:  # the week's October lines are one run, from its first Monday line
        first = next(n for n, line in enumerate(october, 1) if line.startswith(WEEK))
    names = {"csv": "2019-{}.csv", "gz": "2019-{}.csv.gz", "zip": "ecommerce-behavior-data-from-multi-category-store.zip:2019-{}.csv"}
    for kind, name in names.items():
        assert line_maps[kind] == {
            "part-2019-10-00000": f"part_line,landing_file,landing_line\n2,{name.format('Oct')},{first}\n",
            "part-2019-11-00000": f"part_line,landing_file,landing_line\n2,{name.format('Nov')},2\n",
        }
    rows = {kind: json.loads(m)["rows"] for kind, m in manifests.items()}
    assert rows["zip"] == rows["csv"] == rows["gz"] > 0
    assert "ecommerce-behavior-data-from-multi-category-store.zip:2019-Oct.csv" in json.loads(manifests["zip"])["sources"]


@pytest.mark.unit
def test_landing_is_checksummed_idempotent_and_never_partial(tmp_path, dumps, monkeypatch):
    source = dumps["gz"][0]
    landing = tmp_path / "landing"
    first = land(source, landing)
    assert first.copied and first.target.read_bytes() == source.read_bytes()
    assert (landing / "2019-Oct.csv.gz.sha256").read_text().split()[0] == first.sha256
    assert not land(source, landing).copied  # same checksum: nothing to do

    def interrupted(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(OSError, match="disk full"):
        land(dumps["gz"][1], landing)
    assert not (landing / "2019-Nov.csv.gz").exists()
    assert not (landing / "2019-Nov.csv.gz.partial").exists()


@pytest.mark.unit
def test_files_that_are_not_dumps_are_refused(tmp_path, dumps):
    wrong_name = tmp_path / "events.csv"
    shutil.copy(dumps["csv"][0], wrong_name)
    with pytest.raises(LandError, match="expected a Kaggle dump name"):
        land(wrong_name, tmp_path / "landing")
    wrong_header = tmp_path / "2019-Dec.csv"
    wrong_header.write_text("time,type\n")
    with pytest.raises(LandingFormatError, match="line 1: header is 'time,type'"):
        land(wrong_header, tmp_path / "landing")
    assert not (tmp_path / "landing" / "2019-Dec.csv").exists()


def _redelivered(dump, folder):
    """The same month delivered again with one event fewer: same name, different content."""
    folder.mkdir()
    lines = dump.read_bytes().splitlines(keepends=True)
    (folder / dump.name).write_bytes(b"".join(lines[:-1]))
    return folder / dump.name


@pytest.mark.unit
def test_a_different_file_under_a_landed_name_is_refused_and_nothing_changes(tmp_path, dumps):
    landing = tmp_path / "landing"
    first = land(dumps["csv"][1], landing)
    other = _redelivered(dumps["csv"][1], tmp_path / "again")
    before = {p.name: p.read_bytes() for p in landing.iterdir()}
    with pytest.raises(LandError) as refused:
        land(other, landing)
    message = str(refused.value)
    for part in (str(first.target), str(other), f"{first.bytes:,} bytes", f"{other.stat().st_size:,} bytes",
                 first.sha256, sha256_of(other), "--replace"):
        assert part in message, (part, message)
    assert {p.name: p.read_bytes() for p in landing.iterdir()} == before


@pytest.mark.unit
def test_replace_keeps_the_landed_file_and_names_the_weeks_to_recompute(tmp_path, dumps, capsys):
    landing = tmp_path / "landing"
    first = land(dumps["csv"][1], landing)  # 2019-Nov
    other = _redelivered(dumps["csv"][1], tmp_path / "again")
    assert main(["land", "--to", str(landing), "--replace", str(other)]) == 0
    kept = landing / "_replaced" / f"2019-Nov.csv.{first.sha256[:16]}"
    assert kept.read_bytes() == dumps["csv"][1].read_bytes()
    assert (landing / "_replaced" / f"{kept.name}.sha256").read_text().split()[0] == first.sha256
    assert (landing / "2019-Nov.csv").read_bytes() == other.read_bytes()
    assert (landing / "2019-Nov.csv.sha256").read_text().split()[0] == sha256_of(other)
    printed = capsys.readouterr().out
    # November 2019: from the week of Monday 2019-10-28 (holding Nov 1) to that of Monday 2019-11-25.
    assert f"kept as {kept}" in printed and "--partition-range 2019-10-28...2019-11-25" in printed
    # The pipeline reads the new file: the kept one is outside the names it looks for.
    assert Lake(tmp_path).landing_file(dt.date(2019, 11, 1)) == LandingFile(landing / "2019-Nov.csv")
    # Landing the same file again is a no-op, and says so.
    assert main(["land", "--to", str(landing), str(other)]) == 0
    assert "unchanged: the same file is landed already" in capsys.readouterr().out


@pytest.mark.unit
def test_a_landed_file_replaced_by_hand_is_compared_by_content(tmp_path, dumps):
    landing = tmp_path / "landing"
    land(dumps["csv"][1], landing)
    other = _redelivered(dumps["csv"][1], tmp_path / "again")
    target = landing / "2019-Nov.csv"
    shutil.copy(other, target)  # by hand: the checksum file beside it is now stale
    os.utime(target, ns=(target.stat().st_atime_ns, (landing / "2019-Nov.csv.sha256").stat().st_mtime_ns + 10**9))
    assert not land(other, landing).copied  # the same content as what is there now
    with pytest.raises(LandError, match="differs from"):
        land(dumps["csv"][1], landing)


@pytest.mark.unit
def test_weeks_of_a_month_cover_every_day():
    assert weeks_of_month(dt.date(2019, 10, 1)) == [dt.date(2019, 9, 30) + dt.timedelta(days=7 * i) for i in range(5)]
    assert weeks_of_month(dt.date(2020, 2, 1)) == [dt.date(2020, 1, 27) + dt.timedelta(days=7 * i) for i in range(5)]
    assert month_of_stem("2020-Feb") == dt.date(2020, 2, 1)


@pytest.mark.stack
def test_landing_on_s3_behaves_the_same(tmp_path, dumps, capsys, monkeypatch):
    """The same stories on a lake in S3 (a moto server): landed with its checksum, identical is a no-op,
    different is refused, --replace keeps the landed object; one uploaded by another tool is compared by content."""
    with moto_server() as endpoint:
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                            "ECOMMERCE_LAKE": "s3://landing-test/lake", "ECOMMERCE_S3_ENDPOINT_URL": endpoint,
                            "ECOMMERCE_DATA_DIR": str(tmp_path / "data")}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(cli, "current", load_settings)  # this environment, not the process's cached settings
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        client.create_bucket(Bucket="landing-test")
        november, other = dumps["csv"][1], _redelivered(dumps["csv"][1], tmp_path / "again")

        assert main(["land", str(november)]) == 0 and "copied" in capsys.readouterr().out
        head = client.head_object(Bucket="landing-test", Key="lake/landing/2019-Nov.csv")
        assert head["Metadata"] == {"sha256": sha256_of(november)}
        assert main(["land", str(november)]) == 0 and "unchanged" in capsys.readouterr().out
        assert main(["land", str(other)]) == 2
        assert "differs from" in capsys.readouterr().err
        assert client.get_object(Bucket="landing-test", Key="lake/landing/2019-Nov.csv")["Body"].read() == november.read_bytes()

        assert main(["land", "--replace", str(other)]) == 0
        kept = f"lake/landing/_replaced/2019-Nov.csv.{sha256_of(november)[:16]}"
        assert client.get_object(Bucket="landing-test", Key=kept)["Body"].read() == november.read_bytes()
        assert client.get_object(Bucket="landing-test", Key="lake/landing/2019-Nov.csv")["Body"].read() == other.read_bytes()
        assert "--partition-range 2019-10-28...2019-11-25" in capsys.readouterr().out

        # Put by another tool, without the checksum: compared by its content.
        client.put_object(Bucket="landing-test", Key="lake/landing/2019-Oct.csv", Body=dumps["csv"][0].read_bytes())
        assert main(["land", str(dumps["csv"][0])]) == 0 and "unchanged" in capsys.readouterr().out
