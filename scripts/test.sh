#!/usr/bin/env bash
# Command B: install what the suite needs (Java, Chromium, PostgreSQL: scripts/system-deps.sh), set up
# .venv (idempotent) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh
export SPARK_LOCAL_IP=127.0.0.1 DAGSTER_TELEMETRY_DISABLED=1
# Two workers, a module each (module-scoped services stay in one process), in the order conftest.py sets:
# most of a stack test's time is spent waiting on its services, so two share the 2-core machine well.
# Arguments come after, so `-n 0` (one process) or `-n 4` overrides.
exec .venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
