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
from typing import Any

import pytest

from newsingest.demo.runner import airflow_env, init_metadata, warehouse_env

DAGS = Path(__file__).parents[2] / "dags"
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


@pytest.fixture
def news_ingest(warehouse_dsn: str, demo_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The news_ingest DAG with the task environment pointing at the demo and a fresh DB."""
    for key, value in warehouse_env(warehouse_dsn).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEWSINGEST_REGISTRY", str(demo_registry))
    monkeypatch.setenv("NEWSINGEST_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("NEWSINGEST_HOST_DELAY", "0")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).get_dag("news_ingest")
    assert dag is not None
    return dag
