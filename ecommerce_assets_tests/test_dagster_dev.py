"""A real `dagster dev` (webserver and daemon) on 127.0.0.1: a two-week backfill submitted through the
GraphQL API runs to success; then everything is stopped."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import requests

from ecommerce_assets_tests.conftest import ROOT

BIN = Path(sys.executable).parent
WEEKLY_KEYS = [
    ["raw_events"], ["clean_events"], ["rejected_events"], ["warehouse_events"], ["staging", "stg_events"],
    ["core", "fct_events"], ["core", "fct_sessions"], ["core", "fct_daily_user_activity"],
]
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_backfill_of_two_weeks_through_graphql(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECOMMERCE_")},
        "DAGSTER_HOME": str(home),
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"),
        "SPARK_MASTER": "local[2]",
        "ECOMMERCE_SPARK_DRIVER_MEMORY": "1g",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run([str(BIN / "ecommerce"), "generate", "--scale", "0.0001", "--months", "2019-10"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    log = open(tmp_path / "dagster-dev.log", "w")
    server = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "ecommerce_assets.definitions"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.time() + 240
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.time() < deadline, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            time.sleep(2)
        launched = _graphql(url, LAUNCH, {"params": {
            "assetSelection": [{"path": key} for key in WEEKLY_KEYS],
            "partitionNames": ["2019-10-07", "2019-10-14"],
            "title": "test backfill",
        }})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = launched["backfillId"]

        deadline = time.time() + 600
        while True:
            data = _graphql(url, STATUS, {"id": backfill, "tag": backfill})
            status = data["partitionBackfillOrError"]["status"]
            runs = data["runsOrError"]["results"]
            if status not in ("REQUESTED", "CANCELING") and runs and all(
                r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs
            ):
                break
            assert time.time() < deadline, (status, runs)
            time.sleep(3)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, runs)
        assert len(runs) == 1 and runs[0]["status"] == "SUCCESS"  # single-run backfill: one run for both weeks
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        weeks = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    assert set(weeks) == {"2019-10-07", "2019-10-14"} and min(weeks.values()) > 0
