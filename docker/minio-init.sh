#!/bin/sh
# One-shot `minio-init` service of docker-compose.yaml: make sure the lake's bucket exists before the code
# server starts. It runs in the project image and reads the code location's own settings (ECOMMERCE_LAKE,
# ECOMMERCE_S3_ENDPOINT_URL, AWS_*), so the bucket it creates is by construction the one the assets write to,
# on MinIO or on AWS S3 alike. An existing bucket is left as it is, so it can run on every `up`.
# LAKE_INIT_TIMEOUT_SECONDS (default 60) bounds the wait for the endpoint to answer.
set -eu
exec python - <<'PY'
import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from ecommerce_assets.lib.settings import SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as error:
    sys.exit(f"minio-init: {error}")
if not settings.lake_on_s3:
    print(f"minio-init: the lake is a local folder ({settings.lake_url}); no bucket to create")
    sys.exit(0)

bucket, prefix = settings.s3_bucket_prefix
where = settings.s3_endpoint_url or f"AWS S3 ({settings.aws_region})"
client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.aws_region)
deadline = time.monotonic() + int(os.environ.get("LAKE_INIT_TIMEOUT_SECONDS", "60"))


def exists() -> bool:
    try:
        client.head_bucket(Bucket=bucket)
        return True
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            return False
        if status == 403:
            sys.exit(f"minio-init: s3://{bucket} exists on {where} but these credentials may not use it (403)")
        raise


def unavailable(error: Exception) -> bool:
    """The endpoint is not up yet (connection refused, timeout, 5xx): worth waiting for. Anything else is final."""
    if isinstance(error, HTTPClientError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return False


while True:
    try:
        if exists():
            print(f"minio-init: s3://{bucket} already exists on {where}; lake root s3://{bucket}/{prefix}")
            break
        options = {}
        if settings.s3_endpoint_url is None and settings.aws_region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
        try:
            client.create_bucket(Bucket=bucket, **options)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        print(f"minio-init: created s3://{bucket} on {where}; lake root s3://{bucket}/{prefix}")
        break
    except (BotoCoreError, ClientError) as error:
        if not unavailable(error) or time.monotonic() > deadline:
            sys.exit(f"minio-init: could not make sure s3://{bucket} exists on {where}: {error}")
        print(f"minio-init: {where} not ready ({error.__class__.__name__}); retrying", flush=True)
        time.sleep(2)
PY
