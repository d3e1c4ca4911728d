"""Security checks: `ecommerce land` writes nothing outside the landing folder, no SQL is built from an
unvalidated string, every server the project starts listens on loopback only, and scripts/audit.sh fails
on a known vulnerability that is not allowed.

Servers checked live (their LISTEN sockets read from /proc/net/tcp and tcp6): the suite's local Spark
session and the project's Spark resource (without SPARK_LOCAL_IP), moto, fakesnow, PostgreSQL (pg_ctl),
a Spark standalone master and worker, and `dg dev` (its webserver is the one TCP listener; the daemon opens
none; the gRPC code servers it starts listen on unix sockets).
Checked statically (the arguments the code gives them): the same start sites in scripts, README, docs and tests,
`dagster code-server start` / `dagster-webserver` / `dagster-daemon` of the production-shape stack test, and
Chromium (Playwright pipes; no remote-debugging port). docker-compose.yaml binds inside containers and is
tested by test_compose.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import http.server
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from ecommerce_assets.lib.kaggle import HEADER
from ecommerce_assets.lib.settings import SettingsError, load_settings
from ecommerce_assets_tests.conftest import ROOT

HOSTILE_WEEK = "2019-10-07'; drop table raw.events; --"
DUMP_LINE = "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c"


# -- 1. `ecommerce land`: nothing is written outside the landing folder --------------------------------------


def _dump(folder: Path, name: str = "2019-Oct.csv.gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    body = f"{HEADER}\n{DUMP_LINE}\n".encode()
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    return path


@pytest.fixture
def place(tmp_path):
    """A source dump, a landing folder and, beside them, an outside file a copy must never touch."""
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.txt"
    precious.write_text("not yours\n")
    return {"source": _dump(tmp_path / "downloads"), "landing": tmp_path / "lake" / "landing",
            "outside": outside, "precious": precious}


def _outside_unchanged(place) -> None:
    assert place["precious"].read_text() == "not yours\n"
    assert sorted(p.name for p in place["outside"].iterdir()) == ["precious.txt"]


@pytest.mark.unit
def test_sources_given_by_relative_or_absolute_path_land_under_their_own_name(place, monkeypatch):
    from ecommerce_assets.lib.landing_copy import land

    monkeypatch.chdir(place["outside"])  # `../downloads/2019-Oct.csv.gz`: the name alone decides the target
    relative = Path("..") / "downloads" / place["source"].name
    landed = land(relative, place["landing"])
    assert landed.target == place["landing"] / "2019-Oct.csv.gz" and landed.copied
    assert land(place["source"].resolve(), place["landing"]).target == landed.target  # absolute: same place
    assert sorted(p.name for p in place["landing"].iterdir()) == ["2019-Oct.csv.gz", "2019-Oct.csv.gz.sha256"]
    assert not landed.target.is_symlink()
    _outside_unchanged(place)


@pytest.mark.unit
def test_zip_members_named_with_paths_are_read_in_place_never_extracted(place):
    import zipfile

    from ecommerce_assets.lib.landing_copy import land

    archive = place["source"].parent / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("../../outside/2019-Oct.csv", f"{HEADER}\n{DUMP_LINE}\n")
        out.writestr("/abs/2019-Nov.csv", f"{HEADER}\n")
    land(archive, place["landing"])
    assert sorted(p.name for p in place["landing"].iterdir()) == ["kaggle.zip", "kaggle.zip.sha256"]
    _outside_unchanged(place)


@pytest.mark.unit
@pytest.mark.parametrize("name", ["2019-Oct.csv.gz", "2019-Oct.csv.gz.partial", "2019-Oct.csv.gz.sha256"])
def test_a_symlink_in_place_of_a_landed_file_is_refused(place, name):
    """The dump, its .partial (opened for writing) and its .sha256 (written last): a link there pointed a
    write at the outside file."""
    from ecommerce_assets.lib.landing_copy import LandError, land, sha256_of

    place["landing"].mkdir(parents=True)
    link = place["landing"] / name
    link.symlink_to(place["precious"])
    if name == "2019-Oct.csv.gz":  # with a matching checksum, the link was reported as landed
        (place["landing"] / "2019-Oct.csv.gz.sha256").write_text(f"{sha256_of(place['source'])}  2019-Oct.csv.gz\n")
    with pytest.raises(LandError, match=rf"^{re.escape(str(link))}: is a symbolic link \(to {re.escape(str(place['precious']))}\)"):
        land(place["source"], place["landing"])
    assert link.is_symlink()
    _outside_unchanged(place)


@pytest.mark.unit
def test_a_landing_folder_that_is_a_symlink_is_refused(place):
    from ecommerce_assets.lib.landing_copy import LandError, land

    place["landing"].parent.mkdir(parents=True)
    place["landing"].symlink_to(place["outside"], target_is_directory=True)
    with pytest.raises(LandError, match=rf"^{re.escape(str(place['landing']))}: the landing folder is a symbolic link"):
        land(place["source"], place["landing"])
    _outside_unchanged(place)


@pytest.mark.unit
def test_a_link_that_appears_after_the_checks_is_not_written_through(place, monkeypatch):
    """The writes open with O_NOFOLLOW: a .partial link made between the check and the open fails the copy."""
    from ecommerce_assets.lib import landing_copy

    checked = landing_copy._target

    def then_a_link_appears(path, landing):
        target = checked(path, landing)
        landing.mkdir(parents=True)
        target.with_name(target.name + ".partial").symlink_to(place["precious"])
        return target

    monkeypatch.setattr(landing_copy, "_target", then_a_link_appears)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        landing_copy.land(place["source"], place["landing"])
    assert sorted(p.name for p in place["landing"].iterdir()) == []  # the link is removed, nothing landed
    _outside_unchanged(place)


@pytest.mark.unit
def test_sources_that_are_not_regular_dump_files_are_refused(place, tmp_path):
    from ecommerce_assets.lib.landing_copy import LandError, land
    from ecommerce_assets.lib.raw_split import LandingFormatError

    secret = place["outside"] / "secret.txt"
    secret.write_text("user:password\n")
    linked = tmp_path / "downloads" / "2019-Nov.csv"
    linked.symlink_to(secret)  # a dump's name on a link to something else: the header check refuses it
    with pytest.raises(LandingFormatError, match=rf"^{re.escape(str(linked))}, line 1: header is 'user:password'"):
        land(linked, place["landing"])
    folder = tmp_path / "downloads" / "2019-Dec.csv"
    folder.mkdir()
    with pytest.raises(LandError, match=rf"^{re.escape(str(folder))}: not a regular file"):
        land(folder, place["landing"])
    with pytest.raises(LandError, match="^/dev/null: not a regular file"):
        land(Path("/dev/null"), place["landing"])
    with pytest.raises(LandError, match=r"no such file"):
        land(tmp_path / "downloads" / "2019-Jan.csv", place["landing"])
    assert not place["landing"].exists()
    # A link to a real dump is followed: the landing zone gets a regular copy, not the link.
    real = tmp_path / "downloads" / "2019-Oct.csv.gz"
    alias = place["outside"].parent / "alias" / "2019-Oct.csv.gz"
    alias.parent.mkdir()
    alias.symlink_to(real)
    landed = land(alias, place["landing"])
    assert not landed.target.is_symlink() and landed.target.read_bytes() == real.read_bytes()
    secret.unlink()
    _outside_unchanged(place)


@pytest.mark.unit
def test_the_cli_names_the_refused_path_and_exits_2(place, capsys):
    from ecommerce_assets.cli import main

    place["landing"].parent.mkdir(parents=True)
    place["landing"].symlink_to(place["outside"], target_is_directory=True)
    assert main(["land", str(place["source"]), "--to", str(place["landing"])]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"ecommerce land: {place['landing']}: the landing folder is a symbolic link"), error
    _outside_unchanged(place)


# -- 2. No SQL from an unvalidated string ---------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("key", [HOSTILE_WEEK, "2019-10-07 ", "2019-10-07\n", "20191007", "2019-W41-1", "٢٠١٩-١٠-٠٧", None])
def test_week_keys_are_exactly_yyyy_mm_dd(key):
    from ecommerce_assets.defs.partitions import week_start, weeks_in_range

    with pytest.raises(ValueError, match=rf"^week partition key {re.escape(repr(key))} is not a date YYYY-MM-DD$"):
        week_start(key)
    with pytest.raises(ValueError, match="is not a date YYYY-MM-DD"):
        weeks_in_range("2019-09-30", key)


HOSTILE_SETTINGS = {
    # dbt-snowflake writes these into SQL unquoted (relation names, `show schemas in database`, `use warehouse`)
    "SNOWFLAKE_DATABASE": "ECOMMERCE; drop table raw.events; --",
    "SNOWFLAKE_WAREHOUSE": "wh; drop table raw.events",
    # COPY INTO @stage: a name, never a parameter
    "ECOMMERCE_SNOWFLAKE_STAGE": "raw; drop table raw.events",
    # DuckDB's SET memory_limit (dbt-duckdb) and the partition windows
    "ECOMMERCE_DUCKDB_MEMORY_LIMIT": "4GB'; drop table raw.events; --",
    "ECOMMERCE_FIRST_WEEK": "2019-09-30'; drop table raw.events; --",
    "ECOMMERCE_LAST_WEEK": "2020-04-27' or 1=1 --",
    "ECOMMERCE_FIRST_MONTH": "2019-10'; --",
    "ECOMMERCE_WAREHOUSE": "duckdb; drop",
}


@pytest.mark.unit
@pytest.mark.parametrize("name", list(HOSTILE_SETTINGS))
def test_settings_that_reach_sql_refuse_hostile_values_naming_the_variable(name):
    value = HOSTILE_SETTINGS[name]
    with pytest.raises(SettingsError) as refused:
        load_settings(env={name: value})
    assert str(refused.value).startswith(f"{name}={value!r}: "), refused.value


@pytest.mark.unit
def test_the_cli_stops_on_a_hostile_setting_before_connecting(monkeypatch, capsys):
    from ecommerce_assets.lib import settings
    from ecommerce_assets.cli import main

    monkeypatch.setenv("SNOWFLAKE_DATABASE", HOSTILE_SETTINGS["SNOWFLAKE_DATABASE"])
    settings.current.cache_clear()
    try:
        assert main(["counts"]) == 2
    finally:
        settings.current.cache_clear()
    assert capsys.readouterr().err.startswith("ecommerce counts: SNOWFLAKE_DATABASE='ECOMMERCE; drop table raw.events; --': ")


@pytest.mark.unit
def test_names_that_go_into_sql_text_are_plain_names():
    from ecommerce_assets.lib.warehouses.base import lake_name, sql_name

    assert sql_name("marts.mart_daily_kpis", "table") == "marts.mart_daily_kpis"
    assert sql_name("ECOMMERCE.raw.lake_stage", "stage") == "ECOMMERCE.raw.lake_stage"
    for bad in ("raw; drop table raw.events", "raw.events --", "a.b.c.d", "x'y", '"raw"', "", "raw.", None):
        with pytest.raises(ValueError, match=rf"^stage {re.escape(repr(bad))} is not a plain SQL name"):
            sql_name(bad, "stage")
    assert lake_name("clean/events/week=2019-10-07", "key") == "clean/events/week=2019-10-07"
    assert lake_name("part-00000-1b2c.c000.snappy.parquet", "file") == "part-00000-1b2c.c000.snappy.parquet"
    for bad in ("x'; drop table raw.events; --.parquet", "a b.parquet", "../x.parquet", "/abs", "a//b", "", None):
        with pytest.raises(ValueError, match=rf"^clean file {re.escape(repr(bad))} is not a plain lake name"):
            lake_name(bad, "clean file")


def _raw_events_row(con) -> None:
    from ecommerce_assets.lib.warehouses.base import RAW_EVENTS_COLUMNS

    con.execute("create schema if not exists raw")
    con.execute(f"create table raw.events ({RAW_EVENTS_COLUMNS.format(ts='timestamp', loaded_at_null='')})")
    con.execute(
        "insert into raw.events values ('e1', '2019-10-07 10:00:00', '2019-10-07', 10, '2019-10-07', 'view', 1, 2, "
        "'electronics.smartphone', false, 'observed', 'electronics', 'smartphone', null, 'apple', false, "
        "'observed', 1.00, 3, 's1', '2019-10-08 00:00:00')"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "how",
    [
        {"partition_key": HOSTILE_WEEK},
        {"tags": {"dagster/partition": HOSTILE_WEEK}},
        {"tags": {"dagster/asset_partition_range_start": "2019-10-07", "dagster/asset_partition_range_end": HOSTILE_WEEK}},
        {"tags": {"dagster/asset_partition_range_start": HOSTILE_WEEK, "dagster/asset_partition_range_end": "2019-10-14"}},
    ],
    ids=["partition_key", "partition_tag", "range_end", "range_start"],
)
def test_hostile_partition_keys_are_refused_before_anything_runs(tmp_path, how):
    """The weekly assets (the warehouse load, and the dbt models whose row counts put the run's keys into a
    query) through dg.materialize, as a run launched with that key or range: refused, naming the key; the
    warehouse table is still there with its row and the lake is untouched."""
    from ecommerce_assets.defs.resources import build_resources
    from ecommerce_assets.warehouses import build_warehouse
    from ecommerce_assets_tests.helpers import ALL_ASSETS, WEEKLY

    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "SPARK_MASTER": "local[2]"})
    warehouse = build_warehouse(settings)
    with warehouse.connect() as con:
        _raw_events_row(con)
    with pytest.raises(Exception, match=re.escape(HOSTILE_WEEK)):
        dg.materialize(ALL_ASSETS, selection=WEEKLY, resources=build_resources(settings), **how)
    assert warehouse.query("select event_id from raw.events") == [("e1",)]
    assert not (settings.lake / "raw").exists() and not (settings.lake / "clean").exists()


@pytest.mark.integration
def test_warehouse_queries_take_values_as_bound_parameters(tmp_path):
    """What a metadata query needs for a week range: WEEK_COUNTS with `?` and the weeks as parameters."""
    from ecommerce_assets.warehouses import build_warehouse
    from ecommerce_assets.lib.warehouses.base import WEEK_COUNTS

    warehouse = build_warehouse(load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data")}))
    with warehouse.connect() as con:
        _raw_events_row(con)
    week = dt.date(2019, 10, 7)
    assert warehouse.query(WEEK_COUNTS.format(p="?"), [week, week + dt.timedelta(days=7)]) == [(week, 1)]
    assert warehouse.query("select count(*) from raw.events where event_id = ?", [HOSTILE_WEEK]) == [(0,)]
    assert warehouse.query("select event_id from raw.events") == [("e1",)]


# -- 3. Every server the project starts listens on loopback only ---------------------------------------------


@dataclass(frozen=True)
class Listener:
    pid: int
    command: str
    host: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def loopback(self) -> bool:
        mapped = getattr(self.host, "ipv4_mapped", None)
        return self.host.is_loopback or (mapped is not None and mapped.is_loopback)

    def __str__(self) -> str:
        return f"{self.command}[{self.pid}] on {self.host}:{self.port}"


def _address(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """/proc/net/tcp{,6} ``HEX:PORT``: the address is 32-bit words in host byte order."""
    host, port = field.split(":")
    raw = bytes.fromhex(host)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw), int(port, 16)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    return children


def tree(*roots: int) -> set[int]:
    """The processes and all their descendants."""
    children, found, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _sockets(pids: set[int]) -> dict[str, int]:
    """Socket inode -> owning pid."""
    owned: dict[str, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                owned.setdefault(link[8:-1], pid)
    return owned


def _listen_table() -> list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """(inode, address, port) of every TCP socket in LISTEN (state 0A)."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                rows.append((fields[9], *_address(fields[1])))
    return rows


def listeners(pids: set[int]) -> list[Listener]:
    owned = _sockets(pids)
    found = []
    for inode, host, port in _listen_table():
        if inode in owned:
            pid = owned[inode]
            try:
                command = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                command = "?"
            found.append(Listener(pid, command, host, port))
    return found


def unix_listeners(pids: set[int]) -> list[str]:
    """Paths of the listening unix sockets (flag __SO_ACCEPTCON) the processes hold."""
    owned = _sockets(pids)
    found = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[3], 16) & 0x10000 and fields[6] in owned:
            found.append(fields[7] if len(fields) > 7 else "(unnamed)")
    return found


def listening_on(port: int) -> set[int]:
    """Pids holding a LISTEN socket on ``port`` (any address): finds daemons that left our process tree."""
    inodes = {inode for inode, _, listen_port in _listen_table() if listen_port == port}
    all_pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    return {pid for inode, pid in _sockets(all_pids).items() if inode in inodes}


def assert_loopback_only(found: list[Listener], expected_ports: set[int]) -> None:
    assert expected_ports <= {listener.port for listener in found}, (expected_ports, [str(x) for x in found])
    wide = [str(listener) for listener in found if not listener.loopback]
    assert wide == [], f"listening beyond loopback: {wide}"


@pytest.mark.unit
def test_proc_net_addresses_are_decoded():
    assert _address("0100007F:1F90") == (ipaddress.ip_address("127.0.0.1"), 8080)
    assert _address("00000000000000000000000001000000:0016") == (ipaddress.ip_address("::1"), 22)
    assert _address("0000000000000000FFFF00000100007F:B635")[0] == ipaddress.ip_address("::ffff:127.0.0.1")
    assert not Listener(1, "x", ipaddress.ip_address("0.0.0.0"), 1).loopback
    assert not Listener(1, "x", ipaddress.ip_address("::"), 1).loopback
    assert Listener(1, "x", ipaddress.ip_address("::ffff:127.0.0.1"), 1).loopback


@pytest.mark.unit
def test_local_spark_config_binds_loopback_and_has_no_ui():
    from ecommerce_assets.lib.spark.config import spark_config

    config = spark_config(load_settings(env={"SPARK_MASTER": "local[2]"}))
    assert config["spark.driver.bindAddress"] == config["spark.driver.host"] == "127.0.0.1"
    assert config["spark.ui.enabled"] == "false"


@pytest.mark.integration
def test_the_suite_spark_session_listens_on_loopback_only(spark):
    conf = dict(spark.sparkContext.getConf().getAll())
    assert conf["spark.ui.enabled"] == "false" and conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert spark.range(1000).repartition(4).selectExpr("sum(id)").first()[0] == 499500  # shuffle: block manager
    found = listeners(tree(os.getpid()))
    assert any(listener.command == "java" for listener in found), [str(x) for x in found]
    assert_loopback_only(found, {int(conf["spark.driver.port"])})


SPARK_RESOURCE_PROBE = """
import sys
from ecommerce_assets.defs.resources import build_resources
from ecommerce_assets.lib.settings import load_settings
settings = load_settings(env={"SPARK_MASTER": "local[1]", "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g"})
session = build_resources(settings)["pyspark"].spark_session
session.range(100).repartition(2).count()
print(session.sparkContext.getConf().get("spark.driver.port"), flush=True)
sys.stdin.read()  # until the test has looked
session.stop()
"""


@pytest.mark.integration
def test_the_project_spark_resource_listens_on_loopback_without_spark_local_ip(tmp_path):
    """What a run's clean step starts (SparkResource), from an environment without SPARK_LOCAL_IP."""
    env = {k: v for k, v in os.environ.items() if k != "SPARK_LOCAL_IP"}
    log = tmp_path / "probe.log"
    with open(log, "w") as errors:
        probe = subprocess.Popen([sys.executable, "-c", SPARK_RESOURCE_PROBE], cwd=tmp_path, env=env, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
    try:
        printed = probe.stdout.readline()
        assert printed.strip().isdigit(), log.read_text()[-3000:]
        assert_loopback_only(listeners(tree(probe.pid)), {int(printed)})
    finally:
        probe.communicate("", timeout=120)


@pytest.mark.stack
def test_moto_s3_server_listens_on_loopback_only():
    from ecommerce_assets_tests.services import moto_server

    with moto_server() as endpoint:
        assert_loopback_only(listeners(tree(os.getpid())), {int(endpoint.rsplit(":", 1)[1])})


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    from ecommerce_assets_tests.services import fakesnow_server

    with fakesnow_server(tmp_path_factory.mktemp("fakesnow") / "fakesnow.log") as port:
        yield port


@pytest.mark.stack
def test_fakesnow_listens_on_loopback_only(emulator):
    assert_loopback_only(listeners(tree(os.getpid())), {emulator})


@pytest.mark.stack
def test_postgresql_listens_on_loopback_only():
    from ecommerce_assets_tests.services import postgres

    with postgres() as port:
        postmaster = listening_on(port)  # pg_ctl daemonizes it: not in our process tree
        assert postmaster
        assert_loopback_only(listeners(tree(*postmaster)), {port})


@pytest.mark.stack
def test_spark_standalone_master_and_worker_listen_on_loopback_only(tmp_path):
    from ecommerce_assets_tests.services import spark_standalone

    with spark_standalone(tmp_path / "spark") as master:
        found = listeners(tree(os.getpid()))
        # master RPC, both web UIs (bound from SPARK_LOCAL_IP), the worker's RPC
        assert len({x.port for x in found if x.command == "java"}) >= 4, [str(x) for x in found]
        assert_loopback_only(found, {int(master.rsplit(":", 1)[1])})


GRAPHQL_LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


@pytest.mark.stack
def test_dg_dev_listens_on_loopback_only(tmp_path):
    """`dg dev` as docs/operating.md starts it: the webserver, the daemon and the gRPC code server it starts."""
    import requests

    from ecommerce_assets_tests.services import BIN, free_port, http_ok, process, wait_until

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ECOMMERCE_")}, "DAGSTER_HOME": str(home),
           "ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "DAGSTER_TELEMETRY_DISABLED": "1"}
    port, log = free_port(), tmp_path / "dg-dev.log"
    with process([str(BIN / "dg"), "dev", "--no-check-yaml", "-h", "127.0.0.1", "-p", str(port)], log, env, ROOT) as server:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{base}/server_info"), "dg dev", 300, server, log)

        def loaded() -> bool:
            body = requests.post(f"{base}/graphql", json={"query": GRAPHQL_LOCATIONS}, timeout=30).json()
            return [e["loadStatus"] for e in body["data"]["workspaceOrError"]["locationEntries"]] == ["LOADED"]

        wait_until(loaded, "the code location", 300, server, log)
        # The webserver is the one TCP listener; the code servers (the proxy and its `api grpc`) listen on
        # unix sockets (`--socket`), reachable from this machine only.
        wait_until(lambda: len(unix_listeners(tree(server.pid))) >= 2, "the code servers' sockets", 120, server, log)
        found = listeners(tree(server.pid))
        assert {x.port for x in found} == {port}, [str(x) for x in found]
        assert_loopback_only(found, {port})


# The start sites of servers in the project's own files, with the loopback host each must be given.
LOOPBACK = r"(127\.0\.0\.1|localhost)"
START_SITES = {
    "dagster dev / dg dev": (r"\b(dg|dagster)\W{1,6}dev\W{1,6}-", rf"(-h|--host)\W{{1,6}}{LOOPBACK}"),
    "dagster-webserver": (r"dagster-webserver\W{1,6}-", rf"(-h|--host)\W{{1,6}}{LOOPBACK}"),
    "dagster code-server start": (r"code-server\W{1,6}start", rf"(-h|--host)\W{{1,6}}{LOOPBACK}"),
    "dagster api grpc": (r"\bapi\W{1,6}grpc\b", rf"(-h|--host)\W{{1,6}}{LOOPBACK}"),
    "fakesnow server": (r"fakesnow\W{1,6}-s\b", rf"--host\W{{1,6}}{LOOPBACK}"),
    "moto server": (r"ThreadedMotoServer\(|\bmoto_server\s+-", rf"(ip_address=\W?|-H\W{{1,6}}){LOOPBACK}"),
    "PostgreSQL (pg_ctl start)": (r"pg_ctl\b(?=.*\bstart\b)", rf"(-h\W{{0,6}}|listen_addresses\W{{1,6}}){LOOPBACK}"),
    "Spark standalone master/worker": (r"deploy\.(master\.Master|worker\.Worker)", rf"--host\W{{1,6}}{LOOPBACK}"),
    "HTTP server": (r"HTTPServer\(|uvicorn\.run\(", LOOPBACK),  # where the address is bound
    "Chromium remote debugging": (r"remote-debugging-(port|address)", rf"remote-debugging-address={LOOPBACK}"),
}
# Found at least once today (the check must not pass by finding nothing).
PRESENT = {"dagster dev / dg dev", "dagster-webserver", "dagster code-server start", "fakesnow server", "moto server",
           "PostgreSQL (pg_ctl start)", "Spark standalone master/worker"}
# Containers bind inside their network (test_compose.py checks the host ports); this file quotes the patterns.
NOT_SCANNED = {"docker-compose.yaml", "compose_support.py", "test_compose.py", "test_security.py"}


def _project_files() -> list[Path]:
    patterns = ["README.md", "docs/*.md", "scripts/*", ".ci/run", "config/*.yaml", "workspace.yaml",
                "bench/*.py", "ecommerce_assets/**/*.py", "ecommerce_assets_tests/*.py"]
    return sorted({p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file() and p.name not in NOT_SCANNED})


@pytest.mark.unit
def test_every_server_start_in_the_project_is_given_a_loopback_host():
    """Each start site (a statement: the line and the two after it) names a loopback host; no file outside
    the container setup binds 0.0.0.0 or ::."""
    seen, problems = set(), []
    for path in _project_files():
        lines = path.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines):
            if "cmdline(" in line:  # a running process looked up by its command line, not started
                continue
            statement = " ".join(lines[number:number + 3])
            for what, (start, host) in START_SITES.items():
                if re.search(start, line) or (what.startswith("PostgreSQL") and "pg_ctl" in line and re.search(start, statement)):
                    seen.add(what)
                    if not re.search(host, statement):
                        problems.append(f"{path.relative_to(ROOT)}:{number + 1}: {what} without a loopback host: {line.strip()}")
            if re.search(r"0\.0\.0\.0|\[::\]|\"::\"|'::'", line):
                problems.append(f"{path.relative_to(ROOT)}:{number + 1}: binds every interface: {line.strip()}")
    assert problems == []
    assert PRESENT <= seen, PRESENT - seen


@pytest.mark.unit
def test_chromium_is_driven_over_a_pipe_not_a_debugging_port():
    from ecommerce_assets_tests.browser import FLAGS

    assert not [flag for flag in FLAGS if flag.startswith("--remote-debugging")]
    source = (ROOT / "ecommerce_assets_tests" / "ui_support.py").read_text()
    assert "chromium.launch(" in source and "connect_over_cdp" not in source  # launch() talks over a pipe


@pytest.mark.unit
def test_production_stack_test_starts_dagster_on_loopback():
    """The production-shape stack test (too costly to start here again): code server and webserver get
    -h 127.0.0.1; the daemon opens no port of its own (its code servers bind localhost, checked live with dg dev)."""
    from ecommerce_assets_tests.stack_support import ProductionStack

    stack = ProductionStack(ROOT, {}, None, "", "", 4266, 3000)
    assert stack.command("code-server")[2:5] == ["start", "-h", "127.0.0.1"]
    assert stack.command("webserver")[1:3] == ["-h", "127.0.0.1"]
    assert stack.command("daemon")[1:3] == ["run", "-w"] and "-h" not in stack.command("daemon")


# -- 2 (continued). The Snowflake load against the emulator: hostile names are refused, nothing runs ----------


def _emulator_warehouse(port: int, tmp_path: Path, monkeypatch):
    import snowflake.connector

    from ecommerce_assets.warehouses import build_warehouse

    env = {"SNOWFLAKE_ACCOUNT": "fakesnow", "SNOWFLAKE_USER": "fake", "SNOWFLAKE_PASSWORD": "fake",
           "SNOWFLAKE_HOST": "127.0.0.1", "SNOWFLAKE_PORT": str(port), "SNOWFLAKE_PROTOCOL": "http"}
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "fake")  # read at connect time (dg.EnvVar)
    settings = load_settings(env={"ECOMMERCE_DATA_DIR": str(tmp_path / "data"), "ECOMMERCE_WAREHOUSE": "snowflake",
                                  "ECOMMERCE_SNOWFLAKE_STAGE": "raw.lake_stage", **env})
    connection = snowflake.connector.connect(user="fake", password="fake", account="fakesnow", host="127.0.0.1",
                                             port=port, protocol="http")
    cursor = connection.cursor()
    cursor.execute("create database if not exists ECOMMERCE")
    cursor.execute("use database ECOMMERCE")
    cursor.execute("create schema if not exists raw")
    cursor.execute("drop table if exists raw.events")
    _raw_events_row(cursor)
    return settings, build_warehouse(settings), cursor


@pytest.mark.stack
def test_snowflake_load_refuses_hostile_names_before_running_anything(emulator, tmp_path, monkeypatch):
    from ecommerce_assets.lib.lake import Lake

    settings, warehouse, cursor = _emulator_warehouse(emulator, tmp_path, monkeypatch)
    week = dt.date(2019, 10, 7)
    folder = settings.lake / "clean" / "events" / f"week={week}"
    folder.mkdir(parents=True)
    hostile = folder / "x'); drop table raw.events; --.parquet"  # a file in the lake, listed into COPY's files
    hostile.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"^clean file {re.escape(repr(hostile.name))} is not a plain lake name"):
        warehouse.replace_weeks(Lake(settings.lake), [week])
    hostile.rename(folder / "part-00000.parquet")
    bad_stage = type(warehouse)(snowflake=warehouse.snowflake, stage="raw.lake_stage/ files=('x'); drop table raw.events; --")
    with pytest.raises(ValueError, match=r"^stage .* is not a plain SQL name"):
        bad_stage.replace_weeks(Lake(settings.lake), [week])
    hostile_tables = ["marts.mart_daily_kpis", "marts.x; drop table raw.events"]
    with pytest.raises(ValueError, match=r"^dashboard table 'marts.x; drop table raw.events' is not a plain SQL name"), \
            warehouse.dashboard_connection(hostile_tables):
        pass
    cursor.execute("select event_id, event_week from raw.events")
    assert cursor.fetchall() == [("e1", week)]  # not deleted, not dropped: nothing ran


# -- 4. scripts/audit.sh: known vulnerabilities fail unless allowed with a reason ---------------------------


FAKE_PIP_AUDIT = """#!/usr/bin/env bash
# Writes the canned report in $FAKE_REPORT to pip-audit's -o FILE.
while [ $# -gt 0 ]; do case "$1" in -o|--output) cp "$FAKE_REPORT" "$2";; esac; shift; done
exit "${FAKE_EXIT:-0}"
"""


@contextlib.contextmanager
def _pypi_project_json(projects: dict[str, dict]) -> Iterator[str]:
    """A stand-in for https://pypi.org/pypi on 127.0.0.1: GET /NAME/json answers projects[NAME], else 404.
    Yields its base URL (for AUDIT_PYPI_JSON_URL); stopped on exit."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            match = re.fullmatch(r"/([^/]+)/json", self.path)
            body = json.dumps(projects[match[1]]).encode() if match and match[1] in projects else None
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _audit(tmp_path: Path, report: dict, allow: str = "", **env: str) -> subprocess.CompletedProcess:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE_PIP_AUDIT)
    fake.chmod(0o755)
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "allow.txt").write_text(textwrap.dedent(allow))
    with contextlib.ExitStack() as stack:
        if "AUDIT_PYPI_JSON_URL" not in env:  # no network: the project-JSON fallback finds no project
            env["AUDIT_PYPI_JSON_URL"] = stack.enter_context(_pypi_project_json({}))
        return subprocess.run(
            ["bash", str(ROOT / "scripts" / "audit.sh")], check=False, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PIP_AUDIT": str(fake), "FAKE_REPORT": str(tmp_path / "report.json"),
                 "AUDIT_ALLOWLIST": str(tmp_path / "allow.txt"), **env},
        )


VULNERABLE = {"dependencies": [
    {"name": "jinja2", "version": "3.1.6", "vulns": []},
    {"name": "requests", "version": "2.31.0", "vulns": [
        {"id": "GHSA-9wx4-h78v-vm56", "fix_versions": ["2.32.0"], "aliases": ["CVE-2024-35195"], "description": ""}]},
], "fixes": []}


@pytest.mark.unit
def test_audit_fails_on_a_vulnerability_that_is_not_allowed(tmp_path):
    done = _audit(tmp_path, VULNERABLE, FAKE_EXIT="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "GHSA-9wx4-h78v-vm56  requests 2.31.0  fixed in 2.32.0  (CVE-2024-35195)" in done.stdout
    assert "FAIL: 1 known vulnerability not in the allow-list" in done.stdout


@pytest.mark.unit
def test_audit_passes_when_each_vulnerability_is_allowed_with_a_reason(tmp_path):
    allow = """\
        # id  package  reason
        GHSA-9wx4-h78v-vm56  requests  we never pass verify=False to a session
        PYSEC-0000-1  oldpkg  no longer reported
    """
    done = _audit(tmp_path, VULNERABLE, allow, FAKE_EXIT="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "allowed: GHSA-9wx4-h78v-vm56  requests 2.31.0  (we never pass verify=False to a session)" in done.stdout
    assert "allow-list entry no longer reported: PYSEC-0000-1 oldpkg" in done.stdout
    reasonless = _audit(tmp_path, VULNERABLE, "GHSA-9wx4-h78v-vm56  requests\n", FAKE_EXIT="1")
    assert reasonless.returncode == 3 and "needs: ID PACKAGE REASON" in reasonless.stdout + reasonless.stderr


@pytest.mark.unit
def test_audit_fails_when_packages_could_not_be_audited(tmp_path):
    report = {"dependencies": [{"name": "agate", "skip_reason": "Dependency not found on PyPI and could not be audited: agate (1.9.1)"},
                               {"name": "jinja2", "version": "3.1.6", "vulns": []}], "fixes": []}
    done = _audit(tmp_path, report)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "1 of 2 pinned packages could not be audited" in done.stdout and "agate" in done.stdout
    assert _audit(tmp_path, report, AUDIT_ALLOW_UNAUDITED="1").returncode == 0


def _skipped(name: str, version: str) -> dict:
    """How pip-audit reports a pin its vulnerability service did not answer for (PyPI's per-version JSON 404)."""
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})"}


def _project(latest: str, *vulns: dict) -> dict:
    return {"info": {"name": "x", "version": latest}, "releases": {}, "urls": [], "vulnerabilities": list(vulns)}


@pytest.mark.unit
def test_audit_falls_back_to_the_project_json_for_pins_at_the_latest_release(tmp_path):
    # Fake names (not in constraints.txt), so the pinned version comes from pip-audit's skip reason.
    report = {"dependencies": [
        {"name": "jinja2", "version": "3.1.6", "vulns": []},
        _skipped("fake-vulnerable", "1.0.0"), _skipped("fake-clean", "2.0.0"),
        _skipped("fake-behind", "1.0.0"), _skipped("fake-gone", "0.1"),
    ], "fixes": []}
    projects = {
        "fake-vulnerable": _project(
            "1.0.0",
            {"id": "GHSA-fake-0001-aaaa", "aliases": ["CVE-2099-0001"], "fixed_in": ["1.0.1"], "withdrawn": None,
             "details": "", "link": "", "source": "osv", "summary": None},
            {"id": "GHSA-fake-0002-wdrn", "aliases": [], "fixed_in": [], "withdrawn": "2025-01-01T00:00:00Z",
             "details": "", "link": "", "source": "osv", "summary": None}),
        "fake-clean": _project("2.0.0"),
        "fake-behind": _project("3.0.0", {"id": "GHSA-fake-0003-late", "aliases": [], "fixed_in": ["3.0.1"],
                                          "withdrawn": None}),
    }
    with _pypi_project_json(projects) as url:
        done = _audit(tmp_path, report, AUDIT_PYPI_JSON_URL=url)
        assert done.returncode == 1, done.stdout + done.stderr
        assert ("VULNERABLE: GHSA-fake-0001-aaaa  fake-vulnerable 1.0.0  fixed in 1.0.1  (CVE-2099-0001)  "
                "[pypi project json]") in done.stdout
        assert "GHSA-fake-0002" not in done.stdout  # withdrawn
        assert "GHSA-fake-0003" not in done.stdout  # applies to 3.0.0, not to the pinned 1.0.0
        assert ("5 pinned packages: 1 audited by pip-audit, 2 by PyPI's project JSON (pin = latest release), "
                "2 unaudited") in done.stdout
        assert "\n  fake-behind 1.0.0 3.0.0\n" in done.stdout
        assert "\n  fake-gone 0.1 ?  (project JSON: HTTP 404)\n" in done.stdout
        assert "1 known vulnerability in 3 audited pins, 0 allowed" in done.stdout
        assert "FAIL: 1 known vulnerability not in the allow-list" in done.stdout

        allow = "GHSA-fake-0001-aaaa  fake-vulnerable  only its CLI is affected\n"
        allowed = _audit(tmp_path, report, allow, AUDIT_PYPI_JSON_URL=url)
        assert allowed.returncode == 2, allowed.stdout + allowed.stderr  # still incomplete: fake-behind, fake-gone
        assert "allowed: GHSA-fake-0001-aaaa  fake-vulnerable 1.0.0  (only its CLI is affected)" in allowed.stdout
        assert "2 of 5 pinned packages could not be audited" in allowed.stdout
        assert "FAIL: incomplete audit" in allowed.stdout

        partial = _audit(tmp_path, report, allow, AUDIT_PYPI_JSON_URL=url, AUDIT_ALLOW_UNAUDITED="1")
        assert partial.returncode == 0, partial.stdout + partial.stderr
        assert "\n  fake-behind 1.0.0 3.0.0\n" in partial.stdout and "audit: OK (partial: 2 pins unaudited" in partial.stdout

        clean = _audit(tmp_path, {"dependencies": [_skipped("fake-clean", "2.0.0")], "fixes": []},
                       AUDIT_PYPI_JSON_URL=url)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "1 pinned packages: 0 audited by pip-audit, 1 by PyPI's project JSON" in clean.stdout
        assert "0 known vulnerabilities in 1 audited pins" in clean.stdout and "audit: OK\n" in clean.stdout
