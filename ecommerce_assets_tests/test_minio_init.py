"""docker/minio-init.sh, the one-shot `minio-init` service, run with the environment compose gives it."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from ecommerce_assets_tests.compose_support import MINIO_INIT, ROOT, compose_config
from ecommerce_assets_tests.services import free_port, moto_server


@pytest.fixture(scope="module")
def environment():
    return compose_config()["services"]["minio-init"]["environment"]


def run_minio_init(environment, endpoint, **extra):
    base = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}
    environment = base | environment | {"ECOMMERCE_S3_ENDPOINT_URL": endpoint} | extra
    return subprocess.run(["sh", str(MINIO_INIT)], env=environment, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.stack
def test_minio_init_creates_the_lake_bucket_once(environment):
    bucket = environment["ECOMMERCE_LAKE"].removeprefix("s3://").split("/")[0]
    with moto_server() as endpoint:
        # moto's in-process servers share one store: an earlier module in this worker may have left the bucket.
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        first = run_minio_init(environment, endpoint)
        assert first.returncode == 0, first.stderr
        assert f"created s3://{bucket}" in first.stdout
        second = run_minio_init(environment, endpoint)
        assert second.returncode == 0 and "already exists" in second.stdout, second.stderr
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
        assert bucket in [entry["Name"] for entry in client.list_buckets()["Buckets"]]


@pytest.mark.integration
def test_minio_init_gives_up_on_an_endpoint_that_never_answers(environment):
    result = run_minio_init(environment, f"http://127.0.0.1:{free_port()}", LAKE_INIT_TIMEOUT_SECONDS="2")
    assert result.returncode != 0
    assert "minio-init: could not make sure s3://" in result.stderr
