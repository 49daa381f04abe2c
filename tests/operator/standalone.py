"""Start, drive and stop a real `airflow standalone` on 127.0.0.1 (REST API v2 only).

Every process the fixture starts lives in one session (start_new_session=True). Airflow puts
each task runner in a process group of its own, so the process group alone does not cover
them; the session does, and teardown proves that nothing of it is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process could still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


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
class Standalone:
    """A running `airflow standalone`: its address, files and an authenticated API session."""

    base_url: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes]
    password: str
    api: requests.Session
    started_at: float = 0.0
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
                pytest.fail(
                    "the DAG folder has import errors:\n"
                    + "\n".join(
                        f"{error['filename']}:\n{error.get('stack_trace', error.get('stacktrace'))}"
                        for error in errors["import_errors"]
                    )
                )
            return self.json_if_ok(f"/api/v2/dags/{dag_id}")

        return self.wait_for(f"the dag processor to parse {dag_id}", timeout, parsed)

    def check_alive(self) -> None:
        """Fail at once, with the log, when the standalone process has exited."""
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"airflow standalone exited with code {code}\n{self.diagnostics()}")

    def wait_for(self, what: str, timeout: float, probe: Any) -> Any:
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
                pytest.fail(
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

    def diagnostics(self) -> str:
        """The tail of the standalone log and of every task log, for a failure message."""
        parts = [
            f"--- last {LOG_TAIL_LINES} lines of {self.log} ---",
            _tail(self.log, LOG_TAIL_LINES),
        ]
        task_logs = sorted((self.home / "logs").glob("dag_id=*/**/*.log"))
        for path in task_logs[:MAX_TASK_LOGS]:
            parts += [f"--- {path.relative_to(self.home)} ---", _tail(path, TASK_LOG_TAIL_LINES)]
        if len(task_logs) > MAX_TASK_LOGS:
            parts.append(
                f"... and {len(task_logs) - MAX_TASK_LOGS} more task logs under {self.home}"
            )
        return "\n".join(parts)


def stop(process: subprocess.Popen[bytes]) -> list[str]:
    """Stop the session of process: SIGTERM its group, then SIGKILL whatever is left.

    Returns:
        The processes of the session still running afterwards (empty when all are gone).
    """
    sid = process.pid
    # Also when the main process is gone: its components may still run, orphaned. The
    # kernel does not reuse a pid while a group of that id exists, so this hits only ours.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while (process.poll() is None or session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for line in session_processes(sid):
        pid, pgid = (int(field) for field in line.split()[:2])
        # Task runners sit in process groups of their own, so kill by pid and by group.
        for kill, target in ((os.kill, pid), (os.killpg, pgid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
    # A main process that outlives SIGKILL is reported below with the other survivors.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(KILL_WAIT_S)
    deadline = time.monotonic() + KILL_WAIT_S
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return session_processes(sid)
