"""Start, drive and stop a real Airflow on 127.0.0.1 (REST API v2 only).

Used by the operator tests (`airflow standalone`, the Celery cluster of celery_cluster.py) and
by bench/celery_scale.py, so nothing here imports pytest: a failed wait raises InstanceError
with the components' logs.

Every component starts in a session of its own (start_new_session=True). Airflow puts each
task runner in a process group of its own, so a process group alone does not cover them; the
session does, and stop() proves that nothing of it is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from newsingest.demo.runner import airflow_env, warehouse_env

USERNAME = "admin"
# Generous but bounded: on two shared cores Airflow needs tens of seconds to start, and every
# task instance pays for a fresh interpreter importing Airflow and trafilatura.
API_START_TIMEOUT_S = 240.0
DAG_PARSE_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 900.0
# SIGTERM lets the scheduler hand its running tasks back and the API server close cleanly.
STOP_GRACE_S = 60.0
KILL_WAIT_S = 10.0
POLL_S = 2.0
HTTP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 60
TASK_LOG_TAIL_LINES = 25
MAX_TASK_LOGS = 20
FINISHED = frozenset({"success", "failed"})


class InstanceError(RuntimeError):
    """Airflow did not do what was waited for; the message carries its logs."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process could still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def metadata_url(dsn: str) -> str:
    """Airflow's SQLAlchemy URL of a PostgreSQL database given as a libpq DSN.

    psycopg2 is the driver apache-airflow-providers-postgres brings along.
    """
    params = conninfo_to_dict(dsn)
    url = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password"),
        host=params.get("host"),
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
    )
    return url.render_as_string(hide_password=False)


def demo_settings(warehouse_dsn: str, registry: Path) -> dict[str, str]:
    """The NEWSINGEST_* variables of tasks loading the demo registry into warehouse_dsn."""
    return {
        **warehouse_env(warehouse_dsn),
        "NEWSINGEST_REGISTRY": str(registry),
        "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
        "NEWSINGEST_HOST_DELAY": "0",
    }


def instance_env(
    home: Path,
    *,
    metadata_dsn: str,
    newsingest: Mapping[str, str],
    port: int,
    password: str,
    executor: str = "LocalExecutor",
    parallelism: int = 2,
) -> dict[str, str]:
    """The environment of every process of one Airflow instance on 127.0.0.1.

    Writes the simple auth manager's passwords file (admin: password) into home.

    Args:
        home: the instance's AIRFLOW_HOME (exists).
        metadata_dsn: a PostgreSQL database for Airflow's metadata, as a libpq DSN. On
            SQLite a CLI command writing next to the running scheduler could fail at once
            with "database is locked", and the CeleryExecutor refuses it.
        newsingest: the NEWSINGEST_* settings (and warehouse connection) of the tasks; any
            other NEWSINGEST_* variable of the caller's environment is dropped.
        port: the API server's port.
        password: the admin's password.
        executor: Airflow's executor.
        parallelism: task instances running or queued at once, over all workers.
    """
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps({USERNAME: password}), encoding="utf-8")
    env = airflow_env(
        home,
        {
            **newsingest,
            # Pinned so that nothing in the caller's environment redirects this instance.
            "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(metadata_dsn),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            # Task supervisors default to http://localhost:8080/execution/.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # The log servers default to fixed ports 8793/8794; two runs on one host would clash.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Unpausing an @daily DAG would also start a scheduled run for yesterday; only the
            # run the caller triggers should touch the warehouse.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            # One secret for every component (the API server checks what the scheduler signs);
            # 64+ bytes because PyJWT warns below that for HS512.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        },
    )
    for key in [k for k in env if k.startswith("NEWSINGEST_") and k not in newsingest]:
        # A developer's shell settings must not change what this run fetches.
        del env[key]
    # Components start their helpers as `airflow ...` from PATH: use this venv's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def launch(
    home: Path, name: str, args: list[str], env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start `airflow <args>` in a session of its own, its output in home/<name>.log."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with (home / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [airflow, *args],
            env=dict(env),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def session_processes(sid: int) -> list[str]:
    """Processes still running in a session, as `pid pgid stat args` lines (zombies excluded).

    A zombie has exited already; only its parent has yet to reap it, and in containers an
    orphan's new parent (PID 1) may never do so.
    """
    listing = subprocess.run(
        ["ps", "-e", "-o", "pid=,pgid=,sid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    alive = []
    for line in listing.splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and fields[2] == str(sid) and not fields[3].startswith("Z"):
            alive.append(line.strip())
    return alive


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


@dataclass
class AirflowInstance:
    """A running Airflow: its address, components, files and an authenticated API session."""

    base_url: str
    home: Path
    # Each component by name (`standalone`, or `scheduler`, `worker-1`, ...); its output is
    # in home/<name>.log.
    processes: dict[str, subprocess.Popen[bytes]]
    password: str
    api: requests.Session = field(default_factory=requests.Session)
    started_at: float = field(default_factory=time.monotonic)
    # The environment of every process of the instance, for `airflow` CLI commands against it.
    env: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """Absolute URL of an API path such as '/api/v2/dags'."""
        return self.base_url + path

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET an API path with the bearer token."""
        return self.api.get(self.url(path), params=params, timeout=HTTP_TIMEOUT_S)

    def json_if_ok(self, path: str) -> Any:
        """The JSON body of GET path when it answers 200, else None (for wait_for)."""
        answer = self.get(path)
        return answer.json() if answer.status_code == 200 else None

    def wait_for_dag(self, dag_id: str, timeout: float) -> Any:
        """Wait until the dag processor has parsed dag_id; fail at once on an import error."""

        def parsed() -> Any:
            errors = self.json_if_ok("/api/v2/importErrors")
            if errors and errors["total_entries"]:
                raise InstanceError(
                    "the DAG folder has import errors:\n"
                    + "\n".join(
                        f"{error['filename']}:\n{error.get('stack_trace', error.get('stacktrace'))}"
                        for error in errors["import_errors"]
                    )
                )
            return self.json_if_ok(f"/api/v2/dags/{dag_id}")

        return self.wait_for(f"the dag processor to parse {dag_id}", timeout, parsed)

    def check_alive(self) -> None:
        """Fail at once, with the logs, when a component has exited."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                raise InstanceError(f"airflow {name} exited with code {code}\n{self.diagnostics()}")

    def wait_for(self, what: str, timeout: float, probe: Callable[[], Any]) -> Any:
        """Poll probe() until it returns something other than None, within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                found = probe()
            except requests.RequestException:
                # The API server restarts workers and refuses connections while it starts.
                found = None
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise InstanceError(
                    f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
                )
            time.sleep(POLL_S)

    def login(self) -> None:
        """Get a JWT from the simple auth manager and use it for every later request."""

        def token() -> str | None:
            answer = requests.post(
                self.url("/auth/token"),
                json={"username": USERNAME, "password": self.password},
                timeout=HTTP_TIMEOUT_S,
            )
            if answer.status_code != 201:
                return None
            value: str = answer.json()["access_token"]
            return value

        access = self.wait_for("the API server to issue a token", API_START_TIMEOUT_S, token)
        self.api.headers["Authorization"] = f"Bearer {access}"

    def trigger(self, dag_id: str, logical_date: str) -> str:
        """Unpause dag_id and trigger a run for logical_date; returns the run id."""
        unpaused = self.api.patch(
            self.url(f"/api/v2/dags/{dag_id}"), json={"is_paused": False}, timeout=HTTP_TIMEOUT_S
        )
        if unpaused.status_code != 200 or unpaused.json()["is_paused"]:
            raise InstanceError(f"unpausing {dag_id}: {unpaused.status_code} {unpaused.text}")
        triggered = self.api.post(
            self.url(f"/api/v2/dags/{dag_id}/dagRuns"),
            json={"logical_date": logical_date},
            timeout=HTTP_TIMEOUT_S,
        )
        if triggered.status_code != 200:
            raise InstanceError(f"triggering {dag_id}: {triggered.status_code} {triggered.text}")
        run_id: str = triggered.json()["dag_run_id"]
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the run has finished (success or failed); its API record."""

        def finished() -> dict[str, Any] | None:
            answer = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body if body["state"] in FINISHED else None

        run: dict[str, Any] = self.wait_for(f"dag run {run_id} to finish", timeout, finished)
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run (mapped ones one by one), as the API lists them."""
        answer = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        answer.raise_for_status()
        listed: list[dict[str, Any]] = answer.json()["task_instances"]
        return listed

    def diagnostics(self) -> str:
        """The tail of every component's log and of every task log, for a failure message."""
        parts = []
        for name in self.processes:
            log = self.home / f"{name}.log"
            parts += [f"--- last {LOG_TAIL_LINES} lines of {log} ---", _tail(log, LOG_TAIL_LINES)]
        task_logs = sorted((self.home / "logs").glob("dag_id=*/**/*.log"))
        for path in task_logs[:MAX_TASK_LOGS]:
            parts += [f"--- {path.relative_to(self.home)} ---", _tail(path, TASK_LOG_TAIL_LINES)]
        if len(task_logs) > MAX_TASK_LOGS:
            parts.append(
                f"... and {len(task_logs) - MAX_TASK_LOGS} more task logs under {self.home}"
            )
        return "\n".join(parts)

    def stop(self) -> list[str]:
        """Stop every component (see stop()); the processes that survived SIGKILL."""
        self.api.close()
        return stop(*self.processes.values())


def stop(*processes: subprocess.Popen[bytes]) -> list[str]:
    """Stop the sessions of processes: SIGTERM their groups, then SIGKILL whatever is left.

    All are signalled at once, so that they shut down side by side.

    Returns:
        The processes of the sessions still running afterwards (empty when all are gone).
    """
    sids = [process.pid for process in processes]

    def left() -> list[str]:
        return [line for sid in sids for line in session_processes(sid)]

    for sid in sids:
        # Also when the main process is gone: its components may still run, orphaned. The
        # kernel does not reuse a pid while a group of that id exists, so this hits only ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while (any(p.poll() is None for p in processes) or left()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for line in left():
        pid, pgid = (int(field) for field in line.split()[:2])
        # Task runners sit in process groups of their own, so kill by pid and by group.
        for kill, target in ((os.kill, pid), (os.killpg, pgid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
    for process in processes:
        # A main process that outlives SIGKILL is reported below with the other survivors.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(KILL_WAIT_S)
    deadline = time.monotonic() + KILL_WAIT_S
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    return left()
