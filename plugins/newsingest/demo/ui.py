"""`newsingest ui`: the Airflow UI (airflow standalone) on the demo, stopped whole by Ctrl-C.

`airflow standalone` ignores a SIGINT sent to its pid alone, and when its process group gets
one its components stop but the parent waits for a SIGTERM; each task runner also sits in a
process group of its own. So standalone runs in a session of its own (the terminal's Ctrl-C
reaches only this process), and stopping it means: SIGINT to its group, then SIGTERM, then
SIGKILL to every process left in its session, until none is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TypeVar

import requests

from newsingest.demo.runner import DEMO_DATE, DEMO_PORT, airflow_env, demo_services, init_metadata

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

UI_PORT = 8080
USERNAME = "admin"
DAG_ID = "news_ingest"
HEALTH_PATH = "/api/v2/monitor/health"
# Two cores run the scheduler, the API server, the dag processor and the triggerer besides the
# tasks: four task processes at a time keep the machine responsive (Airflow's default is 32).
UI_DEFAULTS = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
    # Unpausing would otherwise add a scheduled run for yesterday, which finds no demo story
    # (they are dated 2022-01-22); only triggered runs run.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
}
START_TIMEOUT_S = 600.0
POLL_S = 2.0
HTTP_TIMEOUT_S = 10.0
# Stopping: SIGINT lets every component shut down cleanly; SIGTERM is what the standalone
# parent needs; SIGKILL ends whatever is left.
SIGINT_GRACE_S = 20.0
SIGTERM_GRACE_S = 30.0
KILL_WAIT_S = 10.0


def session_processes(sid: int) -> list[tuple[int, int]]:
    """(pid, process group) of every live process of a session (zombies have exited already)."""
    listing = subprocess.run(
        ["ps", "-e", "-o", "pid=,pgid=,sid=,stat="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = []
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == str(sid) and not fields[3].startswith("Z"):
            found.append((int(fields[0]), int(fields[1])))
    return found


def stop_session(process: subprocess.Popen[bytes]) -> list[tuple[int, int]]:
    """Stop process (a session leader) and every process of its session.

    Args:
        process: the session leader, started with start_new_session=True.

    Returns:
        The processes still alive afterwards: empty unless one survived SIGKILL.
    """
    sid = process.pid

    def wait(timeout: float, *, leader_may_stay: bool) -> bool:
        # True once the session is empty (or, with leader_may_stay, holds only its leader).
        deadline = time.monotonic() + timeout
        while True:
            left = [pid for pid, _ in session_processes(sid)]
            if not left and process.poll() is not None:
                return True
            if leader_may_stay and left == [sid]:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    # The kernel does not reuse a pid while a group of that id exists: this reaches only ours.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGINT)
    # The components stop on SIGINT; the standalone parent then waits for a SIGTERM.
    wait(SIGINT_GRACE_S, leader_may_stay=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGTERM)
    if wait(SIGTERM_GRACE_S, leader_may_stay=False):
        return []
    LOGGER.warning("airflow standalone still running after SIGINT and SIGTERM: killing it")
    for pid, pgid in session_processes(sid):
        # Task runners sit in process groups of their own: signal each pid and its group.
        for kill, target in ((os.kill, pid), (os.killpg, pgid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
    wait(KILL_WAIT_S, leader_may_stay=False)
    return session_processes(sid)


def ui_env(
    airflow_home: Path, port: int, password_file: Path, extra: dict[str, str]
) -> dict[str, str]:
    """The environment of `airflow standalone` for the UI on 127.0.0.1:port.

    Args:
        airflow_home: project-local AIRFLOW_HOME.
        port: the API server's port.
        password_file: the simple auth manager's passwords file.
        extra: NEWSINGEST_* settings and the warehouse connection.

    Returns:
        The environment; AIRFLOW__* tunables the caller set already are kept.
    """
    base_url = f"http://127.0.0.1:{port}"
    env = airflow_env(
        airflow_home,
        {
            **extra,
            # Pinned, so that an AIRFLOW_CONFIG of the caller's shell cannot redirect it.
            "AIRFLOW_CONFIG": str(airflow_home.resolve() / "airflow.cfg"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            # Task supervisors default to http://localhost:8080, which may resolve to ::1.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            # One secret for every component (the API server checks what the scheduler
            # signs); 64+ bytes because PyJWT warns below that for HS512.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        },
    )
    for key, value in UI_DEFAULTS.items():
        env[key] = os.environ.get(key, value)
    # standalone starts its components as `airflow ...` from PATH: this interpreter's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _password(password_file: Path) -> str:
    """The admin password kept in password_file (created on first use, readable by us only)."""
    try:
        value = json.loads(password_file.read_text(encoding="utf-8"))[USERNAME]
        if isinstance(value, str) and value:
            return value
    except (OSError, ValueError, KeyError, TypeError):
        pass
    password = secrets.token_urlsafe(12)
    password_file.write_text(json.dumps({USERNAME: password}) + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    return password


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into KeyboardInterrupt, so `kill` stops everything as Ctrl-C does.

    SIGINT too: a process started with SIGINT ignored (a background job of a
    script, `nohup`) inherits that, and Python then leaves it ignored.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


class _Api:
    """The few REST calls the UI command makes: health, login, unpause, trigger."""

    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log
        self.session = requests.Session()

    def wait_for(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll probe() until it returns something other than None."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"airflow standalone exited with code {code}; see {self.log}")
            try:
                found = probe()
            except requests.RequestException:
                # The API server refuses connections while it starts.
                found = None
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}; see {self.log}")
            time.sleep(POLL_S)

    def healthy(self) -> bool | None:
        """True once the API server answers its health endpoint."""
        answer = self.session.get(self.base_url + HEALTH_PATH, timeout=HTTP_TIMEOUT_S)
        return True if answer.status_code == 200 else None

    def login(self, password: str) -> str | None:
        """Log in as the admin; None until the API server issues tokens."""
        answer = self.session.post(
            self.base_url + "/auth/token",
            json={"username": USERNAME, "password": password},
            timeout=HTTP_TIMEOUT_S,
        )
        if answer.status_code != 201:
            return None
        token: str = answer.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def dag_parsed(self) -> bool | None:
        """True once the dag processor has parsed news_ingest."""
        answer = self.session.get(f"{self.base_url}/api/v2/dags/{DAG_ID}", timeout=HTTP_TIMEOUT_S)
        return True if answer.status_code == 200 else None

    def trigger_demo_day(self) -> str:
        """Unpause news_ingest and trigger it for the demo day; returns the run id."""
        dag_url = f"{self.base_url}/api/v2/dags/{DAG_ID}"
        self.session.patch(
            dag_url, json={"is_paused": False}, timeout=HTTP_TIMEOUT_S
        ).raise_for_status()
        answer = self.session.post(
            f"{dag_url}/dagRuns",
            json={"logical_date": None, "conf": {"date": DEMO_DATE.isoformat()}},
            timeout=HTTP_TIMEOUT_S,
        )
        answer.raise_for_status()
        run_id: str = answer.json()["dag_run_id"]
        return run_id


def run_ui(
    *,
    state_dir: Path,
    airflow_home: Path,
    port: int = UI_PORT,
    demo_port: int = DEMO_PORT,
    trigger: bool = True,
) -> int:
    """Start the Airflow UI on the demo until Ctrl-C (or SIGTERM), then stop everything.

    Args:
        state_dir: local state (the embedded database, the demo registry).
        airflow_home: project-local AIRFLOW_HOME (SQLite metadata DB, logs, passwords).
        port: the UI's port on 127.0.0.1.
        demo_port: the demo site's port (article URLs contain it; `make demo` uses 8765).
        trigger: unpause news_ingest and trigger one run for the demo day once it is parsed.

    Returns:
        0 once everything stopped; 1 if a process of airflow standalone survived SIGKILL.
    """
    with demo_services(state_dir, demo_port, "--demo-port") as services:
        airflow_home.mkdir(parents=True, exist_ok=True)
        log = airflow_home / "ui.log"
        password_file = airflow_home / "ui-passwords.json"
        password = _password(password_file)
        env = ui_env(airflow_home, port, password_file, services.env)
        init_metadata(env, log)
        survivors = _run_standalone(
            env=env,
            airflow_home=airflow_home,
            log=log,
            site_url=services.site_url,
            port=port,
            password=password,
            trigger=trigger,
        )
        embedded_db = services.embedded_db
    if survivors:
        print(f"processes of airflow standalone survived SIGKILL: {survivors}", file=sys.stderr)
        return 1
    local_db = ", the local PostgreSQL" if embedded_db else ""
    stopped = f"airflow standalone, the demo site{local_db}"
    print(f"stopped: {stopped}", flush=True)
    return 0


def _run_standalone(
    *,
    env: dict[str, str],
    airflow_home: Path,
    log: Path,
    site_url: str,
    port: int,
    password: str,
    trigger: bool,
) -> list[tuple[int, int]]:
    """Run airflow standalone until Ctrl-C or SIGTERM; returns the processes that survived."""
    with log.open("ab") as out, _sigterm_stops():
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            env=env,
            cwd=airflow_home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print(
            f"airflow standalone (pid {process.pid}) starting; demo site on {site_url}; "
            f"output in {log}; Ctrl-C stops everything",
            flush=True,
        )
        try:
            _until_stopped(process, f"http://127.0.0.1:{port}", password, log, trigger)
        except KeyboardInterrupt:
            print("stopping airflow standalone ...", flush=True)
        finally:
            # A second Ctrl-C must not cut the stop short and leave processes behind.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                began = time.monotonic()
                survivors = stop_session(process)
                print(f"airflow standalone stopped in {time.monotonic() - began:.1f} s", flush=True)
            finally:
                signal.signal(signal.SIGINT, previous)
    return survivors


def _until_stopped(
    process: subprocess.Popen[bytes], base_url: str, password: str, log: Path, trigger: bool
) -> None:
    """Wait for the UI, trigger the demo day, then wait for Ctrl-C (or standalone's exit)."""
    api = _Api(base_url, process, log)
    api.wait_for("the API server", api.healthy)
    api.wait_for("a login token", lambda: api.login(password))
    print(f"UI on {base_url} (user {USERNAME}, password {password})", flush=True)
    if trigger:
        api.wait_for(f"the dag processor to parse {DAG_ID}", api.dag_parsed)
        run_id = api.trigger_demo_day()
        print(
            f"triggered {DAG_ID} run {run_id} for the demo day {DEMO_DATE.isoformat()}; "
            "open its grid in the UI",
            flush=True,
        )
    while True:
        code = process.poll()
        if code is not None:
            raise RuntimeError(f"airflow standalone exited with code {code}; see {log}")
        time.sleep(POLL_S)
