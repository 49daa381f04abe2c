"""The `standalone` fixture: Airflow with the project DAGs, the demo site, a fresh warehouse."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from newsingest.demo.runner import airflow_env, init_metadata, warehouse_env, write_registry

from .standalone import USERNAME, Standalone, free_port, stop


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


@pytest.fixture
def standalone(
    tmp_path: Path, warehouse_dsn: str, demo_site: Any, empty_database: str
) -> Iterator[Standalone]:
    """`airflow standalone` with the project's DAGs, the demo registry and a fresh warehouse.

    Its metadata lives in PostgreSQL, as in production: on SQLite, a CLI
    command writing next to the running scheduler could fail at once with
    "database is locked" (SQLite refuses a lock upgrade rather than wait).

    Stops every process it started, also when the test fails, and fails the teardown when any
    of them outlives SIGKILL.
    """
    home = tmp_path / "airflow"
    home.mkdir()
    password = secrets.token_urlsafe(16)
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps({USERNAME: password}), encoding="utf-8")
    registry = write_registry(demo_site.base_url, tmp_path / "feeds.yaml")
    port = free_port()
    newsingest = {
        **warehouse_env(warehouse_dsn),
        "NEWSINGEST_REGISTRY": str(registry),
        "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
        "NEWSINGEST_HOST_DELAY": "0",
    }
    env = airflow_env(
        home,
        {
            **newsingest,
            # Pinned so that nothing in the caller's environment redirects this instance.
            "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(empty_database),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
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
            # run the test triggers should touch the warehouse.
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
    # standalone starts its components as `airflow ...` from PATH: use this venv's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = home / "standalone.log"

    init_metadata(env, home / "init.log")

    with log.open("wb") as out:
        process = subprocess.Popen(
            [airflow, "standalone"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Standalone(
        base_url=f"http://127.0.0.1:{port}",
        home=home,
        log=log,
        process=process,
        password=password,
        api=requests.Session(),
        started_at=time.monotonic(),
        env=env,
    )
    try:
        instance.login()
        yield instance
    finally:
        instance.api.close()
        survivors = stop(process)
        assert not survivors, "processes of airflow standalone survived SIGKILL:\n" + "\n".join(
            survivors
        )
