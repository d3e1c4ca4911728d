"""docker-compose.yaml, its Dockerfiles, .env.example, the workspace and the instance file agree, checked
without a Docker engine: Docker Compose's own `config` resolves the file (see compose_support.py).

The real files give no problem; the broken copies at the end give one, so a check that cannot fail is caught.
"""

import copy

import pytest
import yaml
from dotenv import dotenv_values

from ecommerce_assets.lib.settings import load_settings
from ecommerce_assets_tests.compose_support import (
    CODE_DOCKERFILE,
    COMPOSE_FILE,
    DAGSTER_SERVICES,
    ENV_EXAMPLE,
    INSTANCE_YAML,
    MINIO_INIT,
    ROOT,
    SERVICES,
    SPARK_DOCKERFILE,
    WORKSPACE,
    ComposeError,
    command_problems,
    compose_config,
    copy_problems,
    dbt_project_problems,
    dependency_problems,
    environment_problems,
    instance_problems,
    port_problems,
    read_image,
    secret_problems,
    service_problems,
    version_problems,
)

pytestmark = pytest.mark.unit

SNOWFLAKE = {
    "ECOMMERCE_WAREHOUSE": "snowflake", "SNOWFLAKE_ACCOUNT": "myorg-myaccount", "SNOWFLAKE_USER": "ECOMMERCE_LOADER",
    "SNOWFLAKE_PASSWORD": "not-a-real-password", "SNOWFLAKE_ROLE": "TRANSFORMER", "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
    "ECOMMERCE_SNOWFLAKE_STAGE": "raw.lake_stage",
}


@pytest.fixture(scope="module")
def config():
    return compose_config()


@pytest.fixture(scope="module")
def raw():
    return compose_config(options=("--no-interpolate",))


@pytest.fixture(scope="module")
def env_example():
    return dotenv_values(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def code_image():
    return read_image(CODE_DOCKERFILE.read_text())


def workspace():
    return yaml.safe_load(WORKSPACE.read_text())


def code_settings(environment):
    """The settings the code server loads when compose runs with `environment` in the shell (over .env)."""
    return load_settings(env=compose_config(environment=environment)["services"]["code-server"]["environment"], cwd=ROOT)


def test_compose_resolves_the_production_services_from_env_example(config, env_example):
    assert set(config["services"]) == SERVICES
    assert service_problems(config) == []
    variables = compose_config(options=("--variables",))
    assert sorted(set(variables) - set(env_example)) == []  # every variable the file uses is documented
    assert config["services"]["webserver"]["ports"][0]["published"] == env_example["DAGSTER_WEBSERVER_PORT"]


def test_every_setting_reaches_the_code_server_in_the_production_shape(config, env_example):
    assert environment_problems(config) == []
    settings = load_settings(env=config["services"]["code-server"]["environment"], cwd=ROOT)
    assert settings.lake_on_s3 and settings.s3_bucket_prefix == (env_example["LAKE_BUCKET"], env_example["LAKE_PREFIX"])
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.spark_master == "spark://spark-master:7077"
    assert (settings.spark_executor_memory, settings.spark_executor_cores, settings.spark_cores_max) == ("3g", 2, 2)
    assert settings.warehouse == "duckdb" and settings.dbt_target == "duckdb"
    assert str(settings.duckdb_path).startswith("/opt/dagster/data/")


def test_snowflake_values_reach_the_code_server(tmp_path):
    settings = code_settings(SNOWFLAKE)
    assert settings.warehouse == "snowflake" and settings.dbt_target == "snowflake"
    snowflake = settings.snowflake
    assert (snowflake.account, snowflake.user, snowflake.auth, snowflake.password_set) == (
        "myorg-myaccount", "ECOMMERCE_LOADER", "password", True)
    assert (snowflake.role, snowflake.warehouse, snowflake.stage) == ("TRANSFORMER", "TRANSFORMING", "raw.lake_stage")
    assert (snowflake.host, snowflake.port, snowflake.protocol) == (None, 443, "https")  # the account's own endpoint
    # Key-pair auth: the key file's path and its passphrase are passed through (docs/production.md mounts the key as a secret).
    key = tmp_path / "rsa_key.p8"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    snowflake = code_settings(SNOWFLAKE | {"SNOWFLAKE_PASSWORD": "", "SNOWFLAKE_PRIVATE_KEY_PATH": str(key),
                                           "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "x"}).snowflake
    assert (snowflake.auth, snowflake.private_key_path, snowflake.private_key_passphrase_set) == (
        "key_pair", str(key), True)


def test_an_empty_endpoint_points_the_lake_at_aws_s3():
    # ${ECOMMERCE_S3_ENDPOINT_URL-http://minio:9000} keeps a value set empty in .env, as `-` (not `:-`) promises.
    settings = code_settings({"ECOMMERCE_S3_ENDPOINT_URL": "", "LAKE_BUCKET": "acme-ecommerce-lake",
                              "AWS_REGION": "eu-west-1"})
    assert settings.s3_endpoint_url is None and settings.aws_region == "eu-west-1"
    assert settings.lake_url == "s3://acme-ecommerce-lake/lake"


@pytest.mark.parametrize("service", DAGSTER_SERVICES)
def test_every_dagster_process_loads_the_postgres_instance(config, service, tmp_path):
    assert instance_problems(config["services"][service]["environment"], tmp_path / "dagster_home") == []


def test_ports_agree_between_services_healthchecks_and_the_workspace(config):
    assert port_problems(config, workspace()) == []


def test_dependencies_wait_for_what_they_need(config):
    assert dependency_problems(config) == []


def test_commands_name_modules_classes_and_files_that_exist(config, code_image):
    assert command_problems(config, code_image) == []
    assert code_image.path_in_repo(f"{code_image.workdir}/config/workspace.compose.yaml") == WORKSPACE
    assert code_image.path_in_repo(f"{code_image.workdir}/docker/minio-init.sh") == MINIO_INIT


def test_dockerfiles_copy_what_exists_the_whole_dbt_project_and_the_production_instance(code_image):
    spark_image = read_image(SPARK_DOCKERFILE.read_text())
    assert copy_problems(code_image, "Dockerfile") + copy_problems(spark_image, "spark.Dockerfile") == []
    assert dbt_project_problems(code_image) == []
    assert code_image.path_in_repo(f"{code_image.env['DAGSTER_HOME']}/dagster.yaml") == INSTANCE_YAML


def test_versions_agree_between_dockerfiles_constraints_and_pyproject(code_image):
    problems = version_problems(read_image(SPARK_DOCKERFILE.read_text()), code_image,
                                (ROOT / "constraints.txt").read_text(), (ROOT / "pyproject.toml").read_text())
    assert problems == []


def test_secrets_only_come_from_env(raw, env_example):
    assert secret_problems(raw, env_example) == []


# --- broken copies: each check reports what was broken -------------------------------------------------


def _env(service, key, value=None):
    def mutate(c):
        if value is None:
            del c["services"][service]["environment"][key]
        else:
            c["services"][service]["environment"][key] = value
    return mutate


def _arg(service, old, new):
    return lambda c: c["services"][service].__setitem__(
        "command", [new if arg == old else arg for arg in c["services"][service]["command"]])


BROKEN = {
    "a settings variable not passed": ("environment", _env("code-server", "ECOMMERCE_LAST_WEEK"), "ECOMMERCE_LAST_WEEK"),
    "daemon without the instance host": ("environment", _env("daemon", "DAGSTER_PG_HOST"), "daemon: DAGSTER_PG_HOST"),
    "invalid setting": ("environment", _env("code-server", "ECOMMERCE_WAREHOUSE", "oracle"), "load_settings fails"),
    "wrong master port": ("environment", _env("code-server", "SPARK_MASTER", "spark://spark-master:7000"),
                          "SPARK_MASTER"),
    "warehouse off the volume": ("environment", _env("code-server", "ECOMMERCE_DUCKDB_PATH", "/tmp/w.duckdb"),
                                 "not on a volume"),
    "worker without lake credentials": ("environment", _env("spark-worker", "AWS_SECRET_ACCESS_KEY"),
                                        "spark-worker: AWS_SECRET_ACCESS_KEY"),
    "executor larger than a worker": ("environment", _env("code-server", "ECOMMERCE_SPARK_EXECUTOR_MEMORY", "8g"),
                                      "executor memory"),
    "UI published on every interface": ("ports", lambda c: c["services"]["webserver"]["ports"][0].pop("host_ip"),
                                        "every interface"),
    "code server on another port": ("ports", _arg("code-server", "4000", "4001"), "workspace.compose.yaml points at"),
    "worker pointed at the wrong port": ("ports", _arg("spark-worker", "spark://spark-master:7077",
                                                       "spark://spark-master:7078"), "spark-worker connects to"),
    "healthy condition on a one-shot": (
        "dependencies",
        lambda c: c["services"]["code-server"]["depends_on"]["minio-init"].update(condition="service_healthy"),
        "minio-init has no healthcheck"),
    "module that does not exist": ("commands", _arg("code-server", "ecommerce_assets.definitions",
                                                    "ecommerce_assets.definitons"), "not importable"),
    "Spark class that does not exist": (
        "commands", _arg("spark-master", "org.apache.spark.deploy.master.Master", "org.apache.spark.deploy.Master"),
        "not in the installed pyspark"),
    "workspace file that is not in the image": (
        "commands",
        _arg("daemon", "/opt/dagster/app/config/workspace.compose.yaml", "/opt/dagster/app/config/workspace.yml"),
        "not copied"),
    "webserver on another image": ("services", lambda c: c["services"]["webserver"].update(image="dagster/dagster-k8s"),
                                   "must run one image"),
    "postgres data not on a volume": ("services", lambda c: c["services"]["postgres"].update(volumes=[]),
                                      "postgres keeps its data"),
    "hard-coded secret": ("secrets", _env("postgres", "POSTGRES_PASSWORD", "hunter2"), "POSTGRES_PASSWORD"),
    "secret with a default": ("secrets", _env("minio", "MINIO_ROOT_PASSWORD", "${AWS_SECRET_ACCESS_KEY:-minioadmin}"),
                              "MINIO_ROOT_PASSWORD"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_compose_file_is_reported(config, raw, env_example, code_image, case):
    kind, mutate, expected = BROKEN[case]

    def check(c):  # the secrets check reads the file before interpolation, the others after
        return {"environment": lambda: environment_problems(c), "ports": lambda: port_problems(c, workspace()),
                "dependencies": lambda: dependency_problems(c), "commands": lambda: command_problems(c, code_image),
                "services": lambda: service_problems(c), "secrets": lambda: secret_problems(c, env_example)}[kind]()

    original = raw if kind == "secrets" else config
    assert check(original) == []
    broken = copy.deepcopy(original)
    mutate(broken)
    problems = check(broken)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["services"]["postgres"]["environment"].update(POSTGRES_PASSWORD="${NOT_IN_ENV_EXAMPLE:?set it}"),
         "required variable NOT_IN_ENV_EXAMPLE is missing a value"),
        (lambda c: c["services"]["daemon"]["volumes"].append("daemon-cache:/cache"), "undefined volume daemon-cache"),
        (lambda c: c["services"]["webserver"]["depends_on"].update(redis={"condition": "service_started"}),
         'undefined service "redis"'),
    ],
    ids=["required variable missing from .env", "undeclared volume", "unknown dependency"],
)
def test_compose_itself_rejects_a_broken_file(mutate, expected):
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    mutate(document)
    with pytest.raises(ComposeError, match=expected):
        compose_config(yaml.safe_dump(document))


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("spark", "ARG PYSPARK_VERSION=4.3.0", "ARG PYSPARK_VERSION=4.2.0", "constraints.txt pins"),
        ("spark", "ARG HADOOP_VERSION=3.5.0", "ARG HADOOP_VERSION=3.4.1", "does not match pyspark's Hadoop"),
        ("code", "ARG JRE_IMAGE=eclipse-temurin:17-jre", "ARG JRE_IMAGE=eclipse-temurin:21-jre", "JRE_IMAGE"),
        ("pyproject", '"pyspark>=4.0,<4.4"', '"pyspark>=4.0,<4.3"', "constraints.txt pins pyspark==4.3.0"),
    ],
)
def test_a_version_out_of_step_is_reported(file, old, new, expected):
    texts = {"spark": SPARK_DOCKERFILE.read_text(), "code": CODE_DOCKERFILE.read_text(),
             "pyproject": (ROOT / "pyproject.toml").read_text()}
    assert old in texts[file]
    texts[file] = texts[file].replace(old, new)
    problems = version_problems(read_image(texts["spark"]), read_image(texts["code"]),
                                (ROOT / "constraints.txt").read_text(), texts["pyproject"])
    assert any(expected in problem for problem in problems), problems


def test_a_missing_copy_source_dbt_folder_or_instance_variable_is_reported(config, tmp_path):
    broken = read_image(CODE_DOCKERFILE.read_text() + "\nCOPY scripts/missing.sh ./scripts/\n")
    assert copy_problems(broken, "Dockerfile") == ["Dockerfile: COPY scripts/missing.sh: no such file in the repository"]
    macros = "COPY ecommerce_dbt/macros ./ecommerce_dbt/macros\n"
    assert macros in CODE_DOCKERFILE.read_text()
    without_macros = read_image(CODE_DOCKERFILE.read_text().replace(macros, ""))
    assert dbt_project_problems(without_macros) == ["docker/Dockerfile does not copy ecommerce_dbt/macros"]
    environment = {k: v for k, v in config["services"]["daemon"]["environment"].items() if k != "DAGSTER_PG_PASSWORD"}
    assert any("DAGSTER_PG_PASSWORD" in problem for problem in instance_problems(environment, tmp_path / "home"))
