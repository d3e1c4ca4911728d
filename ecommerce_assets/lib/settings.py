"""Every environment variable the project reads, typed, with its default, in one place.

``VARIABLES`` is the one table of (name, default, parser, description): it drives :func:`load_settings`,
``ecommerce settings`` and the table in docs/configuration.md (checked by a test). Nothing else in the package reads
``os.environ``. The code location reads the environment once (:func:`current`); an invalid value fails
when it loads, naming the variable and what it accepts, instead of surfacing later inside a run.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The dbt project beside the package (the Docker image copies it to the same place).
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "ecommerce_dbt"

WAREHOUSE_KINDS = ("duckdb", "snowflake")
SPARK_LAKE_ACCESS = ("stage", "s3a")
RAW_RETENTION = ("keep", "until_clean")
SECRET_VARIABLES = frozenset({"SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/]+:\d+|k8s://\S+|yarn)$")
_MEMORY = re.compile(r"^\d+[mMgG]$")
_DUCKDB_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$", re.IGNORECASE)
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(?P<prefix>[^\s]*?))?/?$")
_ENDPOINT = re.compile(r"^https?://[^\s/]+(:\d+)?/?$")
_STAGE = re.compile(r"^@?[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}$")
# dbt-snowflake writes the database and warehouse into SQL unquoted (relation names, `use warehouse`).
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use."""


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``: the one parser of S3 URLs."""
    match = _S3_URL.match(url)
    if not match:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    return match["bucket"], (match["prefix"] or "").strip("/")


def s3a_url(url: str) -> str:
    """The same object or prefix as Hadoop's s3a connector names it."""
    bucket, key = split_s3_url(url)
    return f"s3a://{bucket}/{key}".rstrip("/")


def add_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


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


# -- parsers: (value, what was parsed so far) -> typed value; a ValueError says what is accepted --------
Parsed = dict[str, Any]


def _text(value: str, _: Parsed) -> str:
    return value


def _optional(value: str, _: Parsed) -> str | None:
    return value or None


def _path(value: str, parsed: Parsed) -> Path:
    return (parsed["_cwd"] / value).resolve()


def _choice(*accepted: str) -> Callable[[str, Parsed], str]:
    def parse(value: str, _: Parsed) -> str:
        if value.lower() not in accepted:
            raise ValueError(f"accepted values are {', '.join(accepted)}")
        return value.lower()

    return parse


def _matching(pattern: re.Pattern[str], expected: str, optional: bool = False) -> Callable[[str, Parsed], str | None]:
    def parse(value: str, _: Parsed) -> str | None:
        if optional and not value:
            return None
        if not pattern.match(value):
            raise ValueError(expected)
        return value

    return parse


def _whole(minimum: int, expected: str, optional: bool = False) -> Callable[[str, Parsed], int | None]:
    def parse(value: str, _: Parsed) -> int | None:
        if optional and not value:
            return None
        if not value.isdigit() or int(value) < minimum:
            raise ValueError(expected)
        return int(value)

    return parse


def _lake(value: str, parsed: Parsed) -> str:
    if "://" in value:
        if not _S3_URL.match(value):
            raise ValueError("expected a local folder or s3://bucket/prefix")
        return value.rstrip("/")
    return str((parsed["_cwd"] / value).resolve())


def _endpoint(value: str, _: Parsed) -> str | None:
    if value and not _ENDPOINT.match(value):
        raise ValueError("expected http(s)://host[:port]")
    return value.rstrip("/") or None


def _monday(value: str, _: Parsed) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("expected a date YYYY-MM-DD that is a Monday") from None
    if day.weekday() != 0:
        raise ValueError(f"{day:%A}; weekly partitions start on a Monday")
    return day


def _month(value: str, _: Parsed) -> dt.date:
    try:
        if not _MONTH.match(value):
            raise ValueError
        return dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise ValueError("expected a month YYYY-MM") from None


def _key_path(value: str, _: Parsed) -> str | None:
    if value and not Path(value).is_file():
        raise ValueError("no such file")
    return value or None


def _is_set(value: str, _: Parsed) -> bool:
    """For secrets: only whether they are set is kept; resources read them at connect time."""
    return bool(value)


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | Callable[[Parsed, Mapping[str, str]], str]  # text, or computed from earlier values
    parse: Callable[[str, Parsed], Any]
    description: str
    shown_default: str = ""  # the docs' wording of a computed default
    attribute: str = ""  # the Settings field, when it is not the name without its ECOMMERCE_ prefix

    @property
    def field(self) -> str:
        return self.attribute or self.name.lower().removeprefix("ecommerce_")

    @property
    def default_text(self) -> str:
        return self.shown_default or (self.default if isinstance(self.default, str) else "")


def _sized(name: str) -> Callable[[Parsed, Mapping[str, str]], str]:
    return lambda parsed, _: machine_defaults(*_machine())[name]


def _under_data(folder: str) -> Callable[[Parsed, Mapping[str, str]], str]:
    return lambda parsed, _: str(parsed["data_dir"] / folder)


VARIABLES: tuple[Variable, ...] = (
    Variable("ECOMMERCE_DATA_DIR", "./data", _path, "Root for everything the embedded default writes."),
    Variable("ECOMMERCE_LAKE", _under_data("lake"), _lake, "Lake root: a folder, or s3://bucket/prefix (landing/, raw/, clean/, quarantine/).", "$ECOMMERCE_DATA_DIR/lake", "lake_url"),
    Variable("ECOMMERCE_S3_ENDPOINT_URL", "", _endpoint, "S3 endpoint for MinIO or another S3-compatible store; empty for AWS. Keys: standard AWS_* variables."),
    Variable("AWS_REGION", lambda _, env: env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1", _text, "Region of the lake's bucket (AWS_DEFAULT_REGION is read too).", "us-east-1"),
    Variable("ECOMMERCE_STAGING_DIR", _under_data("staging"), _path, "Local scratch for a lake on S3 (weeks staged for Spark).", "$ECOMMERCE_DATA_DIR/staging"),
    Variable("ECOMMERCE_WAREHOUSE", "duckdb", _choice(*WAREHOUSE_KINDS), f"Warehouse kind; accepted: {', '.join(WAREHOUSE_KINDS)}."),
    Variable("ECOMMERCE_DUCKDB_PATH", _under_data("warehouse.duckdb"), _path, "DuckDB file (warehouse=duckdb).", "$ECOMMERCE_DATA_DIR/warehouse.duckdb"),
    Variable("ECOMMERCE_DUCKDB_MEMORY_LIMIT", _sized("ECOMMERCE_DUCKDB_MEMORY_LIMIT"), _matching(_DUCKDB_MEMORY, "expected e.g. 4GB or 512MB"), "DuckDB memory_limit for the load and dbt, e.g. 4GB (DuckDB spills beyond it).", "RAM/6, 1GB..4GB"),
    Variable("SPARK_MASTER", "local[*]", _matching(_SPARK_MASTER, "accepted forms are local, local[N], local[*], spark://host:port, k8s://..., yarn"), "Spark master: local[N], spark://host:port, k8s://..., yarn."),
    Variable("ECOMMERCE_SPARK_DRIVER_MEMORY", _sized("ECOMMERCE_SPARK_DRIVER_MEMORY"), _matching(_MEMORY, "expected e.g. 4g or 2048m"), "Spark driver heap, e.g. 4g or 2048m.", "RAM/5, 1g..8g"),
    Variable("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", _sized("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS"), _whole(1, "expected a positive integer"), "spark.sql.shuffle.partitions (positive integer).", "4 x cores"),
    Variable("ECOMMERCE_SPARK_EXECUTOR_MEMORY", "", _matching(_MEMORY, "expected e.g. 4g or 2048m", optional=True), "spark.executor.memory on a cluster, e.g. 4g (empty: Spark's default)."),
    Variable("ECOMMERCE_SPARK_EXECUTOR_CORES", "", _whole(1, "expected a positive integer", optional=True), "spark.executor.cores on a cluster (empty: Spark's default)."),
    Variable("ECOMMERCE_SPARK_CORES_MAX", "", _whole(1, "expected a positive integer", optional=True), "spark.cores.max: cores this application takes from a standalone cluster."),
    Variable("ECOMMERCE_SPARK_LAKE_ACCESS", "stage", _choice(*SPARK_LAKE_ACCESS), "How Spark reaches a lake on S3: stage (copy the week locally) or s3a (cluster image with hadoop-aws)."),
    Variable("ECOMMERCE_RAW_RETENTION", "keep", _choice(*RAW_RETENTION), "Raw weekly parts: keep, or until_clean (dropped once the week is clean, rebuilt from landing when it is cleaned again; the manifest stays)."),
    Variable("ECOMMERCE_FIRST_WEEK", "2019-09-30", _monday, "First weekly partition (a Monday)."),
    Variable("ECOMMERCE_LAST_WEEK", "2020-04-27", _monday, "Last weekly partition (a Monday); move it forward for live data."),
    Variable("ECOMMERCE_FIRST_MONTH", "2019-10", _month, "First monthly source file expected in landing (YYYY-MM)."),
    Variable("ECOMMERCE_LAST_MONTH", "2020-04", _month, "Last monthly source file expected in landing (YYYY-MM)."),
    Variable("ECOMMERCE_DBT_TARGET", lambda parsed, _: parsed["warehouse"], _text, "dbt target in ecommerce_dbt/profiles.yml.", "$ECOMMERCE_WAREHOUSE"),
    Variable("ECOMMERCE_REPORTS_DIR", _under_data("reports"), _path, "Where the dashboard (dashboard.html) is written.", "$ECOMMERCE_DATA_DIR/reports"),
    Variable("ECOMMERCE_REPLAY_INTERVAL_SECONDS", "60", _whole(5, "expected whole seconds, at least 5"), "Seconds between two weeks of the history replay sensor."),
    Variable("ECOMMERCE_RUN_RETENTION_DAYS", "90", _whole(1, "expected whole days, at least 1"), "Finished runs older than this are deleted daily (purge_runs_schedule)."),
    Variable("SNOWFLAKE_ACCOUNT", "", _text, "warehouse=snowflake: account identifier (required)."),
    Variable("SNOWFLAKE_USER", "", _text, "warehouse=snowflake: user (required)."),
    Variable("SNOWFLAKE_PASSWORD", "", _is_set, "warehouse=snowflake: password, or use a key pair."),
    Variable("SNOWFLAKE_PRIVATE_KEY_PATH", "", _key_path, "warehouse=snowflake: PEM private key for key-pair auth (SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if encrypted)."),
    Variable("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "", _is_set, "warehouse=snowflake: passphrase of an encrypted private key."),
    Variable("SNOWFLAKE_DATABASE", "ECOMMERCE", _matching(_IDENTIFIER, "expected an unquoted identifier: letters, digits, _ and $"), "warehouse=snowflake: database holding raw, core and marts."),
    Variable("SNOWFLAKE_ROLE", "", _optional, "warehouse=snowflake: role (empty: the user's default)."),
    Variable("SNOWFLAKE_WAREHOUSE", "", _matching(_IDENTIFIER, "expected an unquoted identifier: letters, digits, _ and $", optional=True), "warehouse=snowflake: virtual warehouse (empty: the user's default)."),
    Variable("SNOWFLAKE_HOST", "", _optional, "warehouse=snowflake: host to connect to (empty: derived from the account; set for PrivateLink or a proxy)."),
    Variable("SNOWFLAKE_PORT", "443", _whole(1, "expected a port number"), "warehouse=snowflake: port."),
    Variable("SNOWFLAKE_PROTOCOL", "https", _choice("https", "http"), "warehouse=snowflake: https, or http for a local endpoint."),
    Variable("ECOMMERCE_SNOWFLAKE_STAGE", "", _matching(_STAGE, "expected a stage name such as raw.lake_stage", optional=True), "warehouse=snowflake: external stage whose URL is the lake root (e.g. raw.lake_stage); the weekly load is COPY INTO from it (required)."),
)


@dataclass(frozen=True)
class SnowflakeSettings:
    """Where the Snowflake warehouse is. Secrets are not held here, only whether they are set: resources
    read them from the environment at connect time, so they never reach logs or the UI."""

    account: str
    user: str
    database: str
    role: str | None
    warehouse: str | None
    password_set: bool
    private_key_path: str | None
    private_key_passphrase_set: bool
    host: str | None
    port: int
    protocol: str
    stage: str  # an external stage whose URL is the lake root: the load is COPY INTO from it

    @property
    def auth(self) -> str:
        return "key_pair" if self.private_key_path else "password"


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
    raw_retention: str
    first_week: dt.date
    last_week: dt.date
    first_month: dt.date
    last_month: dt.date
    dbt_target: str
    reports_dir: Path
    replay_interval_seconds: int
    run_retention_days: int
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
        return split_s3_url(self.lake_url)

    @property
    def weeks_end(self) -> dt.date:
        """Exclusive end of the last weekly partition."""
        return self.last_week + dt.timedelta(days=7)

    @property
    def months_end(self) -> dt.date:
        """Exclusive end of the last monthly source partition (first day of the next month)."""
        return add_month(self.last_month)


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate the environment. Relative paths resolve against ``cwd`` (default: the process cwd)."""
    env = os.environ if env is None else env
    parsed: Parsed = {"_cwd": Path.cwd() if cwd is None else cwd}
    for variable in VARIABLES:
        value = env.get(variable.name, "").strip()
        if not value:
            value = variable.default if isinstance(variable.default, str) else variable.default(parsed, env)
        try:
            parsed[variable.field] = variable.parse(value, parsed)
        except ValueError as error:
            raise SettingsError(f"{variable.name}={value!r}: {error}") from None
    if parsed["last_week"] < parsed["first_week"]:
        raise SettingsError(f"ECOMMERCE_LAST_WEEK={parsed['last_week']} is before ECOMMERCE_FIRST_WEEK={parsed['first_week']}")
    if parsed["last_month"] < parsed["first_month"]:
        raise SettingsError(
            f"ECOMMERCE_LAST_MONTH={parsed['last_month']:%Y-%m} is before ECOMMERCE_FIRST_MONTH={parsed['first_month']:%Y-%m}"
        )
    snowflake = {key.removeprefix("snowflake_"): parsed.pop(key) for key in list(parsed) if key.startswith("snowflake_")}
    parsed.pop("_cwd")
    return Settings(**parsed, snowflake=_snowflake(snowflake) if parsed["warehouse"] == "snowflake" else None)


def _snowflake(values: Parsed) -> SnowflakeSettings:
    """Snowflake settings; what is required and missing is named."""
    missing = [f"SNOWFLAKE_{name.upper()}" for name in ("account", "user") if not values[name]]
    if missing:
        raise SettingsError(f"ECOMMERCE_WAREHOUSE=snowflake needs {' and '.join(missing)}")
    if not values["private_key_path"] and not values["password"]:
        raise SettingsError(
            "ECOMMERCE_WAREHOUSE=snowflake needs SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH (key-pair auth)"
        )
    if not values["stage"]:
        raise SettingsError(
            "ECOMMERCE_WAREHOUSE=snowflake needs ECOMMERCE_SNOWFLAKE_STAGE: an external stage whose URL is the lake "
            "root (the weekly load is COPY INTO from it)"
        )
    return SnowflakeSettings(
        account=values["account"],
        user=values["user"],
        database=values["database"],
        role=values["role"],
        warehouse=values["warehouse"],
        password_set=values["password"],
        private_key_path=values["private_key_path"],
        private_key_passphrase_set=values["private_key_passphrase"],
        host=values["host"],
        port=values["port"],
        protocol=values["protocol"],
        stage=values["stage"].lstrip("@"),
    )


def markdown_table() -> str:
    """The table of variables in docs/configuration.md, generated from ``VARIABLES`` (``ecommerce settings --markdown``)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for variable in VARIABLES:
        default = f"`{variable.default_text}`" if variable.default_text else ""
        rows.append(f"| `{variable.name}` | {default} | {variable.description} |")
    return "\n".join(rows) + "\n"


@functools.cache
def current() -> Settings:
    """The settings of this process, read once: the code location and the CLI both use it."""
    return load_settings()
