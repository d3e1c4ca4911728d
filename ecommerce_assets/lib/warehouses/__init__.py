"""The warehouse raw.events is loaded into and dbt builds in: ``base`` (what every kind shares, the
interface assets use) and ``duckdb``, the embedded default. The Snowflake kind is a Dagster resource
(its client is dagster-snowflake's), in ``ecommerce_assets.warehouses``."""

from ecommerce_assets.lib.warehouses.base import Warehouse, WeeksLoaded

__all__ = ["Warehouse", "WeeksLoaded"]
