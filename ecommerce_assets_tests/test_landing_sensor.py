"""Data that arrives and changes: the landing zone is observed with a content version per month; a
redelivered month makes exactly its weeks stale and the sensor reruns exactly those that were built; an
identical file or an untouched one changes nothing, and an untouched dump is never read again."""

import datetime as dt
import json
import os
import shutil

import boto3
import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from ecommerce_assets.lib import landing_versions
from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets.lib.landing_copy import land, land_on_s3
from ecommerce_assets.defs.landing.landing_sensor import RANGE_TAGS, consecutive, landing_sensor
from ecommerce_assets.defs.resources import build_resources, lake_resource
from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.helpers import ALL_ASSETS, materialize_weeks
from ecommerce_assets_tests.services import moto_server

RAW, LANDING = dg.AssetKey("raw_events"), dg.AssetKey("landing_files")
# Built before the redelivery: one October-only week, and the two weeks holding days of both months.
BUILT = ["2019-10-07", "2019-10-28", "2019-11-04"]


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("dumps"), 0.0001, parse_months("2019-10..2019-11"), seed=4, compress=False)


def _changed(dump, folder):
    """The month delivered again with its last event dropped: same name, other content."""
    folder.mkdir(exist_ok=True)
    (folder / dump.name).write_bytes(b"".join(dump.read_bytes().splitlines(keepends=True)[:-1]))
    return folder / dump.name


class Watcher:
    """Ticks the sensor as the daemon would: its cursor carried over, its observations recorded."""

    def __init__(self, instance, settings):
        self.instance, self.lake, self.cursor = instance, lake_resource(settings), None

    def tick(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources={"lake": self.lake})
        result = landing_sensor(context)
        self.cursor = context.cursor
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        observed = {e.partition: e.metadata for e in result.asset_events}
        ranges = [(r.tags[RANGE_TAGS[0]], r.tags[RANGE_TAGS[1]]) for r in result.run_requests]
        return observed, ranges


def _status(instance, resources, week):
    graph = dg.Definitions(assets=ALL_ASSETS, resources=resources).get_repository_def().asset_graph
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    causes = resolver.get_stale_root_causes(RAW, week)
    return resolver.get_status(RAW, week), {(c.key.asset_key, c.key.partition_key) for c in causes}


@pytest.mark.unit
def test_consecutive_weeks_make_one_range():
    import datetime as dt

    weeks = [dt.date(2019, 10, 28), dt.date(2019, 11, 4), dt.date(2019, 11, 18)]
    assert consecutive(weeks) == [weeks[:2], weeks[2:]]


@pytest.mark.integration
def test_a_redelivered_month_makes_exactly_its_weeks_stale_and_reruns_those_built(tmp_path, months, monkeypatch):
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data")})
    landing, resources = settings.lake / "landing", build_resources(settings)
    october, november = months
    land(october, landing)  # with its checksum file: the observation reads no byte of it
    landing.mkdir(exist_ok=True)
    shutil.copy2(november, landing / november.name)  # copied by hand: read once to hash it

    with dg.instance_for_test() as instance:
        watcher = Watcher(instance, settings)
        observed, runs = watcher.tick()
        assert {k: m["read_to_hash"].value for k, m in observed.items()} == {"2019-10-01": False, "2019-11-01": True}
        assert observed["2019-11-01"]["sha256"].value == landing_versions.sha256_of(november)
        assert runs == []  # a month seen for the first time is recorded, not rebuilt

        for week in BUILT:
            assert materialize_weeks(settings, week, selection=dg.AssetSelection.assets(RAW), instance=instance).success
        assert {week: _status(instance, resources, week)[0] for week in BUILT} == dict.fromkeys(BUILT, StaleStatus.FRESH)

        # Nothing changed: nothing observed, nothing run, and no dump read again.
        def no_read(_handle):
            raise AssertionError("an unchanged dump was read")

        with monkeypatch.context() as patch:
            patch.setattr(landing_versions, "_digest", no_read)
            assert watcher.tick() == ({}, [])

        # November redelivered: its weeks that were built are stale because of it, and rerun in one run.
        replaced = land(_changed(november, tmp_path / "again"), landing, replace=True)
        observed, runs = watcher.tick()
        assert list(observed) == ["2019-11-01"]
        assert observed["2019-11-01"]["previous_sha256"].value == landing_versions.sha256_of(november)
        assert observed["2019-11-01"]["sha256"].value == replaced.sha256
        assert runs == [("2019-10-28", "2019-11-04")]
        assert _status(instance, resources, "2019-10-07") == (StaleStatus.FRESH, set())
        for week in ("2019-10-28", "2019-11-04"):
            assert _status(instance, resources, week) == (StaleStatus.STALE, {(LANDING, "2019-11-01")})
        assert (landing / "_replaced" / f"{november.name}.{landing_versions.sha256_of(november)[:16]}").is_file()

        # The requested run rebuilds them from the new file: fresh again, and the next tick asks for nothing.
        assert materialize_weeks(settings, *runs[0], selection=dg.AssetSelection.assets(RAW), instance=instance).success
        assert {week: _status(instance, resources, week)[0] for week in BUILT} == dict.fromkeys(BUILT, StaleStatus.FRESH)
        assert watcher.tick() == ({}, [])

        # October copied again by hand, identical: read once (its mtime moved), but no new version, no run.
        os.utime(landing / october.name)
        shutil.copyfile(october, landing / october.name)
        assert watcher.tick() == ({}, [])
        assert json.loads(watcher.cursor)[october.name][1] == landing_versions.sha256_of(october)

        # October redelivered and its new version recorded by hand (as "Observe" in the UI does) before the
        # sensor's tick: the tick
        # records nothing more, and still reruns October's built weeks.
        again = land(_changed(october, tmp_path / "october"), landing, replace=True)
        instance.report_runless_asset_event(dg.AssetObservation(
            asset_key=LANDING, partition="2019-10-01", tags={"dagster/data_version": again.sha256}))
        assert watcher.tick() == ({}, [("2019-10-07", "2019-10-07"), ("2019-10-28", "2019-10-28")])


@pytest.mark.stack
def test_on_s3_a_month_replaced_by_another_tool_reruns_its_weeks(tmp_path, months, monkeypatch):
    october, november = months
    with moto_server() as endpoint:
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="lake")
        settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "ECOMMERCE_LAKE": "s3://lake/l",
                                      "ECOMMERCE_S3_ENDPOINT_URL": endpoint, **{k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}})
        lake = lake_resource(settings).lake
        land_on_s3(october, lake)  # carries its sha256 as metadata
        client.upload_file(str(november), "lake", f"l/landing/{november.name}")  # another tool: no checksum
        with dg.instance_for_test() as instance:
            watcher = Watcher(instance, settings)
            observed, runs = watcher.tick()
            assert {k: m["read_to_hash"].value for k, m in observed.items()} == {"2019-10-01": False, "2019-11-01": True}
            assert runs == []
            assert materialize_weeks(settings, "2019-11-04", selection=dg.AssetSelection.assets(RAW), instance=instance).success
            assert watcher.tick() == ({}, [])

            # The other tool uploads a changed November over it: the ETag moves, the version changes.
            client.upload_file(str(_changed(november, tmp_path / "again")), "lake", f"l/landing/{november.name}")
            observed, runs = watcher.tick()
            assert list(observed) == ["2019-11-01"] and runs == [("2019-11-04", "2019-11-04")]
            assert observed["2019-11-01"]["sha256"].value == landing_versions.sha256_of(tmp_path / "again" / november.name)


def _one_line_less(dump, folder, week):
    """The month delivered again without the first event of ``week``: a change that week's rows show."""
    folder.mkdir(exist_ok=True)
    lines = dump.read_bytes().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines[1:], 1) if line[:10].decode() >= week)
    (folder / dump.name).write_bytes(b"".join(lines[:first] + lines[first + 1:]))
    return folder / dump.name


@pytest.mark.integration
def test_a_month_landed_again_while_a_run_splits_it_leaves_no_week_of_the_old_file(tmp_path, months, monkeypatch):
    """A concurrent landing: November is replaced while a run splits it, and the sensor sees the new version
    before the run records its week. The week is never left built from the old file under the new version:
    a change during the read fails the step and its retry reads the new file; a change after the read is
    caught from the week's own record of what it read, and the week is built again."""
    from ecommerce_assets.defs.raw import raw_events as raw_module
    from ecommerce_assets_tests.helpers import lines_by_week

    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data")})
    landing = settings.lake / "landing"
    october, november = months
    land(october, landing)
    land(november, landing)
    week = "2019-11-04"
    with dg.instance_for_test() as instance:
        watcher = Watcher(instance, settings)
        assert watcher.tick()[1] == []

        def landed_again(name):
            changed = _one_line_less(landing / november.name, tmp_path / name, week)
            land(changed, landing, replace=True)
            return watcher.tick()

        # 1. Replaced during the read: the step fails saying so, its retry splits the new file.
        real_split, ticks = raw_module.split_month, []

        def split_then_land(source, month, *args):
            split = real_split(source, month, *args)
            if month.month == 11 and not ticks:
                ticks.append(landed_again("first"))
            return split

        monkeypatch.setattr(raw_module, "split_month", split_then_land)
        result = materialize_weeks(settings, week, selection=dg.AssetSelection.assets(RAW), instance=instance)
        assert result.success
        failures = [e.step_failure_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        assert retried and "changed while it was read" in str([e.event_specific_data for e in retried]) and not failures
        assert list(ticks[0][0]) == ["2019-11-01"] and ticks[0][1] == []  # the week was not built yet: no run asked
        expected = len(lines_by_week([landing / november.name])[dt.date(2019, 11, 4)])
        assert result.asset_materializations_for_node("raw_events")[0].metadata["rows"].value == expected
        assert watcher.tick() == ({}, [])  # built from the current file: nothing to do

        # 2. Replaced after the read, before the run records the week: the next tick builds it again.
        monkeypatch.setattr(raw_module, "split_month", real_split)
        real_stamp = raw_module.stamp_of

        def land_after_the_check(file):
            stamp = real_stamp(file)  # the check sees the file the step read
            if file.name == november.name and not ticks[1:]:
                ticks.append(landed_again("second"))
            return stamp

        monkeypatch.setattr(raw_module, "stamp_of", land_after_the_check)
        before = len(lines_by_week([landing / november.name])[dt.date(2019, 11, 4)])
        result = materialize_weeks(settings, week, selection=dg.AssetSelection.assets(RAW), instance=instance)
        assert result.success and result.asset_materializations_for_node("raw_events")[0].metadata["rows"].value == before
        assert ticks[1][1] == [(week, week)]  # the week was built: the change reruns it
        observed, runs = watcher.tick()
        assert observed == {} and runs == [(week, week)]  # and the record it left says it read the old file
