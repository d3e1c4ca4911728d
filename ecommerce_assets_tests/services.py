"""Real servers for tests, each on 127.0.0.1 and stopped at the end: a Snowflake emulator (fakesnow),
an S3 endpoint (moto), a Spark standalone master and worker, PostgreSQL, and a process group helper."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


# Ports handed out by free_port: below the kernel's ephemeral range (32768 and up), in a block of this test
# process's own. With command B's two workers, a port one worker picked and has not bound yet can otherwise
# be the other's next pick, whose server then fails to bind and its test talks to the first one's.
_PORTS_FROM, _PORTS_TO = 20000, 32000
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_block = (_PORTS_TO - _PORTS_FROM) // max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
_next_port = _PORTS_FROM + _worker * _block + (os.getpid() % _block)  # a fresh start each session


def free_port() -> int:
    """A port free on 127.0.0.1 now, never handed out before by this process."""
    global _next_port
    first = _PORTS_FROM + _worker * _block
    for _ in range(_block):
        port, _next_port = _next_port, first + (_next_port + 1 - first) % _block
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + _block - 1}")


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 120, process: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    deadline = time.time() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): {_tail(log)}")
        if time.time() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout} s: {_tail(log)}")
        time.sleep(0.5)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.ConnectionError:
        return False


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """A server in its own process group; the whole group is stopped on exit (TERM, then KILL)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, timeout: float = 60) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def fakesnow_server(log: Path) -> Iterator[int]:
    port = free_port()
    with process([str(BIN / "fakesnow"), "-s", "--host", "127.0.0.1", "-p", str(port)], log) as proc:
        wait_until(lambda: port_open(port), "fakesnow", 60, proc, log)
        yield port


@contextmanager
def moto_server() -> Iterator[str]:
    """An S3 endpoint URL (moto's server, in this process). Every such server of a process shares one store:
    a test that needs an empty endpoint resets it (POST /moto-api/reset), with no other server in use."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@contextmanager
def spark_standalone(work: Path, cores: int = 1, memory: str = "1g") -> Iterator[str]:
    """A Spark standalone master and one worker from pyspark's own jars; yields the master URL."""
    work.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "PYSPARK_PYTHON": sys.executable}
    port, ui, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    with process([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                  "--webui-port", str(ui)], work / "master.log", env) as master:
        wait_until(lambda: port_open(port), "spark master", 120, master, work / "master.log")
        with process([spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(cores),
                      "--memory", memory, "--webui-port", str(worker_ui), "--work-dir", str(work / "worker"), master_url],
                     work / "worker.log", env) as worker:
            wait_until(lambda: "Successfully registered with master" in (work / "worker.log").read_text(errors="replace"),
                       "spark worker", 120, worker, work / "worker.log")
            yield master_url


@contextmanager
def spark_worker(master_url: str, work: Path, cores: int = 1, memory: str = "1g") -> Iterator[subprocess.Popen]:
    """One more Spark standalone worker for ``master_url`` (another machine of the cluster), in its own process
    group with the executors it launches; yields its process once it has registered."""
    work.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "PYSPARK_PYTHON": sys.executable}
    log = work / "worker.log"
    with process([str(home / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                  "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port()),
                  "--work-dir", str(work / "worker"), master_url], log, env) as worker:
        wait_until(lambda: "Successfully registered with master" in log.read_text(errors="replace"),
                   "spark worker", 120, worker, log)
        yield worker


def postgres_bin() -> Path:
    """Where initdb and pg_ctl are (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries (initdb) not found: apt-get install postgresql")
    return versions[-1].parent


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1; ``restart`` stops it (immediate, as a crash would) and
    starts it again on the same port and data."""

    def __init__(self, folder: Path, port: int, run_as: str | None) -> None:
        self.folder, self.port, self.run_as = folder, port, run_as
        self.data, self.log = folder / "pgdata", folder / "postgres.log"

    def start(self) -> None:
        _pg(self.run_as, [str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                          f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off", "start"])

    def stop(self, check: bool = True) -> None:
        _pg(self.run_as, [str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            check=check)

    def restart(self, down_seconds: float = 0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@contextmanager
def postgres_cluster(user: str = "dagster", password: str = "dagster", database: str = "dagster") -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster in its own folder (pytest's tmp_path is private to root, and PostgreSQL will not
    run as root), with ``database`` created."""
    pg = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="ecommerce-pg-"))
    folder.chmod(0o755)
    secret = folder / "pwfile"
    secret.write_text(password)
    run_as = _unprivileged()
    if run_as:
        import pwd

        uid = pwd.getpwnam(run_as).pw_uid
        shutil.chown(folder, uid)
        shutil.chown(secret, uid)
    cluster = PostgresCluster(folder, free_port(), run_as)
    _pg(run_as, [str(pg / "initdb"), "-D", str(cluster.data), "-U", user, "--pwfile", str(secret),
                 "-A", "scram-sha-256", "--no-sync"])
    cluster.start()
    try:
        env = {**os.environ, "PGPASSWORD": password}
        subprocess.run([str(pg / "createdb") if (pg / "createdb").exists() else "createdb", "-h", "127.0.0.1",
                        "-p", str(cluster.port), "-U", user, database], check=True, env=env, capture_output=True)
        yield cluster
    finally:
        cluster.stop(check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres(user: str = "dagster", password: str = "dagster", database: str = "dagster") -> Iterator[int]:
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields its port."""
    with postgres_cluster(user, password, database) as cluster:
        yield cluster.port


def _unprivileged() -> str | None:
    """PostgreSQL refuses to run as root: use the postgres user when the tests run as root."""
    return "postgres" if os.geteuid() == 0 else None


def _pg(run_as: str | None, args: list[str], check: bool = True) -> None:
    command = ["runuser", "-u", run_as, "--", *args] if run_as else args
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


# -- Dagster's GraphQL API: launch a partition backfill and wait for its runs -------------------------------


def weekly_keys() -> list[list[str]]:
    """Every weekly asset (the weekly_events_job's selection, dbt seed and weekly parts included), as a
    backfill through GraphQL names them."""
    from ecommerce_assets.definitions import defs
    from ecommerce_assets.defs.jobs import WEEKLY_ASSETS

    return sorted(key.path for key in WEEKLY_ASSETS.resolve(defs.resolve_asset_graph()))


WEEKLY_KEYS = weekly_keys()
LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""
STATUS = """
query Status($id: String!, $tag: String!) {
  partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $tag}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def graphql(url: str, query: str, variables: dict) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]
