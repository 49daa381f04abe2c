"""`newsingest ui`: started as a user would, it loads the demo day, and Ctrl-C stops it all."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from newsingest.demo import ui

from .instance import RUN_TIMEOUT_S, free_port

pytestmark = pytest.mark.operator

START_TIMEOUT_S = 600.0
# SIGINT grace, SIGTERM grace and the SIGKILL wait of ui.stop_session, plus slack.
STOP_TIMEOUT_S = ui.SIGINT_GRACE_S + ui.SIGTERM_GRACE_S + ui.KILL_WAIT_S + 30


def _articles(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM news.articles").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ui_loads_the_demo_day_and_ctrl_c_stops_everything(
    tmp_path: Path, warehouse_dsn: str, sigint: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSINGEST_", "AIRFLOW"))}
    env.update(
        {
            "NEWSINGEST_DSN": warehouse_dsn,
            # The log servers default to fixed ports; another Airflow on this host would clash.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # A stop that hangs is dumped (every thread's stack) by the SIGABRT below.
            "PYTHONFAULTHANDLER": "1",
        }
    )
    out = tmp_path / "ui.out"
    command = [
        sys.executable, "-m", "newsingest.cli", "ui", "--port", str(port),
        "--demo-port", str(free_port()), "--state-dir", str(tmp_path / "state"),
        "--airflow-home", str(tmp_path / "airflow"),
    ]  # fmt: skip
    with out.open("wb") as sink:
        # Its own session, as a shell job: Ctrl-C goes to its process group only.
        if sigint == "ignored":
            # As a background job of a script starts it: SIGINT ignored, inherited through exec.
            command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    standalone_sid = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S + RUN_TIMEOUT_S
        while _articles(warehouse_dsn) == 0:
            assert process.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(2)
        printed = out.read_text()
        found = re.search(r"airflow standalone \(pid (\d+)\)", printed)
        assert found, printed
        standalone_sid = int(found.group(1))
        assert "triggered news_ingest run" in printed and "2022-01-22" in printed
        assert ui.session_processes(standalone_sid), "standalone runs in a session of its own"

        began = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGABRT)
            process.wait(10)
            pytest.fail(f"no stop {STOP_TIMEOUT_S:.0f} s after SIGINT:\n{out.read_text()}")
        assert code == 0, out.read_text()
        stop_s = time.monotonic() - began
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # standalone runs in a session of its own: a failed stop must not leave it running.
        for pid, group in ui.session_processes(standalone_sid) if standalone_sid else []:
            for kill, target in ((os.kill, pid), (os.killpg, group)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(target, signal.SIGKILL)
    printed = out.read_text()
    assert "stopped: airflow standalone, the demo site" in printed, printed
    assert ui.session_processes(process.pid) == []
    assert ui.session_processes(standalone_sid) == [], printed
    print(f"stopped in {stop_s:.1f} s")
