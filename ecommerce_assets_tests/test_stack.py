"""The production shape without Docker: the services of docker-compose.yaml run natively on 127.0.0.1.

PostgreSQL (initdb), an S3 endpoint (moto) holding the lake, a Spark standalone master and worker, the
code location as a gRPC server, the webserver and the daemon on the deployment's dagster.yaml and the
compose workspace (pointed at 127.0.0.1). A two-week backfill submitted through GraphQL is queued by the
daemon, runs on the cluster, and leaves rows in the warehouse and manifests in the lake; then everything
is stopped.
"""

import json
import os
import shutil

import boto3
import duckdb
import pytest
import yaml
from sqlalchemy import create_engine, text

from ecommerce_assets.generator.synthetic import generate, parse_months
from ecommerce_assets_tests.conftest import ROOT
from ecommerce_assets_tests.services import (
    BIN,
    WEEKLY_KEYS,
    free_port,
    http_ok,
    moto_server,
    port_open,
    postgres,
    process,
    run_backfill,
    spark_standalone,
    wait_until,
)

pytestmark = pytest.mark.stack

BUCKET = "ecommerce-lake"
WEEKS = ["2019-10-07", "2019-10-14"]


def _workspace(path, port: int) -> None:
    """The compose workspace, with the code server's address as this test runs it."""
    workspace = yaml.safe_load((ROOT / "config" / "workspace.compose.yaml").read_text())
    workspace["load_from"][0]["grpc_server"] |= {"host": "127.0.0.1", "port": port}
    path.write_text(yaml.safe_dump(workspace))


def test_backfill_on_the_native_production_stack(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.production.yaml", home / "dagster.yaml")
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    with postgres() as pg_port, moto_server() as endpoint, spark_standalone(tmp_path / "spark", cores=1, memory="1g") as master:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="stack", aws_secret_access_key="stack")
        s3.create_bucket(Bucket=BUCKET)
        for path in generate(tmp_path / "landing", 0.0001, parse_months("2019-10"), seed=23):
            s3.upload_file(str(path), BUCKET, f"lake/landing/{path.name}")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ECOMMERCE_", "SPARK_", "AWS_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home), "DAGSTER_TELEMETRY_DISABLED": "1",
            "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "dagster", "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg_port), "DAGSTER_PG_DB": "dagster",
            "ECOMMERCE_DATA_DIR": str(data), "ECOMMERCE_LAKE": f"s3://{BUCKET}/lake",
            "ECOMMERCE_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "stack", "AWS_SECRET_ACCESS_KEY": "stack",
            "AWS_REGION": "us-east-1", "SPARK_MASTER": master, "SPARK_LOCAL_IP": "127.0.0.1",
            "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g", "ECOMMERCE_SPARK_EXECUTOR_MEMORY": "768m",
            "ECOMMERCE_SPARK_CORES_MAX": "1",
        }
        grpc_port, web_port = free_port(), free_port()
        workspace = tmp_path / "workspace.yaml"
        _workspace(workspace, grpc_port)
        with process([str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(grpc_port),
                      "-m", "ecommerce_assets.definitions"], logs / "code-server.log", env, ROOT) as code_server:
            wait_until(lambda: port_open(grpc_port), "code server", 240, code_server, logs / "code-server.log")
            with process([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", str(workspace)],
                         logs / "webserver.log", env, tmp_path) as webserver, \
                 process([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], logs / "daemon.log", env, tmp_path):
                wait_until(lambda: http_ok(f"http://127.0.0.1:{web_port}/server_info"), "webserver", 240, webserver,
                           logs / "webserver.log")
                runs = run_backfill(f"http://127.0.0.1:{web_port}/graphql", WEEKLY_KEYS, WEEKS)
        assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", runs

        # Run history is in PostgreSQL, not in DAGSTER_HOME's files.
        engine = create_engine(f"postgresql+psycopg2://dagster:dagster@127.0.0.1:{pg_port}/dagster")
        with engine.connect() as connection:
            stored = connection.execute(text("select status from runs where run_id = :id"), {"id": runs[0]["runId"]}).scalar()
        engine.dispose()
        assert stored == "SUCCESS"
        assert not list(home.glob("history")) and not list(home.rglob("*.db"))

        manifests = {
            week: json.loads(s3.get_object(Bucket=BUCKET, Key=f"lake/clean/events/week={week}/_manifest.json")["Body"].read())
            for week in WEEKS
        }
    # The executors ran on the worker, not in the run's driver.
    assert list((tmp_path / "spark" / "worker").glob("app-*"))
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        facts = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    assert facts == {week: manifests[week]["clean_rows"] for week in WEEKS} and min(facts.values()) > 0
