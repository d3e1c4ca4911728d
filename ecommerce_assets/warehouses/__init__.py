"""The warehouse resource of the selected kind.

``duckdb`` (embedded default) is plain code in ``ecommerce_assets.lib.warehouses``; ``snowflake`` is a
Dagster resource here (dagster-snowflake, secrets as ``dg.EnvVar``). Only the selected kind's module is
imported (:func:`build_warehouse`), so a code location on DuckDB never loads the Snowflake client. A new
kind is one module with a ``build(settings)`` function, listed in ``KINDS`` and ``settings.WAREHOUSE_KINDS``.
"""

from __future__ import annotations

import importlib

from ecommerce_assets.lib.settings import Settings
from ecommerce_assets.lib.warehouses import Warehouse

KINDS = {"duckdb": "ecommerce_assets.lib.warehouses.duckdb", "snowflake": "ecommerce_assets.warehouses.snowflake"}


def build_warehouse(settings: Settings) -> Warehouse:
    """The selected kind's warehouse; its module (and its client library) is imported here, not before."""
    return importlib.import_module(KINDS[settings.warehouse]).build(settings)


__all__ = ["KINDS", "build_warehouse"]
