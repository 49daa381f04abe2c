"""Airflow for DAG tests: a throwaway AIRFLOW_HOME with a migrated SQLite metadata database.

The environment is set when this file is imported, before anything imports Airflow.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsingest.demo.runner import airflow_env, init_metadata

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="newsingest-airflow-"))
os.environ.update(airflow_env(AIRFLOW_HOME))
# Also when no test of this folder is selected (-m operator, -k): the fixture never runs then.
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Iterator[Path]:
    """Migrate the metadata database once per session; remove AIRFLOW_HOME afterwards."""
    init_metadata(dict(os.environ), AIRFLOW_HOME / "init.log")
    yield AIRFLOW_HOME
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
