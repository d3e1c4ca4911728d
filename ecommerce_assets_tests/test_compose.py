"""docker-compose.yaml, its Dockerfiles and .env.example, checked without a Docker engine.

Each check is a small function that returns a list of problems: the real files must give none, and the
deliberately broken copies at the end must give some, so a check that cannot fail is caught too.
Environments are built the way compose builds them: `env_file` then `environment`, with `${...}`
interpolated from .env.example (compose reads `.env`, which users copy from it).
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import importlib.util
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import pytest
import yaml

from ecommerce_assets.settings import VARIABLES, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
CODE_DOCKERFILE = ROOT / "docker" / "Dockerfile"
SPARK_DOCKERFILE = ROOT / "docker" / "spark.Dockerfile"
WORKSPACE = ROOT / "config" / "workspace.compose.yaml"
INSTANCE_YAML = ROOT / "config" / "dagster.production.yaml"
MINIO_INIT = ROOT / "docker" / "minio-init.sh"

SERVICES = ("postgres", "minio", "minio-init", "spark-master", "spark-worker", "code-server", "webserver", "daemon")
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
PROJECT_IMAGE_SERVICES = ("minio-init", "code-server", "webserver", "daemon")
SPARK_SERVICES = ("spark-master", "spark-worker")
PG_VARIABLES = ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB")
# settings.py variables the deployment may leave to their defaults: test-only emulator settings.
NOT_DEPLOYED = {"SNOWFLAKE_EMULATOR_HOST", "SNOWFLAKE_EMULATOR_PORT"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|PASSPHRASE|TOKEN|PRIVATE_KEY$")
SPARK_CLASS = re.compile(r"^org\.apache\.spark(\.\w+)+$")
SNOWFLAKE_OVERLAY = {
    "ECOMMERCE_WAREHOUSE": "snowflake",
    "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
    "SNOWFLAKE_USER": "ECOMMERCE_LOADER",
    "SNOWFLAKE_PASSWORD": "not-a-real-password",
    "SNOWFLAKE_ROLE": "TRANSFORMER",
    "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
    "ECOMMERCE_SNOWFLAKE_STAGE": "raw.lake_stage",
}


# --- reading the files the way compose does ------------------------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """A dotenv file as compose reads it: KEY=VALUE lines, # comments, optional quotes."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise ValueError(f"{path.name}:{number}: not a KEY=VALUE line: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


class InterpolationError(ValueError):
    pass


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        if text.startswith("${", index):
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise InterpolationError(f"unclosed ${{ in {text!r}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r}, ${VAR+r}."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            out.append(char)
            index += 1
        elif text.startswith("$$", index):
            out.append("$")
            index += 2
        elif text.startswith("${", index):
            end = _closing_brace(text, index)
            out.append(_expand(text[index + 2 : end], env))
            index = end + 1
        else:
            match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[index + 1 :])
            if not match:
                raise InterpolationError(f"invalid $ in {text!r}")
            out.append(env.get(match[0], ""))
            index += 1 + match.end()
    return "".join(out)


def _expand(body: str, env: Mapping[str, str]) -> str:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?(.*)$", body, re.S)
    if not match:
        raise InterpolationError(f"invalid variable expression ${{{body}}}")
    name, operator, rest = match.groups()
    value = env.get(name)
    present = value is not None and (value != "" or not (operator or "").startswith(":"))
    if operator is None:
        if rest:
            raise InterpolationError(f"invalid variable expression ${{{body}}}")
        return value or ""
    if operator.endswith("-"):
        return value if present else interpolate(rest, env)
    if operator.endswith("?"):
        if not present:
            raise InterpolationError(f"{name}: {interpolate(rest, env) or 'required'}")
        return value
    return interpolate(rest, env) if present else ""


def interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_all(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_all(value, env) for key, value in node.items()}
    return node


def variables_used(node: Any) -> set[str]:
    """Names of every variable the compose file interpolates (defaults included)."""
    if isinstance(node, str):
        return set(re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", node.replace("$$", "")))
    if isinstance(node, list):
        return set().union(*(variables_used(item) for item in node)) if node else set()
    if isinstance(node, dict):
        return set().union(*(variables_used(value) for value in node.values())) if node else set()
    return set()


def service_env(compose: Mapping[str, Any], name: str, env: Mapping[str, str]) -> dict[str, str]:
    """A container's environment as compose builds it: env_file entries, then `environment` over them."""
    service = compose["services"][name]
    result: dict[str, str] = {}
    env_files = service.get("env_file", [])
    for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        path = entry if isinstance(entry, str) else entry["path"]
        file = ROOT / interpolate(path, env)
        if file.name == ".env" and not file.exists():  # users create .env from .env.example
            file = ENV_EXAMPLE
        if file.exists() or (isinstance(entry, dict) and entry.get("required", True)):
            result |= read_env_file(file)
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    for key, value in environment.items():
        if value is None:
            continue  # taken from the shell running compose: not part of this stack's definition
        result[key] = interpolate(str(value).lower() if isinstance(value, bool) else str(value), env)
    return result


def command(service: Mapping[str, Any]) -> list[str]:
    value = service.get("command", [])
    return shlex.split(value) if isinstance(value, str) else [str(item) for item in value]


def option(args: list[str], *names: str) -> str | None:
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            return args[index + 1]
    return None


def healthcheck_test(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def has_healthcheck(service: Mapping[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable") and check.get("test") != ["NONE"]


# --- the Dockerfiles -------------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):  # comments, the syntax directive, comment lines inside a continuation
            continue
        current += " " + stripped.removesuffix("\\") if current else stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            if current.strip():
                keyword, _, args = current.strip().partition(" ")
                instructions.append((keyword.upper(), args.strip()))
            current = ""
    return instructions


def dockerfile_args(text: str) -> dict[str, str]:
    args: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name.strip(), value.strip())
    return args


def final_stage(text: str) -> list[tuple[str, str]]:
    instructions = dockerfile_instructions(text)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def image_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage(text):
        if keyword == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], m[0]), value)
    return env


def image_workdir(text: str) -> str:
    workdir = "/"
    for keyword, rest in final_stage(text):
        if keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / rest)
    return workdir


def copies(text: str) -> list[tuple[list[str], str]]:
    """COPY instructions of the final stage taken from the build context: (sources, absolute destination)."""
    env, workdir, result = image_env(text), "/", []
    for keyword, rest in final_stage(text):
        if keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / rest)
        elif keyword == "COPY":
            tokens = shlex.split(rest)
            if any(token.startswith("--from") for token in tokens):
                continue
            paths = [token for token in tokens if not token.startswith("--")]
            dest = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], m[0]), paths[-1])
            absolute = str(PurePosixPath(workdir) / dest)
            result.append((paths[:-1], absolute + ("/" if dest.endswith("/") or len(paths) > 2 else "")))
    return result


def image_path_in_repo(text: str, container_path: str) -> Path | None:
    """The repository file a path inside the image comes from, following the Dockerfile's COPY lines."""
    for sources, dest in copies(text):
        for source in sources:
            target = dest + PurePosixPath(source).name if dest.endswith("/") else dest
            if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
                candidate = ROOT / source / container_path[len(target.rstrip("/")) :].lstrip("/")
                if candidate.exists():
                    return candidate
    return None


def dockerfile_problems(text: str, name: str) -> list[str]:
    problems = []
    for sources, _ in copies(text):
        problems += [f"{name}: COPY {source}: no such file in the repository" for source in sources
                     if not (ROOT / source).exists()]
    return problems


def dbt_project_problems(text: str) -> list[str]:
    """Every tracked part of the dbt project reaches the image (target/ and logs/ on purpose do not)."""
    tracked = subprocess.run(["git", "ls-files", "ecommerce_dbt"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    parts = {"/".join(Path(path).parts[:2]) for path in tracked} - {"ecommerce_dbt/.user.yml"}  # dbt's local user id
    copied = {source.rstrip("/") for sources, _ in copies(text) for source in sources}
    return [f"docker/Dockerfile does not copy {part}" for part in sorted(parts)
            if part not in copied and "ecommerce_dbt" not in copied]


# --- checks ----------------------------------------------------------------------------------------------


def service_problems(compose: Mapping[str, Any]) -> list[str]:
    services = compose.get("services", {})
    problems = [f"missing service {name}" for name in SERVICES if name not in services]
    for group in (PROJECT_IMAGE_SERVICES, SPARK_SERVICES):
        images = {repr((services.get(name, {}).get("image"), services.get(name, {}).get("build"))) for name in group}
        if len(images) != 1:
            problems.append(f"{', '.join(group)} must run one image (same image and build): {images}")
    for name, service in services.items():
        one_shot = any(dep.get("condition") == "service_completed_successfully"
                       for other in services.values()
                       for dep_name, dep in _depends_on(other).items() if dep_name == name)
        if not one_shot and service.get("restart") in (None, "no"):
            problems.append(f"{name}: a long-running service needs a restart policy")
    return problems


def _depends_on(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    value = service.get("depends_on", {})
    return {name: {"condition": "service_started"} for name in value} if isinstance(value, list) else value


def dependency_problems(compose: Mapping[str, Any]) -> list[str]:
    services, problems = compose["services"], []
    for name, service in services.items():
        for target, spec in _depends_on(service).items():
            if target not in services:
                problems.append(f"{name} depends on {target}, which is not a service")
                continue
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy" and not has_healthcheck(services[target]):
                problems.append(f"{name} waits for {target} to be healthy, but {target} has no healthcheck")
            if condition == "service_completed_successfully" and services[target].get("restart", "no") != "no":
                problems.append(f"{name} waits for {target} to complete, but {target} restarts")
    wanted = {
        "code-server": {"postgres": "service_healthy", "minio-init": "service_completed_successfully",
                        "spark-master": "service_healthy"},
        "webserver": {"postgres": "service_healthy", "code-server": "service_healthy"},
        "daemon": {"postgres": "service_healthy", "code-server": "service_healthy"},
        "minio-init": {"minio": "service_healthy"},
        "spark-worker": {"spark-master": "service_healthy"},
    }
    for name, targets in wanted.items():
        actual = _depends_on(services.get(name, {}))
        for target, condition in targets.items():
            if actual.get(target, {}).get("condition") != condition:
                problems.append(f"{name} should wait for {target} with condition {condition}")
    return problems


@functools.cache
def _spark_classes() -> frozenset[str]:
    import pyspark

    names: set[str] = set()
    for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar"):
        with zipfile.ZipFile(jar) as archive:
            names.update(name[:-6].replace("/", ".") for name in archive.namelist()
                         if name.startswith("org/apache/spark/") and name.endswith(".class"))
    return frozenset(names)


def command_problems(compose: Mapping[str, Any], code_dockerfile: str) -> list[str]:
    """Modules, classes and files each command names exist (files: in the repository and in the image)."""
    problems = []
    workdir = image_workdir(code_dockerfile)
    for name, service in compose["services"].items():
        args = command(service)
        module = option(args, "-m", "--module-name")
        if module and importlib.util.find_spec(module) is None:
            problems.append(f"{name}: module {module} is not importable")
        for arg in args:
            if SPARK_CLASS.match(arg) and arg not in _spark_classes():
                problems.append(f"{name}: class {arg} is not in the installed pyspark's jars")
            in_image = arg.startswith("/opt/dagster/") and arg.rstrip("/") != workdir.rstrip("/")
            if in_image and service.get("build", {}).get("dockerfile") == "docker/Dockerfile" \
                    and image_path_in_repo(code_dockerfile, arg) is None:
                problems.append(f"{name}: {arg} is not copied into the image from a file in the repository")
        build = service.get("build")
        if build:
            context = ROOT / build.get("context", ".")
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problems.append(f"{name}: no Dockerfile {build.get('dockerfile')} in {context}")
    return problems


def _lake_bucket(url: str) -> str | None:
    match = re.match(r"^s3://([^/]+)", url or "")
    return match[1] if match else None


def _size_mb(value: str) -> int:
    number, unit = int(value[:-1]), value[-1].lower()
    return number * (1024 if unit == "g" else 1)


def environment_problems(compose: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    try:
        envs = {name: service_env(compose, name, env) for name in compose["services"]}
    except InterpolationError as error:
        return [f"interpolation: {error}"]
    code = envs.get("code-server", {})

    # The code location loads, in the production shape.
    try:
        settings = load_settings(env=code, cwd=ROOT)
    except SettingsError as error:
        return problems + [f"code-server: load_settings fails: {error}"]
    master = compose["services"].get("spark-master", {})
    master_url = f"spark://{master.get('hostname', 'spark-master')}:{option(command(master), '--port') or 7077}"
    if not settings.lake_on_s3:
        problems.append(f"code-server: the lake is not on S3 ({settings.lake_url})")
    if settings.spark_master != master_url:
        problems.append(f"code-server: SPARK_MASTER={settings.spark_master}, the master is {master_url}")
    if settings.spark_lake_access != "s3a":
        problems.append("code-server: executors on other containers need ECOMMERCE_SPARK_LAKE_ACCESS=s3a")
    missing = sorted({name for name, _, _ in VARIABLES} - set(code) - NOT_DEPLOYED)
    if missing:
        problems.append(f"code-server does not pass {', '.join(missing)}")
    mounts = [volume.split(":")[1] for volume in compose["services"]["code-server"].get("volumes", [])
              if isinstance(volume, str)]
    for label, path in (("ECOMMERCE_DUCKDB_PATH", settings.duckdb_path),
                        ("ECOMMERCE_STAGING_DIR", settings.staging_dir),
                        ("ECOMMERCE_REPORTS_DIR", settings.reports_dir)):
        if not any(str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount for mount in mounts):
            problems.append(f"code-server: {label}={path} is not on a volume, it would not survive a restart")

    # Every Dagster process opens the same PostgreSQL instance.
    postgres = envs.get("postgres", {})
    expected = {"DAGSTER_PG_USER": postgres.get("POSTGRES_USER"), "DAGSTER_PG_PASSWORD": postgres.get("POSTGRES_PASSWORD"),
                "DAGSTER_PG_HOST": "postgres", "DAGSTER_PG_PORT": "5432",
                "DAGSTER_PG_DB": postgres.get("POSTGRES_DB")}
    for name in DAGSTER_SERVICES:
        for variable in PG_VARIABLES:
            if not envs.get(name, {}).get(variable):
                problems.append(f"{name}: {variable} is not set")
            elif envs[name][variable] != expected[variable]:
                problems.append(f"{name}: {variable}={envs[name][variable]!r}, postgres has {expected[variable]!r}")

    # Everything that touches the lake sees the same bucket with the same credentials.
    lake_keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
    init = envs.get("minio-init", {})
    if _lake_bucket(init.get("ECOMMERCE_LAKE", "")) != _lake_bucket(code.get("ECOMMERCE_LAKE", "")):
        problems.append(f"minio-init creates {init.get('ECOMMERCE_LAKE')!r}, "
                        f"the code server uses {code.get('ECOMMERCE_LAKE')!r}")
    for name in ("minio-init", "spark-worker"):
        for key in lake_keys + (("ECOMMERCE_S3_ENDPOINT_URL",) if name == "minio-init" else ()):
            if envs.get(name, {}).get(key) != code.get(key):
                problems.append(f"{name}: {key} differs from the code server's")
    minio = envs.get("minio", {})
    if settings.s3_endpoint_url == "http://minio:9000" and (
        minio.get("MINIO_ROOT_USER") != code.get("AWS_ACCESS_KEY_ID")
        or minio.get("MINIO_ROOT_PASSWORD") != code.get("AWS_SECRET_ACCESS_KEY")
    ):
        problems.append("the code server's AWS keys are not MinIO's root credentials")

    # An executor fits in one worker, or it never starts.
    worker = envs.get("spark-worker", {})
    worker_memory = _size_mb(worker.get("SPARK_WORKER_MEMORY", "1g"))
    if settings.spark_executor_memory and _size_mb(settings.spark_executor_memory) > worker_memory:
        problems.append(f"executor memory {settings.spark_executor_memory} > worker memory {worker.get('SPARK_WORKER_MEMORY')}")
    if settings.spark_executor_cores and settings.spark_executor_cores > int(worker.get("SPARK_WORKER_CORES", "1")):
        problems.append(f"executor cores {settings.spark_executor_cores} > worker cores {worker.get('SPARK_WORKER_CORES')}")
    return problems


def instance_problems(service_environment: Mapping[str, str], dagster_home: Path) -> list[str]:
    """config/dagster.production.yaml, as $DAGSTER_HOME/dagster.yaml, loads with this environment."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config

    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    values = {key: service_environment[key] for key in PG_VARIABLES if key in service_environment}
    with mock.patch.dict(os.environ, values):
        for key in set(PG_VARIABLES) - set(values):
            os.environ.pop(key, None)
        config, _ = dagster_instance_config(str(dagster_home))
        storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
        if not storage.success:
            return [error.message.splitlines()[0] for error in storage.errors]
        url = pg_url_from_config(storage.value)
    if "@postgres:5432/" not in url:
        return [f"the instance connects to {url.split('@')[-1]}, not the postgres service"]
    return []


def _published(service: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(host ip, host port, container port) of each published port."""
    result = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            result.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"])))
            continue
        parts = interpolate(str(port), env).split("/")[0].split(":")
        if len(parts) == 3:
            result.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            result.append(("", parts[0], parts[1]))
    return result


def port_problems(compose: Mapping[str, Any], env: Mapping[str, str], workspace: Mapping[str, Any]) -> list[str]:
    services, problems, seen = compose["services"], [], {}
    for name, service in services.items():
        for host_ip, host_port, _ in _published(service, env):
            if host_ip != "127.0.0.1":
                problems.append(f"{name}: port {host_port} is published on {host_ip or 'every interface'}, not 127.0.0.1")
            if host_port in seen:
                problems.append(f"host port {host_port} is published by {seen[host_port]} and {name}")
            seen[host_port] = name

    webserver = services.get("webserver", {})
    ui_port = option(command(webserver), "-p", "--port")
    if [c for _, _, c in _published(webserver, env)] != [ui_port]:
        problems.append(f"webserver listens on {ui_port} but publishes {_published(webserver, env)}")
    if f"localhost:{ui_port}/server_info" not in healthcheck_test(webserver):
        problems.append("webserver: the healthcheck does not ask /server_info on the UI port")

    code = services.get("code-server", {})
    grpc_port = option(command(code), "-p", "--port")
    if option(command(code), "-h", "--host") != "0.0.0.0":
        problems.append("code-server must listen on 0.0.0.0 to be reachable from the other containers")
    if option(healthcheck_test(code).split(), "-p", "--port") != grpc_port:
        problems.append("code-server: the healthcheck does not check the gRPC port")
    servers = [entry["grpc_server"] for entry in workspace.get("load_from", []) if "grpc_server" in entry]
    if len(servers) != 1:
        problems.append(f"{WORKSPACE.name} should load the one gRPC code server, has {servers}")
    for server in servers:
        if server.get("host") not in ("code-server", code.get("hostname")) or str(server.get("port")) != grpc_port:
            problems.append(f"{WORKSPACE.name} points at {server.get('host')}:{server.get('port')}, "
                            f"the code server is code-server:{grpc_port}")
    for name in ("webserver", "daemon"):
        workspace_arg = option(command(services.get(name, {})), "-w", "--workspace")
        if workspace_arg is None or PurePosixPath(workspace_arg).name != WORKSPACE.name:
            problems.append(f"{name} does not load {WORKSPACE.name}")

    master = services.get("spark-master", {})
    master_args = command(master)
    master_hosts = {"spark-master", master.get("hostname"), option(master_args, "--host", "-h")}
    rpc_port, ui = option(master_args, "--port", "-p"), option(master_args, "--webui-port")
    if [c for _, _, c in _published(master, env)] != [ui]:
        problems.append(f"spark-master UI is on {ui} but publishes {_published(master, env)}")
    if f"localhost:{ui}/" not in healthcheck_test(master):
        problems.append("spark-master: the healthcheck does not ask the master's UI port")
    urls = [arg for arg in command(services.get("spark-worker", {})) if arg.startswith("spark://")]
    for url in urls or ["(none)"]:
        match = re.fullmatch(r"spark://([^:/]+):(\d+)", url)
        if not match or match[1] not in master_hosts or match[2] != rpc_port:
            problems.append(f"spark-worker connects to {url}, the master is spark://spark-master:{rpc_port}")
    worker = services.get("spark-worker", {})
    if worker.get("ports") or worker.get("hostname") or worker.get("container_name"):
        problems.append("spark-worker must publish no port and have no fixed name, so that it can be scaled")
    return problems


def volume_problems(compose: Mapping[str, Any]) -> list[str]:
    declared = set(compose.get("volumes") or {})
    used: dict[str, list[str]] = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.get("source") if isinstance(volume, dict) else volume.split(":")[0]
            if isinstance(volume, dict) and volume.get("type", "volume") != "volume":
                continue
            if source and not source.startswith(("/", ".", "~", "$")):
                used.setdefault(source, []).append(name)
    problems = [f"volume {volume} (used by {', '.join(names)}) is not declared" for volume, names in used.items()
                if volume not in declared]
    problems += [f"volume {volume} is declared but no service uses it" for volume in declared - set(used)]
    for name, volume in (("postgres", "postgres-data"), ("minio", "minio-data"), ("code-server", "ecommerce-data"),
                         ("code-server", "ecommerce-staging")):
        if name not in used.get(volume, []):
            problems.append(f"{name} keeps its data outside the named volume {volume}")
    return problems


def _pin(constraints: str, package: str) -> str | None:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", constraints, re.M | re.I)
    return match[1] if match else None


def version_problems(spark_dockerfile: str, code_dockerfile: str, constraints: str) -> list[str]:
    import pyspark

    problems = []
    spark_args, code_args = dockerfile_args(spark_dockerfile), dockerfile_args(code_dockerfile)
    pinned = _pin(constraints, "pyspark")
    if spark_args.get("PYSPARK_VERSION") != pinned:
        problems.append(f"spark.Dockerfile installs pyspark {spark_args.get('PYSPARK_VERSION')}, constraints.txt pins {pinned}")
    if importlib.metadata.version("pyspark") != pinned:
        problems.append(f"the installed pyspark {importlib.metadata.version('pyspark')} is not the pinned {pinned}")
    bundled = sorted(re.sub(r"^hadoop-client-api-(.+)\.jar$", r"\1", jar.name)
                     for jar in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    for name, args in (("spark.Dockerfile", spark_args), ("Dockerfile", code_args)):
        if [args.get("HADOOP_VERSION")] != bundled:
            problems.append(f"{name}: hadoop-aws {args.get('HADOOP_VERSION')} does not match pyspark's Hadoop {bundled}")
    for key in ("HADOOP_VERSION", "AWS_SDK_VERSION", "ANALYTICS_ACCELERATOR_VERSION", "PYTHON_IMAGE", "JRE_IMAGE"):
        if spark_args.get(key) is None or spark_args.get(key) != code_args.get(key):
            problems.append(f"{key}: spark.Dockerfile has {spark_args.get(key)}, Dockerfile has {code_args.get(key)}")
    python = re.search(r"python:(\d+\.\d+)", spark_args.get("PYTHON_IMAGE", ""))
    if not python or python[1] != f"{sys.version_info.major}.{sys.version_info.minor}":
        problems.append(f"the images' Python {python and python[1]} is not the one tested here ({sys.version_info[:2]})")
    if "-c constraints.txt" not in code_dockerfile or "constraints.txt" not in spark_dockerfile:
        problems.append("both images must install with constraints.txt")
    return problems


def secret_problems(compose: Mapping[str, Any], env_example: Mapping[str, str]) -> list[str]:
    """Secrets come from .env only: no literal and no default value in the compose file."""
    problems = []
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        items = environment.items() if isinstance(environment, dict) else (i.partition("=")[::2] for i in environment)
        for key, value in items:
            if SECRET_NAME.search(key) or key in ("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"):
                if not re.fullmatch(r"\$\{[A-Za-z_]\w*(:?-|:?\?[^}]*)?\}", str(value)):
                    problems.append(f"{name}: {key} must come from .env as ${{VAR}}, not {value!r}")
    for key, value in env_example.items():
        if SECRET_NAME.search(key) and value and "change-me" not in value:
            problems.append(f".env.example: {key} must be empty or an obvious change-me placeholder")
    return problems


# --- the real files ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return read_env_file()


def test_compose_file_parses_and_has_the_production_services(compose):
    assert set(SERVICES) <= set(compose["services"])
    assert service_problems(compose) == []


def test_env_example_covers_every_interpolated_variable(compose, env):
    assert sorted(variables_used(compose) - set(env)) == []
    resolved = interpolate_all(compose, env)  # nothing required is missing
    assert resolved["services"]["webserver"]["ports"] == ["127.0.0.1:3000:3000"]


def test_commands_name_modules_classes_and_files_that_exist(compose):
    assert command_problems(compose, CODE_DOCKERFILE.read_text()) == []
    assert image_path_in_repo(CODE_DOCKERFILE.read_text(), "/opt/dagster/app/config/workspace.compose.yaml") == WORKSPACE
    assert image_path_in_repo(CODE_DOCKERFILE.read_text(), "/opt/dagster/app/docker/minio-init.sh") == MINIO_INIT


def test_dockerfiles_copy_only_what_exists_and_the_whole_dbt_project():
    code, spark = CODE_DOCKERFILE.read_text(), SPARK_DOCKERFILE.read_text()
    assert dockerfile_problems(code, "Dockerfile") + dockerfile_problems(spark, "spark.Dockerfile") == []
    assert dbt_project_problems(code) == []
    # The instance the image runs with is the production one.
    home = image_env(code)["DAGSTER_HOME"]
    assert image_path_in_repo(code, f"{home}/dagster.yaml") == INSTANCE_YAML


def test_dependencies_point_at_services_that_can_satisfy_them(compose):
    assert dependency_problems(compose) == []


def test_code_server_environment_loads_the_production_settings(compose, env):
    assert environment_problems(compose, env) == []
    settings = load_settings(env=service_env(compose, "code-server", env), cwd=ROOT)
    assert settings.lake_on_s3 and settings.s3_bucket_prefix == (env["LAKE_BUCKET"], env["LAKE_PREFIX"])
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.spark_master == "spark://spark-master:7077"
    assert (settings.spark_executor_memory, settings.spark_executor_cores, settings.spark_cores_max) == ("3g", 2, 2)
    assert settings.warehouse == "duckdb" and settings.dbt_target == "duckdb"
    assert str(settings.duckdb_path).startswith("/opt/dagster/data/")


def test_snowflake_values_reach_the_code_server(compose, env, tmp_path):
    settings = load_settings(env=service_env(compose, "code-server", env | SNOWFLAKE_OVERLAY), cwd=ROOT)
    assert settings.warehouse == "snowflake" and settings.dbt_target == "snowflake"
    assert settings.snowflake is not None
    assert (settings.snowflake.account, settings.snowflake.user, settings.snowflake.auth) == (
        "myorg-myaccount", "ECOMMERCE_LOADER", "password")
    assert (settings.snowflake.role, settings.snowflake.warehouse, settings.snowflake.stage) == (
        "TRANSFORMER", "TRANSFORMING", "raw.lake_stage")
    # Key-pair auth: the key file's path is passed through (the README mounts it as a secret).
    key = tmp_path / "rsa_key.p8"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    overlay = SNOWFLAKE_OVERLAY | {"SNOWFLAKE_PASSWORD": "", "SNOWFLAKE_PRIVATE_KEY_PATH": str(key)}
    settings = load_settings(env=service_env(compose, "code-server", env | overlay), cwd=ROOT)
    assert settings.snowflake.auth == "key_pair" and settings.snowflake.private_key_path == str(key)
    assert service_env(compose, "code-server", env | {"SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "x"})[
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"] == "x"


def test_an_empty_endpoint_points_the_lake_at_aws_s3(compose, env):
    aws = env | {"ECOMMERCE_S3_ENDPOINT_URL": "", "LAKE_BUCKET": "acme-ecommerce-lake", "AWS_REGION": "eu-west-1"}
    settings = load_settings(env=service_env(compose, "code-server", aws), cwd=ROOT)
    assert settings.s3_endpoint_url is None and settings.aws_region == "eu-west-1"
    assert settings.lake_url == "s3://acme-ecommerce-lake/lake"


@pytest.mark.parametrize("service", DAGSTER_SERVICES)
def test_every_dagster_process_loads_the_postgres_instance(compose, env, service, tmp_path):
    assert instance_problems(service_env(compose, service, env), tmp_path / "dagster_home") == []


def test_ports_are_consistent_and_local(compose, env):
    assert port_problems(compose, env, yaml.safe_load(WORKSPACE.read_text())) == []


def test_named_volumes_are_declared_and_used(compose):
    assert volume_problems(compose) == []


def test_spark_and_hadoop_versions_match_the_driver():
    assert version_problems(SPARK_DOCKERFILE.read_text(), CODE_DOCKERFILE.read_text(),
                            (ROOT / "constraints.txt").read_text()) == []


def test_secrets_only_come_from_env(compose, env):
    assert secret_problems(compose, env) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_minio_init(environment: Mapping[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}
    return subprocess.run(["sh", str(MINIO_INIT)], env=base | dict(environment), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_minio_init_creates_the_lake_bucket_once(compose, env):
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        environment = service_env(compose, "minio-init", env) | {"ECOMMERCE_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        first = _run_minio_init(environment)
        assert first.returncode == 0, first.stderr
        assert f"created s3://{env['LAKE_BUCKET']}" in first.stdout
        second = _run_minio_init(environment)
        assert second.returncode == 0 and "already exists" in second.stdout, second.stderr
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        assert env["LAKE_BUCKET"] in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]
    finally:
        server.stop()


def test_minio_init_gives_up_on_an_endpoint_that_never_answers(compose, env):
    environment = service_env(compose, "minio-init", env) | {
        "ECOMMERCE_S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}", "LAKE_INIT_TIMEOUT_SECONDS": "2"}
    result = _run_minio_init(environment)
    assert result.returncode != 0
    assert f"could not make sure s3://{env['LAKE_BUCKET']} exists" in result.stderr


# --- broken copies: each check reports what was broken -----------------------------------------------------


def _delete_env(service: str, key: str) -> Callable[[dict], None]:
    return lambda c: c["services"][service]["environment"].pop(key)


def _env(service: str, key: str, value: str) -> Callable[[dict], None]:
    return lambda c: c["services"][service]["environment"].__setitem__(key, value)


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def mutate(c: dict) -> None:
        node = c
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _replace_arg(service: str, old: str, new: str) -> Callable[[dict], None]:
    return lambda c: c["services"][service].__setitem__(
        "command", [new if arg == old else arg for arg in command(c["services"][service])])


BROKEN = {
    "code server without the instance password": (
        _delete_env("code-server", "DAGSTER_PG_PASSWORD"), "environment", "DAGSTER_PG_PASSWORD"),
    "daemon without the instance host": (
        _delete_env("daemon", "DAGSTER_PG_HOST"), "environment", "DAGSTER_PG_HOST"),
    "lake left on the local default": (
        _delete_env("code-server", "ECOMMERCE_LAKE"), "environment", "not on S3"),
    "a settings variable not passed": (
        _delete_env("code-server", "ECOMMERCE_LAST_WEEK"), "environment", "ECOMMERCE_LAST_WEEK"),
    "invalid setting": (
        _env("code-server", "ECOMMERCE_WAREHOUSE", "oracle"), "environment", "load_settings fails"),
    "wrong master port": (
        _env("code-server", "SPARK_MASTER", "spark://spark-master:7000"),
        "environment", "SPARK_MASTER"),
    "warehouse off the volume": (
        _env("code-server", "ECOMMERCE_DUCKDB_PATH", "/tmp/w.duckdb"),
        "environment", "not on a volume"),
    "bucket of minio-init differs": (
        _env("minio-init", "ECOMMERCE_LAKE", "s3://other-bucket/lake"),
        "environment", "minio-init creates"),
    "worker without lake credentials": (
        _delete_env("spark-worker", "AWS_SECRET_ACCESS_KEY"),
        "environment", "spark-worker: AWS_SECRET_ACCESS_KEY"),
    "executor larger than a worker": (
        _env("code-server", "ECOMMERCE_SPARK_EXECUTOR_MEMORY", "8g"),
        "environment", "executor memory"),
    "required variable missing from .env": (
        _env("postgres", "POSTGRES_PASSWORD", "${NOT_IN_ENV_EXAMPLE:?set it}"),
        "environment", "NOT_IN_ENV_EXAMPLE"),
    "UI published on every interface": (
        _set(("services", "webserver", "ports"), ["3000:3000"]), "ports", "every interface"),
    "UI published on the wrong container port": (
        _set(("services", "webserver", "ports"), ["127.0.0.1:3000:3001"]),
        "ports", "webserver listens on 3000"),
    "host port published twice": (
        _set(("services", "spark-master", "ports"), ["127.0.0.1:3000:8080"]),
        "ports", "published by"),
    "code server on another port": (
        _replace_arg("code-server", "4000", "4001"), "ports", "workspace.compose.yaml points at"),
    "worker pointed at the wrong port": (
        _replace_arg("spark-worker", "spark://spark-master:7077", "spark://spark-master:7078"),
        "ports", "spark-worker connects to"),
    "worker pointed at the wrong host": (
        _replace_arg("spark-worker", "spark://spark-master:7077", "spark://master:7077"),
        "ports", "spark-worker connects to"),
    "unknown dependency": (
        _set(("services", "webserver", "depends_on", "redis"), {"condition": "service_started"}),
        "dependencies", "redis"),
    "healthy condition on a one-shot": (
        _set(("services", "code-server", "depends_on", "minio-init"), {"condition": "service_healthy"}),
        "dependencies", "no healthcheck"),
    "healthcheck removed": (
        lambda c: c["services"]["postgres"].pop("healthcheck"),
        "dependencies", "postgres has no healthcheck"),
    "module that does not exist": (
        _replace_arg("code-server", "ecommerce_assets.definitions", "ecommerce_assets.definitons"),
        "commands", "not importable"),
    "Spark class that does not exist": (
        _replace_arg("spark-master", "org.apache.spark.deploy.master.Master", "org.apache.spark.deploy.Master"),
        "commands", "not in the installed pyspark"),
    "workspace file that is not in the image": (
        _replace_arg("daemon", "/opt/dagster/app/config/workspace.compose.yaml", "/opt/dagster/app/config/workspace.yml"),
        "commands", "not copied into the image"),
    "undeclared volume": (
        lambda c: c["services"]["daemon"]["volumes"].append("daemon-cache:/cache"),
        "volumes", "daemon-cache"),
    "unused volume": (_set(("volumes", "spare"), None), "volumes", "spare"),
    "postgres data not on a volume": (
        _set(("services", "postgres", "volumes"), []), "volumes", "postgres keeps its data"),
    "webserver on another image": (
        _set(("services", "webserver", "image"), "dagster/dagster-k8s:latest"),
        "services", "must run one image"),
    "no restart policy": (lambda c: c["services"]["daemon"].pop("restart"),
    "services", "restart policy"),
    "hard-coded secret": (
        _env("postgres", "POSTGRES_PASSWORD", "hunter2"), "secrets", "POSTGRES_PASSWORD"),
    "secret with a default": (
        _env("minio", "MINIO_ROOT_PASSWORD", "${AWS_SECRET_ACCESS_KEY:-minioadmin}"),
        "secrets", "MINIO_ROOT_PASSWORD"),
}


def _check(kind: str, compose: dict, env: dict) -> list[str]:
    return {
        "environment": lambda: environment_problems(compose, env),
        "ports": lambda: port_problems(compose, env, yaml.safe_load(WORKSPACE.read_text())),
        "dependencies": lambda: dependency_problems(compose),
        "commands": lambda: command_problems(compose, CODE_DOCKERFILE.read_text()),
        "volumes": lambda: volume_problems(compose),
        "services": lambda: service_problems(compose),
        "secrets": lambda: secret_problems(compose, env),
    }[kind]()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_compose_file_is_reported(compose, env, case):
    mutate, kind, expected = BROKEN[case]
    assert _check(kind, compose, env) == []
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = _check(kind, broken, env)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("spark", "ARG PYSPARK_VERSION=4.3.0", "ARG PYSPARK_VERSION=4.2.0", "constraints.txt pins"),
        ("spark", "ARG HADOOP_VERSION=3.5.0", "ARG HADOOP_VERSION=3.4.1", "does not match pyspark's Hadoop"),
        ("code", "ARG AWS_SDK_VERSION=2.35.4", "ARG AWS_SDK_VERSION=2.24.6", "AWS_SDK_VERSION"),
        ("code", "ARG JRE_IMAGE=eclipse-temurin:17-jre", "ARG JRE_IMAGE=eclipse-temurin:21-jre", "JRE_IMAGE"),
    ],
)
def test_a_version_out_of_step_is_reported(file, old, new, expected):
    spark, code = SPARK_DOCKERFILE.read_text(), CODE_DOCKERFILE.read_text()
    assert old in (spark if file == "spark" else code)
    if file == "spark":
        spark = spark.replace(old, new)
    else:
        code = code.replace(old, new)
    problems = version_problems(spark, code, (ROOT / "constraints.txt").read_text())
    assert any(expected in problem for problem in problems), problems


def test_a_missing_copy_source_or_instance_variable_is_reported(compose, env, tmp_path):
    broken = CODE_DOCKERFILE.read_text() + "\nCOPY scripts/missing.sh ./scripts/\n"
    assert any("scripts/missing.sh" in problem for problem in dockerfile_problems(broken, "Dockerfile"))
    dbt_missing = CODE_DOCKERFILE.read_text().replace("COPY ecommerce_dbt/macros ./ecommerce_dbt/macros\n", "")
    assert dbt_project_problems(dbt_missing) == ["docker/Dockerfile does not copy ecommerce_dbt/macros"]
    without_password = {k: v for k, v in service_env(compose, "daemon", env).items() if k != "DAGSTER_PG_PASSWORD"}
    assert any("DAGSTER_PG_PASSWORD" in problem for problem in instance_problems(without_password, tmp_path / "home"))


def test_the_interpolation_follows_compose_rules():
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-${SET}}", env) == "v d  d v"
    assert interpolate("${SET:+r}|${EMPTY:+r}|${EMPTY+r}|$$SET|$SET", env) == "r||r|$SET|v"
    with pytest.raises(InterpolationError, match="EMPTY: give it"):
        interpolate("${EMPTY:?give it}", env)
    assert interpolate("${EMPTY?fine}", env) == ""
