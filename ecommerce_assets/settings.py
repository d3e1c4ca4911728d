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

WAREHOUSE_KINDS = ("duckdb", "snowflake")
SPARK_LAKE_ACCESS = ("stage", "s3a")
_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/]+:\d+|k8s://\S+|yarn)$")
_MEMORY = re.compile(r"^\d+[mMgG]$")
_DUCKDB_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$", re.IGNORECASE)
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(?P<prefix>[^\s]*?))?/?$")


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use."""


def _machine() -> tuple[int, int]:
    """Cores this process may run on and the machine's memory in GiB (what the defaults are sized from)."""
    cores = len(os.sched_getaffinity(0))
    gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30
    return cores, gib


def machine_defaults(cores: int, gib: int) -> dict[str, str]:
    """Spark and DuckDB sizes that fit a machine, so the whole weekly path stays within about a third of
    its memory (Spark's JVM and DuckDB never run in the same step): a driver heap of a fifth of the memory
    (1g..8g), four shuffle partitions per core (enough to spread a week, few enough to keep files
    large), DuckDB's buffer pool at a sixth (1GB..4GB) instead of its own 80%."""
    return {
        "ECOMMERCE_SPARK_DRIVER_MEMORY": f"{max(1, min(8, gib // 5))}g",
        "ECOMMERCE_SPARK_SHUFFLE_PARTITIONS": str(4 * max(1, cores)),
        "ECOMMERCE_DUCKDB_MEMORY_LIMIT": f"{max(1, min(4, gib // 6))}GB",
    }


@dataclass(frozen=True)
class SnowflakeSettings:
    """Where the Snowflake warehouse is. Secrets (password, private key passphrase) are not held here:
    resources read them from the environment at connect time, so they never reach logs or the UI."""

    account: str
    user: str
    database: str
    role: str | None
    warehouse: str | None
    auth: str  # "password" or "key_pair"
    private_key_path: str | None
    stage: str  # an external stage whose URL is the lake root: the load is COPY INTO from it
    emulator_host: str | None  # a local emulator over http (tests); never set in production
    emulator_port: int | None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    lake_url: str
    s3_endpoint_url: str | None
    aws_region: str
    staging_dir: Path
    warehouse: str
    duckdb_path: Path
    duckdb_memory_limit: str
    spark_master: str
    spark_driver_memory: str
    spark_shuffle_partitions: int
    spark_executor_memory: str | None
    spark_executor_cores: int | None
    spark_cores_max: int | None
    spark_lake_access: str
    first_week: dt.date
    last_week: dt.date
    first_month: dt.date
    last_month: dt.date
    dbt_target: str
    replay_interval_seconds: int
    run_retention_days: int
    reports_dir: Path
    snowflake: SnowflakeSettings | None = None

    @property
    def lake_on_s3(self) -> bool:
        return self.lake_url.startswith("s3://")

    @property
    def lake(self) -> Path:
        """The local lake folder (embedded default); a lake on S3 has none."""
        if self.lake_on_s3:
            raise SettingsError(f"ECOMMERCE_LAKE={self.lake_url!r} is on S3, not a local folder")
        return Path(self.lake_url)

    @property
    def s3_bucket_prefix(self) -> tuple[str, str]:
        match = _S3_URL.match(self.lake_url)
        assert match, self.lake_url
        return match["bucket"], (match["prefix"] or "").strip("/")

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
    ("ECOMMERCE_LAKE", "$ECOMMERCE_DATA_DIR/lake", "Lake root: a folder, or s3://bucket/prefix (landing/, raw/, clean/, quarantine/)."),
    ("ECOMMERCE_S3_ENDPOINT_URL", "", "S3 endpoint for MinIO or another S3-compatible store; empty for AWS. Keys: standard AWS_* variables."),
    ("AWS_REGION", "us-east-1", "Region of the lake's bucket (AWS_DEFAULT_REGION is read too)."),
    ("ECOMMERCE_STAGING_DIR", "$ECOMMERCE_DATA_DIR/staging", "Local scratch for a lake on S3 (weeks staged for Spark)."),
    ("ECOMMERCE_WAREHOUSE", "duckdb", f"Warehouse kind; accepted: {', '.join(WAREHOUSE_KINDS)}."),
    ("ECOMMERCE_DUCKDB_PATH", "$ECOMMERCE_DATA_DIR/warehouse.duckdb", "DuckDB file (warehouse=duckdb)."),
    ("ECOMMERCE_DUCKDB_MEMORY_LIMIT", "RAM/6, 1GB..4GB", "DuckDB memory_limit for the load and dbt, e.g. 4GB (DuckDB spills beyond it)."),
    ("SPARK_MASTER", "local[*]", "Spark master: local[N], spark://host:port, k8s://..., yarn."),
    ("ECOMMERCE_SPARK_DRIVER_MEMORY", "RAM/5, 1g..8g", "Spark driver heap, e.g. 4g or 2048m."),
    ("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", "4 x cores", "spark.sql.shuffle.partitions (positive integer)."),
    ("ECOMMERCE_SPARK_EXECUTOR_MEMORY", "", "spark.executor.memory on a cluster, e.g. 4g (empty: Spark's default)."),
    ("ECOMMERCE_SPARK_EXECUTOR_CORES", "", "spark.executor.cores on a cluster (empty: Spark's default)."),
    ("ECOMMERCE_SPARK_CORES_MAX", "", "spark.cores.max: cores this application takes from a standalone cluster."),
    ("ECOMMERCE_SPARK_LAKE_ACCESS", "stage", "How Spark reaches a lake on S3: stage (copy the week locally) or s3a (cluster image with hadoop-aws)."),
    ("ECOMMERCE_FIRST_WEEK", "2019-09-30", "First weekly partition (a Monday)."),
    ("ECOMMERCE_LAST_WEEK", "2020-04-27", "Last weekly partition (a Monday); move it forward for live data."),
    ("ECOMMERCE_FIRST_MONTH", "2019-10", "First monthly source file expected in landing (YYYY-MM)."),
    ("ECOMMERCE_LAST_MONTH", "2020-04", "Last monthly source file expected in landing (YYYY-MM)."),
    ("ECOMMERCE_DBT_TARGET", "duckdb", "dbt target in ecommerce_dbt/profiles.yml."),
    ("ECOMMERCE_REPORTS_DIR", "$ECOMMERCE_DATA_DIR/reports", "Where the dashboard (dashboard.html) is written."),
    ("ECOMMERCE_REPLAY_INTERVAL_SECONDS", "60", "Seconds between two weeks of the history replay sensor."),
    ("ECOMMERCE_RUN_RETENTION_DAYS", "90", "Finished runs older than this are deleted daily (run_retention_schedule)."),
    ("SNOWFLAKE_ACCOUNT", "", "warehouse=snowflake: account identifier (required)."),
    ("SNOWFLAKE_USER", "", "warehouse=snowflake: user (required)."),
    ("SNOWFLAKE_PASSWORD", "", "warehouse=snowflake: password, or use a key pair."),
    ("SNOWFLAKE_PRIVATE_KEY_PATH", "", "warehouse=snowflake: PEM private key for key-pair auth (SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if encrypted)."),
    ("SNOWFLAKE_DATABASE", "ECOMMERCE", "warehouse=snowflake: database holding raw, core and marts."),
    ("SNOWFLAKE_ROLE", "", "warehouse=snowflake: role (empty: the user's default)."),
    ("SNOWFLAKE_WAREHOUSE", "", "warehouse=snowflake: virtual warehouse (empty: the user's default)."),
    ("ECOMMERCE_SNOWFLAKE_STAGE", "", "warehouse=snowflake: external stage whose URL is the lake root (e.g. raw.lake_stage); the weekly load is COPY INTO from it (required)."),
    ("SNOWFLAKE_EMULATOR_HOST", "", "Tests only: a local Snowflake emulator (fakesnow) host, spoken to over http."),
    ("SNOWFLAKE_EMULATOR_PORT", "", "Tests only: the emulator's port."),
)
SECRET_VARIABLES = frozenset({"SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


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
    sized = machine_defaults(*_machine())

    def get(name: str, default: str) -> str:
        value = env.get(name, "").strip()
        return value or default

    def path(name: str, default: str) -> Path:
        return (base / get(name, default)).resolve()

    data_dir = path("ECOMMERCE_DATA_DIR", "data")
    lake_value = get("ECOMMERCE_LAKE", str(data_dir / "lake"))
    if "://" in lake_value:
        if not _S3_URL.match(lake_value):
            raise SettingsError(
                f"ECOMMERCE_LAKE={lake_value!r}: expected a local folder or s3://bucket/prefix"
            )
        lake_url = lake_value.rstrip("/")
    else:
        lake_url = str((base / lake_value).resolve())
    endpoint = get("ECOMMERCE_S3_ENDPOINT_URL", "") or None
    if endpoint and not re.match(r"^https?://[^\s/]+(:\d+)?/?$", endpoint):
        raise SettingsError(f"ECOMMERCE_S3_ENDPOINT_URL={endpoint!r}: expected http(s)://host[:port]")
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
    memory = get("ECOMMERCE_SPARK_DRIVER_MEMORY", sized["ECOMMERCE_SPARK_DRIVER_MEMORY"])
    if not _MEMORY.match(memory):
        raise SettingsError(f"ECOMMERCE_SPARK_DRIVER_MEMORY={memory!r}: expected e.g. 4g or 2048m")
    shuffle = get("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", sized["ECOMMERCE_SPARK_SHUFFLE_PARTITIONS"])
    if not shuffle.isdigit() or int(shuffle) < 1:
        raise SettingsError(f"ECOMMERCE_SPARK_SHUFFLE_PARTITIONS={shuffle!r}: expected a positive integer")
    duckdb_memory = get("ECOMMERCE_DUCKDB_MEMORY_LIMIT", sized["ECOMMERCE_DUCKDB_MEMORY_LIMIT"])
    if not _DUCKDB_MEMORY.match(duckdb_memory):
        raise SettingsError(f"ECOMMERCE_DUCKDB_MEMORY_LIMIT={duckdb_memory!r}: expected e.g. 4GB or 512MB")
    executor_memory = get("ECOMMERCE_SPARK_EXECUTOR_MEMORY", "") or None
    if executor_memory and not _MEMORY.match(executor_memory):
        raise SettingsError(f"ECOMMERCE_SPARK_EXECUTOR_MEMORY={executor_memory!r}: expected e.g. 4g or 2048m")

    def optional_count(name: str) -> int | None:
        value = get(name, "")
        if value and (not value.isdigit() or int(value) < 1):
            raise SettingsError(f"{name}={value!r}: expected a positive integer")
        return int(value) if value else None

    lake_access = get("ECOMMERCE_SPARK_LAKE_ACCESS", "stage").lower()
    if lake_access not in SPARK_LAKE_ACCESS:
        raise SettingsError(
            f"ECOMMERCE_SPARK_LAKE_ACCESS={lake_access!r}: accepted values are {', '.join(SPARK_LAKE_ACCESS)}"
        )

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
    retention = get("ECOMMERCE_RUN_RETENTION_DAYS", "90")
    if not retention.isdigit() or int(retention) < 1:
        raise SettingsError(f"ECOMMERCE_RUN_RETENTION_DAYS={retention!r}: expected whole days, at least 1")

    return Settings(
        data_dir=data_dir,
        lake_url=lake_url,
        s3_endpoint_url=endpoint.rstrip("/") if endpoint else None,
        aws_region=get("AWS_REGION", get("AWS_DEFAULT_REGION", "us-east-1")),
        staging_dir=path("ECOMMERCE_STAGING_DIR", str(data_dir / "staging")),
        warehouse=warehouse,
        duckdb_path=path("ECOMMERCE_DUCKDB_PATH", str(data_dir / "warehouse.duckdb")),
        duckdb_memory_limit=duckdb_memory,
        spark_master=spark_master,
        spark_driver_memory=memory,
        spark_shuffle_partitions=int(shuffle),
        spark_executor_memory=executor_memory,
        spark_executor_cores=optional_count("ECOMMERCE_SPARK_EXECUTOR_CORES"),
        spark_cores_max=optional_count("ECOMMERCE_SPARK_CORES_MAX"),
        spark_lake_access=lake_access,
        first_week=first_week,
        last_week=last_week,
        first_month=first_month,
        last_month=last_month,
        # The emulator is the snowflake target over http (profiles.yml: snowflake_emulator).
        dbt_target=get("ECOMMERCE_DBT_TARGET", "snowflake_emulator" if warehouse == "snowflake" and get("SNOWFLAKE_EMULATOR_HOST", "") else warehouse),
        replay_interval_seconds=int(interval),
        run_retention_days=int(retention),
        reports_dir=path("ECOMMERCE_REPORTS_DIR", str(data_dir / "reports")),
        snowflake=_snowflake(get) if warehouse == "snowflake" else None,
    )


def _snowflake(get) -> SnowflakeSettings:
    """Snowflake connection settings; what is missing is named, and no secret value is kept."""
    host = get("SNOWFLAKE_EMULATOR_HOST", "") or None
    missing = [name for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER") if not get(name, "")]
    if missing and not host:
        raise SettingsError(f"ECOMMERCE_WAREHOUSE=snowflake needs {' and '.join(missing)}")
    key_path = get("SNOWFLAKE_PRIVATE_KEY_PATH", "") or None
    if key_path and not Path(key_path).is_file():
        raise SettingsError(f"SNOWFLAKE_PRIVATE_KEY_PATH={key_path!r}: no such file")
    if not key_path and not get("SNOWFLAKE_PASSWORD", "") and not host:
        raise SettingsError(
            "ECOMMERCE_WAREHOUSE=snowflake needs SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH (key-pair auth)"
        )
    port = get("SNOWFLAKE_EMULATOR_PORT", "")
    if host and not port.isdigit():
        raise SettingsError(f"SNOWFLAKE_EMULATOR_PORT={port!r}: expected a port number with SNOWFLAKE_EMULATOR_HOST")
    stage = get("ECOMMERCE_SNOWFLAKE_STAGE", "")
    if not stage:
        raise SettingsError(
            "ECOMMERCE_WAREHOUSE=snowflake needs ECOMMERCE_SNOWFLAKE_STAGE: an external stage whose URL is the lake "
            "root (the weekly load is COPY INTO from it)"
        )
    if not re.match(r"^@?[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}$", stage):
        raise SettingsError(f"ECOMMERCE_SNOWFLAKE_STAGE={stage!r}: expected a stage name such as raw.lake_stage")
    return SnowflakeSettings(
        account=get("SNOWFLAKE_ACCOUNT", "fakesnow" if host else ""),
        user=get("SNOWFLAKE_USER", "fake" if host else ""),
        database=get("SNOWFLAKE_DATABASE", "ECOMMERCE"),
        role=get("SNOWFLAKE_ROLE", "") or None,
        warehouse=get("SNOWFLAKE_WAREHOUSE", "") or None,
        auth="key_pair" if key_path else "password",
        private_key_path=key_path,
        stage=stage.lstrip("@"),
        emulator_host=host,
        emulator_port=int(port) if host else None,
    )
