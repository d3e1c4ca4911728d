"""Every environment variable the project reads, typed, with its default, in one place.

Nothing else in the package reads ``os.environ``: resources, partitions and the CLI take a
:class:`Settings`. An invalid value fails when the code location loads, naming the variable and what
it accepts, instead of surfacing later as an obscure error inside a run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WAREHOUSE_KINDS = ("duckdb",)
_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/]+:\d+|k8s://\S+|yarn)$")
_MEMORY = re.compile(r"^\d+[mMgG]$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    lake: Path
    warehouse: str
    duckdb_path: Path
    spark_master: str
    spark_driver_memory: str
    spark_shuffle_partitions: int
    first_week: dt.date
    last_week: dt.date
    first_month: dt.date
    last_month: dt.date
    dbt_target: str
    replay_interval_seconds: int
    reports_dir: Path

    @property
    def weeks_end(self) -> dt.date:
        """Exclusive end of the last weekly partition."""
        return self.last_week + dt.timedelta(days=7)

    @property
    def months_end(self) -> dt.date:
        """Exclusive end of the last monthly source partition (first day of the next month)."""
        return _add_month(self.last_month)


# (variable, default, description) for the README table and `ecommerce settings`.
VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("ECOMMERCE_DATA_DIR", "./data", "Root for everything the embedded default writes."),
    ("ECOMMERCE_LAKE", "$ECOMMERCE_DATA_DIR/lake", "Lake root: landing/, raw/, clean/, quarantine/."),
    ("ECOMMERCE_WAREHOUSE", "duckdb", f"Warehouse kind; accepted: {', '.join(WAREHOUSE_KINDS)}."),
    ("ECOMMERCE_DUCKDB_PATH", "$ECOMMERCE_DATA_DIR/warehouse.duckdb", "DuckDB file (warehouse=duckdb)."),
    ("SPARK_MASTER", "local[*]", "Spark master: local[N], spark://host:port, k8s://..., yarn."),
    ("ECOMMERCE_SPARK_DRIVER_MEMORY", "4g", "Spark driver heap, e.g. 4g or 2048m."),
    ("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", "8", "spark.sql.shuffle.partitions (positive integer)."),
    ("ECOMMERCE_FIRST_WEEK", "2019-09-30", "First weekly partition (a Monday)."),
    ("ECOMMERCE_LAST_WEEK", "2020-04-27", "Last weekly partition (a Monday); move it forward for live data."),
    ("ECOMMERCE_FIRST_MONTH", "2019-10", "First monthly source file expected in landing (YYYY-MM)."),
    ("ECOMMERCE_LAST_MONTH", "2020-04", "Last monthly source file expected in landing (YYYY-MM)."),
    ("ECOMMERCE_DBT_TARGET", "duckdb", "dbt target in ecommerce_dbt/profiles.yml."),
    ("ECOMMERCE_REPORTS_DIR", "$ECOMMERCE_DATA_DIR/reports", "Where the dashboard (dashboard.html) is written."),
    ("ECOMMERCE_REPLAY_INTERVAL_SECONDS", "60", "Seconds between two weeks of the history replay sensor."),
)


def _add_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _monday(name: str, value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a date YYYY-MM-DD that is a Monday") from None
    if day.weekday() != 0:
        raise SettingsError(f"{name}={value!r}: {day:%A}; weekly partitions start on a Monday")
    return day


def _month(name: str, value: str) -> dt.date:
    if not _MONTH.match(value):
        raise SettingsError(f"{name}={value!r}: expected a month YYYY-MM")
    try:
        return dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a month YYYY-MM") from None


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate the environment. Relative paths resolve against ``cwd`` (default: the process cwd)."""
    env = os.environ if env is None else env
    base = Path.cwd() if cwd is None else cwd

    def get(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value or default

    def path(name: str, default: str) -> Path:
        return (base / get(name, default)).resolve()

    data_dir = path("ECOMMERCE_DATA_DIR", "data")
    lake_value = get("ECOMMERCE_LAKE", str(data_dir / "lake"))
    if "://" in lake_value:
        raise SettingsError(
            f"ECOMMERCE_LAKE={lake_value!r}: only a local folder is accepted in this version"
        )
    warehouse = get("ECOMMERCE_WAREHOUSE", "duckdb").lower()
    if warehouse not in WAREHOUSE_KINDS:
        raise SettingsError(
            f"ECOMMERCE_WAREHOUSE={warehouse!r}: accepted values are {', '.join(WAREHOUSE_KINDS)}"
        )
    spark_master = get("SPARK_MASTER", "local[*]")
    if not _SPARK_MASTER.match(spark_master):
        raise SettingsError(
            f"SPARK_MASTER={spark_master!r}: accepted forms are local, local[N], local[*], "
            "spark://host:port, k8s://..., yarn"
        )
    memory = get("ECOMMERCE_SPARK_DRIVER_MEMORY", "4g")
    if not _MEMORY.match(memory):
        raise SettingsError(f"ECOMMERCE_SPARK_DRIVER_MEMORY={memory!r}: expected e.g. 4g or 2048m")
    shuffle = get("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", "8")
    if not shuffle.isdigit() or int(shuffle) < 1:
        raise SettingsError(f"ECOMMERCE_SPARK_SHUFFLE_PARTITIONS={shuffle!r}: expected a positive integer")

    first_week = _monday("ECOMMERCE_FIRST_WEEK", get("ECOMMERCE_FIRST_WEEK", "2019-09-30"))
    last_week = _monday("ECOMMERCE_LAST_WEEK", get("ECOMMERCE_LAST_WEEK", "2020-04-27"))
    if last_week < first_week:
        raise SettingsError(
            f"ECOMMERCE_LAST_WEEK={last_week} is before ECOMMERCE_FIRST_WEEK={first_week}"
        )
    first_month = _month("ECOMMERCE_FIRST_MONTH", get("ECOMMERCE_FIRST_MONTH", "2019-10"))
    last_month = _month("ECOMMERCE_LAST_MONTH", get("ECOMMERCE_LAST_MONTH", "2020-04"))
    if last_month < first_month:
        raise SettingsError(
            f"ECOMMERCE_LAST_MONTH={last_month:%Y-%m} is before ECOMMERCE_FIRST_MONTH={first_month:%Y-%m}"
        )

    interval = get("ECOMMERCE_REPLAY_INTERVAL_SECONDS", "60")
    if not interval.isdigit() or int(interval) < 5:
        raise SettingsError(f"ECOMMERCE_REPLAY_INTERVAL_SECONDS={interval!r}: expected whole seconds, at least 5")

    return Settings(
        data_dir=data_dir,
        lake=(base / lake_value).resolve(),
        warehouse=warehouse,
        duckdb_path=path("ECOMMERCE_DUCKDB_PATH", str(data_dir / "warehouse.duckdb")),
        spark_master=spark_master,
        spark_driver_memory=memory,
        spark_shuffle_partitions=int(shuffle),
        first_week=first_week,
        last_week=last_week,
        first_month=first_month,
        last_month=last_month,
        dbt_target=get("ECOMMERCE_DBT_TARGET", "duckdb"),
        replay_interval_seconds=int(interval),
        reports_dir=path("ECOMMERCE_REPORTS_DIR", str(data_dir / "reports")),
    )
