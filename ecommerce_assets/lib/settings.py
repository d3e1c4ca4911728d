"""Every environment variable the project reads, typed, with its default, in one place.

:class:`Settings` (pydantic-settings) is the one table: each field is one variable with its default, parser
and description. It drives :func:`load_settings`, ``ecommerce settings`` and the table in
docs/configuration.md (``VARIABLES``, checked by a test). Nothing else in the package reads ``os.environ``. The code location reads the environment once (:func:`current`); an invalid value fails
when it loads, naming the variable and what it accepts, instead of surfacing later inside a run.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from contextvars import ContextVar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticUndefined
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# The dbt project beside the package (the Docker image copies it to the same place).
DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "ecommerce_dbt"

WAREHOUSE_KINDS = ("duckdb", "snowflake")
SPARK_LAKE_ACCESS = ("stage", "s3a")
RAW_RETENTION = ("keep", "until_clean")
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


Parser = Callable[[str, ValidationInfo], Any]
_URL = re.compile(r"^https?://[^/\s:]+(:[0-9]+)?(/\S*)?$")

# -- parsers: each turns an environment value into the field's type; a ValueError says what is accepted.
# They run as pydantic "before" validators; `info.data` holds the fields above.


def _cwd(_: ValidationInfo) -> Path:
    return _READING.get()[1] or Path.cwd()


def _text(value: str, _: ValidationInfo) -> str:
    return value


def _optional(value: str, _: ValidationInfo) -> str | None:
    return value or None


def _path(value: str, info: ValidationInfo) -> Path:
    return (_cwd(info) / value).resolve()


def _choice(*accepted: str) -> Parser:
    def parse(value: str, _: ValidationInfo) -> str:
        if value.lower() not in accepted:
            raise ValueError(f"accepted values are {', '.join(accepted)}")
        return value.lower()

    return parse


def _matching(pattern: re.Pattern[str], expected: str, optional: bool = False) -> Parser:
    def parse(value: str, _: ValidationInfo) -> str | None:
        if optional and not value:
            return None
        if not pattern.match(value):
            raise ValueError(expected)
        return value

    return parse


def _whole(minimum: int, expected: str, optional: bool = False) -> Parser:
    def parse(value: str, _: ValidationInfo) -> int | None:
        if optional and not value:
            return None
        if not value.isdigit() or int(value) < minimum:
            raise ValueError(expected)
        return int(value)

    return parse


def _lake(value: str, info: ValidationInfo) -> str:
    if "://" in value:
        if not _S3_URL.match(value):
            raise ValueError("expected a local folder or s3://bucket/prefix")
        return value.rstrip("/")
    return str((_cwd(info) / value).resolve())


def _endpoint(value: str, _: ValidationInfo) -> str | None:
    if value and not _ENDPOINT.match(value):
        raise ValueError("expected http(s)://host[:port]")
    return value.rstrip("/") or None


def _monday(value: str, _: ValidationInfo) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("expected a date YYYY-MM-DD that is a Monday") from None
    if day.weekday() != 0:
        raise ValueError(f"{day:%A}; weekly partitions start on a Monday")
    return day


def _month(value: str, _: ValidationInfo) -> dt.date:
    try:
        if not _MONTH.match(value):
            raise ValueError
        return dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise ValueError("expected a month YYYY-MM") from None


def _unless_empty(parse: Parser) -> Parser:
    def parsed(value: str, info: ValidationInfo) -> Any:
        return parse(value, info) if value else None

    return parsed


def _key_path(value: str, _: ValidationInfo) -> str | None:
    if value and not Path(value).is_file():
        raise ValueError("no such file")
    return value or None


def _is_set(value: str, _: ValidationInfo) -> bool:
    """For secrets: only whether they are set is kept; resources read them at connect time."""
    return bool(value)


def _variable(name: str | AliasChoices, default: str | Callable[..., str], parse: Parser, description: str,
              shown_default: str = "") -> Any:
    """One environment variable: its name, default (text, or computed from the fields above it), parser
    and the description the docs' table shows."""
    computed = callable(default)
    return Field(
        default_factory=default if computed else None, default=PydanticUndefined if computed else default,
        validation_alias=name, description=description,
        json_schema_extra={"shown_default": shown_default or ("" if computed else default), "parse": parse},
    )


def _sized(name: str) -> Callable[[], str]:
    return lambda: machine_defaults(*_machine())[name]


def _under_data(folder: str) -> Callable[[dict[str, Any]], str]:
    return lambda data: str(data["data_dir"] / folder)


_IDENTIFIER_EXPECTED = "expected an unquoted identifier: letters, digits, _ and $"


class Settings(BaseSettings):
    """The project's settings: each field is one environment variable, read and validated once, with the
    default and description the docs' table shows."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, extra="ignore", validate_default=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], **_: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_Environment(settings_cls),)  # no .env file, no secrets folder: the environment only

    data_dir: Path = _variable("ECOMMERCE_DATA_DIR", "./data", _path, "Root for everything the embedded default writes.")
    lake_url: str = _variable("ECOMMERCE_LAKE", _under_data("lake"), _lake, "Lake root: a folder, or s3://bucket/prefix (landing/, raw/, clean/, quarantine/).", "$ECOMMERCE_DATA_DIR/lake")
    s3_endpoint_url: str | None = _variable("ECOMMERCE_S3_ENDPOINT_URL", "", _endpoint, "S3 endpoint for MinIO or another S3-compatible store; empty for AWS. Keys: standard AWS_* variables.")
    aws_region: str = _variable(AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1", _text, "Region of the lake's bucket (AWS_DEFAULT_REGION is read too).")
    staging_dir: Path = _variable("ECOMMERCE_STAGING_DIR", _under_data("staging"), _path, "Local scratch for a lake on S3 (weeks staged for Spark).", "$ECOMMERCE_DATA_DIR/staging")
    warehouse: str = _variable("ECOMMERCE_WAREHOUSE", "duckdb", _choice(*WAREHOUSE_KINDS), f"Warehouse kind; accepted: {', '.join(WAREHOUSE_KINDS)}.")
    duckdb_path: Path = _variable("ECOMMERCE_DUCKDB_PATH", _under_data("warehouse.duckdb"), _path, "DuckDB file (warehouse=duckdb).", "$ECOMMERCE_DATA_DIR/warehouse.duckdb")
    duckdb_memory_limit: str = _variable("ECOMMERCE_DUCKDB_MEMORY_LIMIT", _sized("ECOMMERCE_DUCKDB_MEMORY_LIMIT"), _matching(_DUCKDB_MEMORY, "expected e.g. 4GB or 512MB"), "DuckDB memory_limit for the load and dbt, e.g. 4GB (DuckDB spills beyond it).", "RAM/6, 1GB..4GB")
    spark_master: str = _variable("SPARK_MASTER", "local[*]", _matching(_SPARK_MASTER, "accepted forms are local, local[N], local[*], spark://host:port, k8s://..., yarn"), "Spark master: local[N], spark://host:port, k8s://..., yarn.")
    spark_driver_memory: str = _variable("ECOMMERCE_SPARK_DRIVER_MEMORY", _sized("ECOMMERCE_SPARK_DRIVER_MEMORY"), _matching(_MEMORY, "expected e.g. 4g or 2048m"), "Spark driver heap, e.g. 4g or 2048m.", "RAM/5, 1g..8g")
    spark_shuffle_partitions: int = _variable("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS", _sized("ECOMMERCE_SPARK_SHUFFLE_PARTITIONS"), _whole(1, "expected a positive integer"), "spark.sql.shuffle.partitions (positive integer).", "4 x cores")
    spark_executor_memory: str | None = _variable("ECOMMERCE_SPARK_EXECUTOR_MEMORY", "", _matching(_MEMORY, "expected e.g. 4g or 2048m", optional=True), "spark.executor.memory on a cluster, e.g. 4g (empty: Spark's default).")
    spark_executor_cores: int | None = _variable("ECOMMERCE_SPARK_EXECUTOR_CORES", "", _whole(1, "expected a positive integer", optional=True), "spark.executor.cores on a cluster (empty: Spark's default).")
    spark_cores_max: int | None = _variable("ECOMMERCE_SPARK_CORES_MAX", "", _whole(1, "expected a positive integer", optional=True), "spark.cores.max: cores this application takes from a standalone cluster.")
    spark_lake_access: str = _variable("ECOMMERCE_SPARK_LAKE_ACCESS", "stage", _choice(*SPARK_LAKE_ACCESS), "How Spark reaches a lake on S3: stage (copy the week locally) or s3a (cluster image with hadoop-aws).")
    raw_retention: str = _variable("ECOMMERCE_RAW_RETENTION", "keep", _choice(*RAW_RETENTION), "Raw weekly parts: keep, or until_clean (dropped once the week is clean, rebuilt from landing when it is cleaned again; the manifest stays).")
    first_week: dt.date = _variable("ECOMMERCE_FIRST_WEEK", "2019-09-30", _monday, "First weekly partition (a Monday).")
    last_week: dt.date | None = _variable("ECOMMERCE_LAST_WEEK", "", _unless_empty(_monday), "Last weekly partition (a Monday); empty: the week holding the last landed month's last day.")
    first_month: dt.date = _variable("ECOMMERCE_FIRST_MONTH", "2019-10", _month, "First monthly source file expected in landing (YYYY-MM).")
    last_month: dt.date | None = _variable("ECOMMERCE_LAST_MONTH", "", _unless_empty(_month), "Last monthly source file expected in landing (YYYY-MM); empty: the last month landed.")
    dbt_target: str = _variable("ECOMMERCE_DBT_TARGET", lambda data: data["warehouse"], _text, "dbt target in ecommerce_dbt/profiles.yml.", "$ECOMMERCE_WAREHOUSE")
    reports_dir: Path = _variable("ECOMMERCE_REPORTS_DIR", _under_data("reports"), _path, "Where the dashboard (dashboard.html) is written.", "$ECOMMERCE_DATA_DIR/reports")
    webserver_url: str = _variable("ECOMMERCE_WEBSERVER_URL", "http://127.0.0.1:3000", _matching(_URL, "expected http(s)://host:port"), "The Dagster webserver the landing sensor asks to reload the code location when a month lands past the partitions.")
    replay_interval_seconds: int = _variable("ECOMMERCE_REPLAY_INTERVAL_SECONDS", "60", _whole(5, "expected whole seconds, at least 5"), "Seconds between two weeks of the history replay sensor.")
    run_retention_days: int = _variable("ECOMMERCE_RUN_RETENTION_DAYS", "90", _whole(1, "expected whole days, at least 1"), "Finished runs older than this are deleted daily (purge_runs_schedule).")
    snowflake_account: str = _variable("SNOWFLAKE_ACCOUNT", "", _text, "warehouse=snowflake: account identifier (required).")
    snowflake_user: str = _variable("SNOWFLAKE_USER", "", _text, "warehouse=snowflake: user (required).")
    snowflake_password: bool = _variable("SNOWFLAKE_PASSWORD", "", _is_set, "warehouse=snowflake: password, or use a key pair.")
    snowflake_private_key_path: str | None = _variable("SNOWFLAKE_PRIVATE_KEY_PATH", "", _key_path, "warehouse=snowflake: PEM private key for key-pair auth (SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if encrypted).")
    snowflake_private_key_passphrase: bool = _variable("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "", _is_set, "warehouse=snowflake: passphrase of an encrypted private key.")
    snowflake_database: str = _variable("SNOWFLAKE_DATABASE", "ECOMMERCE", _matching(_IDENTIFIER, _IDENTIFIER_EXPECTED), "warehouse=snowflake: database holding raw, core and marts.")
    snowflake_role: str | None = _variable("SNOWFLAKE_ROLE", "", _optional, "warehouse=snowflake: role (empty: the user's default).")
    snowflake_warehouse: str | None = _variable("SNOWFLAKE_WAREHOUSE", "", _matching(_IDENTIFIER, _IDENTIFIER_EXPECTED, optional=True), "warehouse=snowflake: virtual warehouse (empty: the user's default).")
    snowflake_host: str | None = _variable("SNOWFLAKE_HOST", "", _optional, "warehouse=snowflake: host to connect to (empty: derived from the account; set for PrivateLink or a proxy).")
    snowflake_port: int = _variable("SNOWFLAKE_PORT", "443", _whole(1, "expected a port number"), "warehouse=snowflake: port.")
    snowflake_protocol: str = _variable("SNOWFLAKE_PROTOCOL", "https", _choice("https", "http"), "warehouse=snowflake: https, or http for a local endpoint.")
    snowflake_stage: str | None = _variable("ECOMMERCE_SNOWFLAKE_STAGE", "", _matching(_STAGE, "expected a stage name such as raw.lake_stage", optional=True), "warehouse=snowflake: external stage whose URL is the lake root (e.g. raw.lake_stage); the weekly load is COPY INTO from it (required).")

    @field_validator("*", mode="before")
    @classmethod
    def _parse(cls, value: Any, info: ValidationInfo) -> Any:
        return cls.model_fields[info.field_name].json_schema_extra["parse"]("" if value is None else str(value), info)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.last_week is not None and self.last_week < self.first_week:
            raise ValueError(f"ECOMMERCE_LAST_WEEK={self.last_week} is before ECOMMERCE_FIRST_WEEK={self.first_week}")
        if self.last_month is not None and self.last_month < self.first_month:
            raise ValueError(f"ECOMMERCE_LAST_MONTH={self.last_month:%Y-%m} is before ECOMMERCE_FIRST_MONTH={self.first_month:%Y-%m}")
        if self.warehouse == "snowflake":
            missing = [name for name, value in (("SNOWFLAKE_ACCOUNT", self.snowflake_account), ("SNOWFLAKE_USER", self.snowflake_user)) if not value]
            if missing:
                raise ValueError(f"ECOMMERCE_WAREHOUSE=snowflake needs {' and '.join(missing)}")
            if not self.snowflake_private_key_path and not self.snowflake_password:
                raise ValueError("ECOMMERCE_WAREHOUSE=snowflake needs SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH (key-pair auth)")
            if not self.snowflake_stage:
                raise ValueError(
                    "ECOMMERCE_WAREHOUSE=snowflake needs ECOMMERCE_SNOWFLAKE_STAGE: an external stage whose URL is the lake "
                    "root (the weekly load is COPY INTO from it)")
        return self

    @property
    def snowflake(self) -> SnowflakeSettings | None:
        if self.warehouse != "snowflake":
            return None
        return SnowflakeSettings(
            account=self.snowflake_account, user=self.snowflake_user, database=self.snowflake_database,
            role=self.snowflake_role, warehouse=self.snowflake_warehouse, password_set=self.snowflake_password,
            private_key_path=self.snowflake_private_key_path,
            private_key_passphrase_set=self.snowflake_private_key_passphrase, host=self.snowflake_host,
            port=self.snowflake_port, protocol=self.snowflake_protocol, stage=(self.snowflake_stage or "").lstrip("@"),
        )

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


# (environment, cwd) of the load_settings call under way; (None, None): the process's.
_READING: ContextVar[tuple[Mapping[str, str] | None, Path | None]] = ContextVar("settings_reading", default=(None, None))


def _names(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    return [str(choice) for choice in alias.choices] if isinstance(alias, AliasChoices) else [str(alias)]


class _Environment(PydanticBaseSettingsSource):
    """Each field's variable from the environment being read; a variable set to blanks takes its default,
    as if it were not set."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        env = _READING.get()[0]
        env = os.environ if env is None else env
        for name in _names(field):
            value = str(env.get(name, "")).strip()
            if value:
                return value, name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[name] = value
        return found


@dataclass(frozen=True)
class Variable:
    """A row of the docs' table: one field of :class:`Settings` as the environment names it."""

    name: str
    default_text: str
    description: str


VARIABLES: tuple[Variable, ...] = tuple(
    Variable(_names(field)[0], field.json_schema_extra["shown_default"], field.description)
    for field in Settings.model_fields.values()
)


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate the environment (``env``, default the process's). Relative paths resolve against
    ``cwd`` (default: the process cwd). An invalid value raises SettingsError naming the variable."""
    reading = _READING.set((env, cwd))
    try:
        return Settings()
    except ValidationError as invalid:
        raise _named(invalid) from None
    finally:
        _READING.reset(reading)


def _named(invalid: ValidationError) -> SettingsError:
    """The first problem as ``NAME='value': what is accepted`` (or the cross-field message as is)."""
    error = invalid.errors(include_url=False)[0]
    cause = error.get("ctx", {}).get("error")
    text = str(cause) if cause is not None else error["msg"]
    if not error["loc"]:
        return SettingsError(text)
    name = str(error["loc"][0])  # a variable's name; a field's where its default was invalid
    name = _names(Settings.model_fields[name])[0] if name in Settings.model_fields else name
    return SettingsError(f"{name}={error['input']!r}: {text}")


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
