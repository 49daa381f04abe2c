"""docker/: the Dockerfile and the CeleryExecutor compose file, checked without a Docker engine.

The compose file is read with PyYAML (merge keys included), its ${...} variables are
interpolated the way Compose does, and the result is checked for structure and for wiring:
which service talks to which, with which credentials, and where state may live. The
Dockerfile is parsed instruction by instruction.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
ENV_EXAMPLE = DOCKER / ".env.example"

TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
# The service keys this file may use; a typo such as `healthchek` would otherwise be ignored
# by a reader of the YAML and rejected only by Compose on the deployment host.
SERVICE_KEYS = {
    "build", "image", "command", "entrypoint", "environment", "env_file", "depends_on",
    "healthcheck", "volumes", "ports", "expose", "restart", "stop_grace_period",
    "stop_signal", "user", "profiles", "deploy", "networks", "labels", "logging",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
DATABASES = {"postgres", "warehouse"}
INIT = "airflow-init"
# Service -> the `airflow` subcommand it runs.
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
AIRFLOW_SERVICES = {*AIRFLOW_COMMANDS, INIT}
EXPECTED_SERVICES = AIRFLOW_SERVICES | DATABASES | {"redis"}
# Secrets every Airflow component must hold identically.
SHARED_SECRETS = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
INTERPOLATION = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariableError(LookupError):
    """A ${NAME:?message} variable has no value."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute ${...} in one string the way Compose does ($$ is a literal $)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["name"] or match["bare"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise MissingVariableError(f"{name}: {arg}")
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return INTERPOLATION.sub(substitute, text)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string of a parsed YAML document (keys stay as written)."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    return node


def variables(node: Any) -> dict[str, set[str]]:
    """Every variable the document uses, with the operators it is used with ('' for none)."""
    found: dict[str, set[str]] = {}
    if isinstance(node, str):
        for match in INTERPOLATION.finditer(node):
            name = match["name"] or match["bare"]
            if name:
                found.setdefault(name, set()).add(match["op"] or "")
    elif isinstance(node, list | dict):
        for item in node.values() if isinstance(node, dict) else node:
            for name, ops in variables(item).items():
                found.setdefault(name, set()).update(ops)
    return found


def env_example() -> tuple[set[str], set[str]]:
    """Variables of docker/.env.example: (set without a value, listed as optional comments)."""
    required, optional = set(), set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Z_][A-Z0-9_]*)=", line.strip()):
            required.add(match[1])
        elif match := re.fullmatch(r"#\s*([A-Z_][A-Z0-9_]*)=.*", line.strip()):
            optional.add(match[1])
    return required, optional


RAW = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
REQUIRED_VARS, OPTIONAL_VARS = env_example()
# Distinct values per secret, so that a crossed wire (a service using the wrong one) shows.
TEST_ENV = {name: f"{name.lower()}-value" for name in REQUIRED_VARS}
COMPOSE = resolve(RAW, TEST_ENV)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def environment(service: str) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two Compose forms it uses."""
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def command(service: str) -> list[str]:
    """A service's command as a list of words."""
    raw = SERVICES[service].get("command")
    if raw is None:
        return []
    return shlex.split(raw) if isinstance(raw, str) else [str(word) for word in raw]


def dependencies(service: str) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    raw = SERVICES[service].get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "") for name, spec in raw.items()}


def volume_mounts(service: str) -> list[tuple[str, str]]:
    """(source, target) of every volume of a service, in short or long syntax."""
    mounts = []
    for entry in SERVICES[service].get("volumes") or []:
        if isinstance(entry, str):
            source, _, rest = entry.partition(":")
            mounts.append((source, rest.split(":")[0]))
        else:
            mounts.append((str(entry.get("source", "")), str(entry.get("target", ""))))
    return mounts


def container_ports(service: str) -> dict[int, str]:
    """Published ports as {container port: host address ('' when on every interface)}."""
    found = {}
    for entry in SERVICES[service].get("ports") or []:
        parts = str(entry).split("/")[0].split(":")
        host = parts[0] if len(parts) == 3 else ""
        found[int(parts[-1])] = host
    return found


def healthcheck_text(service: str) -> str:
    """The healthcheck test of a service as one string."""
    test = SERVICES[service]["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), flags and arguments."""

    line: int
    keyword: str
    flags: dict[str, str]
    args: list[str]
    text: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions: comments dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        joined = " ".join(part.strip() for part in pending if part.strip())
        pending = []
        keyword, _, rest = joined.partition(" ")
        words = shlex.split(rest) if not rest.lstrip().startswith("[") else [rest]
        flags = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        instructions.append(Instruction(start, keyword.upper(), flags, words, rest))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def copy_targets(instructions: list[Instruction]) -> dict[str, PurePosixPath]:
    """Where each COPY source (relative to the build context, the repository root) lands.

    A file copied to a path ending in / keeps its name there; a directory's contents are
    copied into the destination itself.
    """
    targets = {}
    for instruction in instructions:
        if instruction.keyword != "COPY":
            continue
        *sources, destination = instruction.args
        for source in sources:
            into_dir = destination.endswith("/") and not (ROOT / source).is_dir()
            name = PurePosixPath(source).name
            targets[source] = (
                PurePosixPath(destination) / name if into_dir else PurePosixPath(destination)
            )
    return targets


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
COPY_TARGETS = copy_targets(INSTRUCTIONS)


def ignored_by_dockerignore(path: str) -> bool:
    """Whether the build context leaves path out (last matching pattern wins, ! re-includes)."""
    excluded = False
    candidates = [
        path,
        *(str(parent) for parent in PurePosixPath(path).parents if str(parent) != "."),
    ]
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            excluded = not negate
    return excluded


# --- the compose file -------------------------------------------------------------------


def test_top_level_keys_and_services() -> None:
    extra = {key for key in RAW if key not in TOP_LEVEL_KEYS and not key.startswith("x-")}
    assert extra == set()
    assert set(SERVICES) == EXPECTED_SERVICES
    # One anchor carries what every Airflow component shares.
    assert RAW["x-airflow-common"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


@pytest.mark.parametrize("service", sorted(EXPECTED_SERVICES))
def test_service_shape(service: str) -> None:
    spec = SERVICES[service]
    assert set(spec) <= SERVICE_KEYS, set(spec) - SERVICE_KEYS
    assert spec.get("image") or spec.get("build")
    assert spec.get("restart") in RESTART_POLICIES
    if service == INIT:
        # A one-shot job: it must end, and others wait for it to end well.
        assert "healthcheck" not in spec
        assert spec["restart"] == "no"
        return
    check = spec["healthcheck"]
    assert set(check) <= HEALTHCHECK_KEYS
    assert check["test"][0] in ("CMD", "CMD-SHELL"), check["test"]
    assert len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)


@pytest.mark.parametrize("service", sorted(EXPECTED_SERVICES))
def test_depends_on_points_at_services_that_can_satisfy_it(service: str) -> None:
    for needed, condition in dependencies(service).items():
        assert needed in SERVICES, needed
        assert condition in CONDITIONS, (needed, condition)
        if condition == "service_healthy":
            assert "healthcheck" in SERVICES[needed], needed
        if condition == "service_completed_successfully":
            assert SERVICES[needed].get("restart") == "no", needed


def test_dependencies_have_no_cycle_and_everything_waits_for_init() -> None:
    order: list[str] = []
    remaining = {name: set(dependencies(name)) for name in SERVICES}
    while remaining:
        ready = sorted(name for name, needs in remaining.items() if needs <= set(order))
        assert ready, f"dependency cycle among {sorted(remaining)}"
        order += ready
        for name in ready:
            del remaining[name]
    for service in AIRFLOW_COMMANDS:
        assert dependencies(service)[INIT] == "service_completed_successfully"
    for service in AIRFLOW_SERVICES:
        assert {dependencies(service)[db] for db in DATABASES} == {"service_healthy"}
        assert dependencies(service)["redis"] == "service_healthy"
    # A worker without the API server cannot start or finish a single task in Airflow 3.
    assert dependencies("airflow-worker")["airflow-apiserver"] == "service_healthy"


@pytest.mark.parametrize("service", sorted(AIRFLOW_COMMANDS))
def test_airflow_service_runs_its_component_on_the_project_image(service: str) -> None:
    assert command(service) == AIRFLOW_COMMANDS[service]
    spec = SERVICES[service]
    assert spec["image"] == SERVICES[INIT]["image"]
    assert spec["build"] == SERVICES[INIT]["build"]
    context = (DOCKER / spec["build"]["context"]).resolve()
    assert context == ROOT.resolve()
    assert (context / spec["build"]["dockerfile"]).resolve() == DOCKERFILE.resolve()


def test_healthchecks_probe_the_component_they_belong_to() -> None:
    api_port = 8080
    assert api_port in container_ports("airflow-apiserver")
    assert f"localhost:{api_port}/api/v2/" in healthcheck_text("airflow-apiserver")
    scheduler = healthcheck_text("airflow-scheduler")
    assert "localhost:8974/health" in scheduler
    # The scheduler serves /health only when asked to.
    assert environment("airflow-scheduler")["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert "--job-type DagProcessorJob" in healthcheck_text("airflow-dag-processor")
    assert "--job-type TriggererJob" in healthcheck_text("airflow-triggerer")
    worker = healthcheck_text("airflow-worker")
    assert "celery_executor.app inspect ping" in worker
    # $${HOSTNAME} in the file: the container's shell expands it, not Compose.
    assert '"celery@${HOSTNAME}"' in worker
    assert "pg_isready" in healthcheck_text("postgres")
    assert "pg_isready" in healthcheck_text("warehouse")
    assert "redis-cli" in healthcheck_text("redis")


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_env_wiring(service: str) -> None:
    env = environment(service)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"

    metadata_db = environment("postgres")
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = urlsplit(env[key])
        assert url.scheme in ("postgresql+psycopg2", "db+postgresql"), url.scheme
        assert (url.hostname, url.port) == ("postgres", 5432), key
        assert url.username == metadata_db["POSTGRES_USER"], key
        assert url.password == metadata_db["POSTGRES_PASSWORD"], key
        assert url.path == "/" + metadata_db["POSTGRES_DB"], key

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)

    execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution_api.hostname == "airflow-apiserver"
    assert execution_api.port in container_ports("airflow-apiserver")
    assert execution_api.path == "/execution/"

    warehouse_db = environment("warehouse")
    conn = urlsplit(env["AIRFLOW_CONN_NEWS_WAREHOUSE"])
    assert conn.scheme in ("postgres", "postgresql")
    assert (conn.hostname, conn.port) == ("warehouse", 5432)
    assert conn.username == warehouse_db["POSTGRES_USER"]
    assert conn.password == warehouse_db["POSTGRES_PASSWORD"]
    assert conn.path == "/" + warehouse_db["POSTGRES_DB"]
    # NEWSINGEST_DSN would win over the connection; it must not point elsewhere.
    assert "NEWSINGEST_DSN" not in env

    for secret in SHARED_SECRETS:
        assert env[secret] == environment("airflow-apiserver")[secret], secret
        assert env[secret], secret


def test_secrets_have_no_defaults_and_every_variable_is_documented() -> None:
    used = variables(RAW)
    assert set(used) <= REQUIRED_VARS | OPTIONAL_VARS, set(used) - REQUIRED_VARS - OPTIONAL_VARS
    for name in REQUIRED_VARS:
        assert used[name] == {":?"}, (name, used[name])
        with pytest.raises(MissingVariableError, match=name):
            resolve(RAW, {k: v for k, v in TEST_ENV.items() if k != name})
    for name in OPTIONAL_VARS & set(used):
        assert used[name] == {":-"}, (name, used[name])


def test_init_migrates_both_databases_and_creates_the_admin() -> None:
    script = " ".join(command(INIT))
    assert "set -euo pipefail" in script
    assert "airflow db migrate" in script
    # The container's shell expands the connection variable ($$ in the file).
    assert 'newsingest migrate --dsn "${AIRFLOW_CONN_NEWS_WAREHOUSE}"' in script
    env = environment(INIT)
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_PASSWORD"] == TEST_ENV["AIRFLOW_ADMIN_PASSWORD"]


def test_state_lives_only_in_named_database_volumes() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    used: set[str] = set()
    for service in SERVICES:
        for source, target in volume_mounts(service):
            # Bind mounts (host paths) would tie state to one host.
            assert source and not source.startswith((".", "/", "~")), (service, source)
            assert source in declared, (service, source)
            assert service in DATABASES, (service, source)
            assert target == "/var/lib/postgresql/data", (service, target)
            used.add(source)
    assert used == declared
    assert {name for name in DATABASES if not volume_mounts(name)} == set()
    assert not SERVICES["airflow-worker"].get("volumes")


def test_worker_can_be_scaled() -> None:
    worker = SERVICES["airflow-worker"]
    # A fixed container name or a published port would clash on the second replica.
    assert "container_name" not in worker
    assert "ports" not in worker
    # Warm shutdown: the worker finishes its running tasks before it goes away.
    assert environment("airflow-worker")["DUMB_INIT_SETSID"] == "0"


def test_published_ports_listen_on_loopback_only() -> None:
    for service in SERVICES:
        for port, host in container_ports(service).items():
            assert host == "127.0.0.1", (service, port)


# --- the Dockerfile ---------------------------------------------------------------------


def test_dockerfile_parser_joins_continuations_and_reads_flags() -> None:
    sample = (
        "# comment\nFROM base:1 AS build\n\nRUN a \\\n  # inside\n  b\n"
        'COPY --chown=u:g x y /dst/\nCMD ["run", "it"]\n'
    )
    parsed = [(i.keyword, i.flags, i.args, i.line) for i in parse_dockerfile(sample)]
    assert parsed == [
        ("FROM", {}, ["base:1", "AS", "build"], 2),
        ("RUN", {}, ["a", "b"], 4),
        ("COPY", {"chown": "u:g"}, ["x", "y", "/dst/"], 7),
        ("CMD", {}, ['["run", "it"]'], 8),
    ]


def test_dockerfile_parses_into_known_instructions() -> None:
    known = {"FROM", "ARG", "ENV", "COPY", "RUN", "USER", "WORKDIR", "LABEL", "ENTRYPOINT", "CMD"}
    assert INSTRUCTIONS
    assert {i.keyword for i in INSTRUCTIONS} <= known
    assert INSTRUCTIONS[0].keyword in ("FROM", "ARG")


def test_dockerfile_builds_on_airflow_3_3() -> None:
    bases = [i for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert len(bases) == 1
    image = bases[0].args[0]
    match = re.fullmatch(r"apache/airflow:3\.3\.(\d+)-python3\.(\d+)", image)
    assert match, image
    # The image's Python must satisfy pyproject.toml's requires-python (>=3.11).
    assert int(match[2]) >= 11


def test_dockerfile_installs_the_project_where_migrations_find_sql() -> None:
    project = COPY_TARGETS["pyproject.toml"].parent
    assert COPY_TARGETS["README.md"] == project / "README.md"
    assert COPY_TARGETS["sql"] == project / "sql"
    assert COPY_TARGETS["plugins/newsingest"] == project / "plugins" / "newsingest"
    # newsingest.migrations looks for sql/ at parents[2] of its module, i.e. the project
    # directory, which holds only for an editable install from there.
    installs = [i for i in INSTRUCTIONS if i.keyword == "RUN" and "pip install" in i.text]
    assert len(installs) == 1
    words = shlex.split(installs[0].text)
    editable = {"-e", "--editable"}
    targets = [words[n + 1] for n, word in enumerate(words[:-1]) if word in editable]
    assert targets == [str(project)], words
    # Pinning Airflow keeps pip from replacing the image's own version.
    assert "apache-airflow==${AIRFLOW_VERSION}" in words
    for source in COPY_TARGETS:
        assert (ROOT / source).exists(), source
        assert not ignored_by_dockerignore(source), source
    # pip runs as `airflow` and writes the editable install's metadata into the project.
    for copy in (i for i in INSTRUCTIONS if i.keyword == "COPY"):
        assert copy.flags.get("chown", "").startswith("airflow"), copy.line


def test_dockerfile_bakes_the_dags_into_the_compose_dags_folder() -> None:
    folder = PurePosixPath(environment("airflow-scheduler")["AIRFLOW__CORE__DAGS_FOLDER"])
    assert COPY_TARGETS["dags"] == folder
    for service in AIRFLOW_SERVICES:
        assert environment(service)["AIRFLOW__CORE__DAGS_FOLDER"] == str(folder)


def test_dockerfile_disables_examples_and_leaves_root() -> None:
    env = {
        key: value
        for i in INSTRUCTIONS
        if i.keyword == "ENV"
        for key, _, value in (arg.partition("=") for arg in i.args)
    }
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    users = [i.args[0] for i in INSTRUCTIONS if i.keyword == "USER"]
    # The official image runs as `airflow`; a root RUN must hand back before the end.
    assert not users or users[-1] != "root"


def test_dockerignore_keeps_the_rest_of_the_repository_out() -> None:
    for path in (".venv", ".git", ".airflow", "tests", "plugins/newsingest.egg-info"):
        assert ignored_by_dockerignore(path), path
