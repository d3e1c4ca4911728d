"""The warehouses raw.events is loaded into and dbt builds in, one module per kind.

``base`` holds what every kind shares; ``duckdb`` (embedded default) and ``snowflake`` are imported only
when selected (:func:`build_warehouse`), so a code location on DuckDB never loads the Snowflake client.
A new kind is one module here, named as its ``ECOMMERCE_WAREHOUSE`` value, with a ``build(settings)``
function, and its name in ``settings.WAREHOUSE_KINDS``.
"""

from __future__ import annotations

import importlib

from ecommerce_assets.lib.settings import Settings
from ecommerce_assets.warehouses.base import Warehouse, WeeksLoaded


def build_warehouse(settings: Settings) -> Warehouse:
    """The selected kind's resource; its module (and its client library) is imported here, not before."""
    return importlib.import_module(f"{__name__}.{settings.warehouse}").build(settings)


__all__ = ["Warehouse", "WeeksLoaded", "build_warehouse"]
