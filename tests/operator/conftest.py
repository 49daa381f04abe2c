"""The `standalone` fixture: Airflow with the project DAGs, the demo site, a fresh warehouse."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsingest.demo.runner import init_metadata, write_registry

from .instance import AirflowInstance, demo_settings, free_port, instance_env, launch


@pytest.fixture
def standalone(
    tmp_path: Path, warehouse_dsn: str, demo_site: Any, empty_database: str
) -> Iterator[AirflowInstance]:
    """`airflow standalone` with the project's DAGs, the demo registry and a fresh warehouse.

    Its metadata lives in PostgreSQL, as in production (instance_env says why).

    Stops every process it started, also when the test fails, and fails the teardown when any
    of them outlives SIGKILL.
    """
    home = tmp_path / "airflow"
    home.mkdir()
    password = secrets.token_urlsafe(16)
    registry = write_registry(demo_site.base_url, tmp_path / "feeds.yaml")
    port = free_port()
    env = instance_env(
        home,
        metadata_dsn=empty_database,
        newsingest=demo_settings(warehouse_dsn, registry),
        port=port,
        password=password,
    )
    init_metadata(env, home / "init.log")
    instance = AirflowInstance(
        base_url=f"http://127.0.0.1:{port}",
        home=home,
        processes={"standalone": launch(home, "standalone", ["standalone"], env)},
        password=password,
        env=env,
    )
    try:
        instance.login()
        yield instance
    finally:
        survivors = instance.stop()
        assert not survivors, "processes of airflow standalone survived SIGKILL:\n" + "\n".join(
            survivors
        )
