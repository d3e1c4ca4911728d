#!/usr/bin/env bash
# Command B: set up (idempotent) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SPARK_LOCAL_IP=127.0.0.1 DAGSTER_TELEMETRY_DISABLED=1
exec .venv/bin/python -m pytest "$@"
