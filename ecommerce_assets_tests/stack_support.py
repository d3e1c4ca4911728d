"""The production shape without Docker, for the stack tests: the services of docker-compose.yaml run natively
on 127.0.0.1 and are stopped at the end.

PostgreSQL (initdb) holds Dagster's storage, an S3 endpoint (moto) the lake, a Spark standalone master and
worker run the clean, and the code location (a gRPC server), the webserver and the daemon run on the
deployment's dagster.yaml and the compose workspace (pointed at 127.0.0.1). The Dagster processes can be
killed and started again (``kill``, ``start``), PostgreSQL restarted (``postgres.restart``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml

from ecommerce_assets.lib.generator.synthetic import generate, parse_months
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.services import (
    graphql,
    BIN,
    PostgresCluster,
    free_port,
    http_ok,
    moto_server,
    port_open,
    postgres_cluster,
    spark_standalone,
    stop_group,
    wait_until,
)

BUCKET = "ecommerce-lake"
LOCATION, REPOSITORY = "ecommerce_assets", "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class ProductionStack:
    root: Path  # the test's folder: dagster_home, data, logs, spark, workspace.yaml
    env: dict[str, str]  # the environment every Dagster process gets
    postgres: PostgresCluster
    endpoint: str  # S3 (moto)
    master: str  # spark://
    grpc_port: int
    web_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/graphql"

    @property
    def postgres_url(self) -> str:
        return f"postgresql+psycopg2://dagster:{self.env['DAGSTER_PG_PASSWORD']}@127.0.0.1:{self.postgres.port}/dagster"

    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def command(self, name: str) -> list[str]:
        workspace = str(self.root / "workspace.yaml")
        return {
            "code-server": [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(self.grpc_port),
                            "-m", "ecommerce_assets.definitions"],
            "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port), "-w", workspace],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
        }[name]

    def start(self, name: str) -> subprocess.Popen:
        """Start one Dagster process in its own group and wait until it serves."""
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(self.command(name), stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    cwd=ROOT if name == "code-server" else self.root, start_new_session=True)
        self.processes[name] = proc
        if name == "code-server":
            wait_until(lambda: port_open(self.grpc_port), name, 240, proc, log)
        elif name == "webserver":
            wait_until(lambda: http_ok(f"http://127.0.0.1:{self.web_port}/server_info"), name, 240, proc, log)
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one Dagster process group (SIGKILL: as a crash would; the runs it launched are in the group)."""
        proc = self.processes.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)

    def stop(self) -> None:
        for name in ("daemon", "webserver", "code-server"):
            if name in self.processes:
                stop_group(self.processes.pop(name))


@contextmanager
def production_stack(root: Path, extra_env: dict[str, str] | None = None, months: str = "2019-10",
                     scale: float = 0.0001, seed: int = 23,
                     s3_front: Callable[[str], str] | None = None,
                     pg_password: str = "dagster") -> Iterator[ProductionStack]:
    """Every service up, the generated month(s) landed in the S3 lake; all of it stopped on exit.

    ``s3_front`` maps the S3 endpoint (moto) to the one the Dagster processes are given, e.g. a
    fault-injecting proxy in front of it; the test's own client (``s3()``) still talks to moto.
    ``pg_password`` is the PostgreSQL user's password (a distinctive one for a test that looks for it)."""
    for folder in ("dagster_home", "logs"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "dagster.production.yaml", root / "dagster_home" / "dagster.yaml")
    with ExitStack() as stack:
        pg = stack.enter_context(postgres_cluster(password=pg_password))
        endpoint = stack.enter_context(moto_server())
        master = stack.enter_context(spark_standalone(root / "spark", cores=1, memory="1g"))
        grpc_port, web_port = free_port(), free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ECOMMERCE_", "SPARK_", "AWS_", "DAGSTER_"))},
            "DAGSTER_HOME": str(root / "dagster_home"), "DAGSTER_TELEMETRY_DISABLED": "1",
            "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": pg_password, "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port), "DAGSTER_PG_DB": "dagster",
            "ECOMMERCE_DATA_DIR": str(root / "data"), "ECOMMERCE_LAKE": f"s3://{BUCKET}/lake",
            "ECOMMERCE_S3_ENDPOINT_URL": s3_front(endpoint) if s3_front else endpoint, "AWS_ACCESS_KEY_ID": "stack", "AWS_SECRET_ACCESS_KEY": "stack",
            "AWS_REGION": "us-east-1", "SPARK_MASTER": master, "SPARK_LOCAL_IP": "127.0.0.1",
            "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g", "ECOMMERCE_SPARK_EXECUTOR_MEMORY": "768m",
            "ECOMMERCE_SPARK_CORES_MAX": "1", "ECOMMERCE_WEBSERVER_URL": f"http://127.0.0.1:{web_port}",
            **(extra_env or {}),
        }
        stack_ = ProductionStack(root, env, pg, endpoint, master, grpc_port, web_port)
        s3 = stack_.s3()
        s3.create_bucket(Bucket=BUCKET)
        for path in generate(root / "landing", scale, parse_months(months), seed=seed):
            s3.upload_file(str(path), BUCKET, f"lake/landing/{path.name}")
        workspace = yaml.safe_load((ROOT / "config" / "workspace.compose.yaml").read_text())
        workspace["load_from"][0]["grpc_server"] |= {"host": "127.0.0.1", "port": stack_.grpc_port}
        (root / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        stack.callback(stack_.stop)
        for name in ("code-server", "webserver", "daemon"):
            stack_.start(name)
        yield stack_


# -- GraphQL: runs and sensors of the stack ------------------------------------------------------------

RUNS = """
query Runs {
  runsOrError {
    ... on Runs { results { runId jobName status creationTime startTime endTime runConfigYaml tags { key value } } }
  }
}
"""
SENSOR = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { id status ticks(limit: 20) { status timestamp runIds runKeys skipReason error { message } } } }
  }
}
"""
STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}
"""


def sensor_selector(name: str) -> dict:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


def stop_sensor(stack: ProductionStack, name: str) -> None:
    """Switch a sensor off, as its toggle in the UI does."""
    sensor = graphql(stack.graphql_url, SENSOR, {"selector": sensor_selector(name)})
    stopped = graphql(stack.graphql_url, STOP_SENSOR, {"id": sensor["sensorOrError"]["sensorState"]["id"]})
    assert stopped["stopSensor"]["__typename"] == "StopSensorMutationResult", stopped


def all_runs(stack: ProductionStack) -> list[dict]:
    runs = graphql(stack.graphql_url, RUNS, {})["runsOrError"]["results"]
    for run in runs:
        run["tags"] = {tag["key"]: tag["value"] for tag in run["tags"]}
    return runs


def wait_for(condition, what: str, timeout: float, poll: float = 3):
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what} not reached after {timeout} s: {last!r}")
