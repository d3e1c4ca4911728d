"""The production shape without Docker (``stack_support``): PostgreSQL, an S3 lake on moto, a Spark standalone
cluster, the gRPC code server, the webserver and the daemon on the deployment's dagster.yaml. A two-week
backfill submitted through GraphQL is queued by the daemon, runs on the cluster, and leaves rows in the
warehouse and manifests in the lake; then everything is stopped.
"""

import json

import duckdb
import pytest
from sqlalchemy import create_engine, text

from ecommerce_assets_tests.services import WEEKLY_KEYS, run_backfill
from ecommerce_assets_tests.stack_support import BUCKET, production_stack

pytestmark = pytest.mark.stack

WEEKS = ["2019-10-07", "2019-10-14"]


def test_backfill_on_the_native_production_stack(tmp_path):
    with production_stack(tmp_path) as stack:
        runs = run_backfill(stack.graphql_url, WEEKLY_KEYS, WEEKS)
        assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", runs

        # Run history is in PostgreSQL, not in DAGSTER_HOME's files.
        engine = create_engine(stack.postgres_url)
        with engine.connect() as connection:
            stored = connection.execute(text("select status from runs where run_id = :id"), {"id": runs[0]["runId"]}).scalar()
        engine.dispose()
        assert stored == "SUCCESS"
        assert not list(stack.home.glob("history")) and not list(stack.home.rglob("*.db"))

        s3 = stack.s3()
        manifests = {
            week: json.loads(s3.get_object(Bucket=BUCKET, Key=f"lake/clean/events/week={week}/_manifest.json")["Body"].read())
            for week in WEEKS
        }
    # The executors ran on the worker, not in the run's driver.
    assert list((tmp_path / "spark" / "worker").glob("app-*"))
    with duckdb.connect(str(stack.data / "warehouse.duckdb"), read_only=True) as con:
        facts = dict(con.execute("select event_week::varchar, count(*) from core.fct_events group by 1").fetchall())
    assert facts == {week: manifests[week]["clean_rows"] for week in WEEKS} and min(facts.values()) > 0
