"""What the forkserver imports once per run, so each step forks with it already loaded: the code
location, and the modules of the Dagster instance's storage (sqlite here, PostgreSQL when deployed),
which a step otherwise imports anew (seconds) before it starts."""

import os

from dagster import DagsterInstance

import ecommerce_assets.definitions  # noqa: F401

if os.environ.get("DAGSTER_HOME"):
    with DagsterInstance.get():  # opened for its imports only, and closed before any fork
        pass
