#!/usr/bin/env bash
# Create .venv with the pinned dependency set (constraints.txt) and build the dbt manifest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
command -v java >/dev/null || { echo "setup: Java 17+ is required by Spark (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# uv resolves and installs the ~150 pinned packages in seconds; pip is the fallback.
.venv/bin/python -m pip install -q --disable-pip-version-check uv || true
if [ -x .venv/bin/uv ]; then
  .venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt -e '.[dev]'
else
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
fi
# The manifest Dagster loads the dbt assets from; parsing needs no warehouse connection.
.venv/bin/dbt parse --quiet --project-dir ecommerce_dbt --profiles-dir ecommerce_dbt
# The local Dagster instance: telemetry off, one writer at a time in the DuckDB pool.
mkdir -p "${DAGSTER_HOME:-.dagster}"
[ -f "${DAGSTER_HOME:-.dagster}/dagster.yaml" ] || cp config/dagster.yaml "${DAGSTER_HOME:-.dagster}/dagster.yaml"
echo "setup: .venv ready ($(.venv/bin/python --version), dagster $(.venv/bin/python -c 'import dagster; print(dagster.__version__)'))"
