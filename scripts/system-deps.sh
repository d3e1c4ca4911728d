#!/usr/bin/env bash
# What the test suite needs beyond Python: Java 17 (Spark), Chromium (the dashboard and UI tests look at
# pages with it) and PostgreSQL (the production-shape stack test runs Dagster on it; initdb/pg_ctl, started
# by the test). Installed with apt-get where that is possible (root, or sudo without a password);
# otherwise this names what to install and stops, before any test starts.
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "system-deps: the test suite needs ${need[*]}, and this user cannot install them here." >&2
  echo "system-deps: on Debian/Ubuntu run: sudo apt-get install -y ${need[*]} (elsewhere: Java 17, Chromium, PostgreSQL)" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]} with apt-get"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${need[@]}"
