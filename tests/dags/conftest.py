"""Airflow for DAG tests: a throwaway AIRFLOW_HOME with a migrated SQLite metadata database.

The environment is set when this file is imported, before anything imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsingest.demo.runner import HTTP_POOL, airflow_env

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="newsingest-airflow-"))
os.environ.update(airflow_env(AIRFLOW_HOME))


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Iterator[Path]:
    """Migrate the metadata database once per session; remove AIRFLOW_HOME afterwards."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "db", "migrate"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pool = subprocess.run(
        [str(airflow), "pools", "set", HTTP_POOL, "4", "HTTP fetch tasks"],
        env=dict(os.environ), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pool.returncode == 0, pool.stdout[-3000:] + pool.stderr[-3000:]
    yield AIRFLOW_HOME
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
