"""Issue 15: the DAG on two Celery workers loads the rows of a single-process run.

Airflow's components started by hand with the CeleryExecutor (celery_cluster.py): a Redis
broker (a free database of the Redis on 127.0.0.1:6379, or a throwaway redis-server), the
metadata database and Celery's results in PostgreSQL, two `airflow celery worker` processes
with one task slot each. The demo day is triggered through REST API v2.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from newsingest import pipeline
from newsingest.settings import load_settings

from .celery_cluster import (
    BrokerUnavailableError,
    celery_airflow,
    redis_broker,
    warehouse_rows,
    worker_names,
)
from .instance import DAG_PARSE_TIMEOUT_S, RUN_TIMEOUT_S, AirflowInstance, demo_settings
from .test_standalone import EXPECTED, UNMAPPED_TASKS

pytestmark = pytest.mark.operator

DAG_ID = "news_ingest"
DAY = date(2022, 1, 22)
WORKERS = 2


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A Redis database for the broker (celery_cluster.redis_broker); skips without Redis."""
    try:
        with redis_broker(tmp_path / "redis") as url:
            yield url
    except BrokerUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def celery(
    tmp_path: Path, demo_registry: Path, warehouse_dsn: str, empty_database: str, broker_url: str
) -> Iterator[AirflowInstance]:
    """Airflow on the CeleryExecutor with two workers, loading the demo day into warehouse_dsn.

    Stops every process it started, also when the test fails (celery_airflow).
    """
    home = tmp_path / "airflow"
    home.mkdir()
    with celery_airflow(
        home,
        metadata_dsn=empty_database,
        newsingest=demo_settings(warehouse_dsn, demo_registry),
        broker_url=broker_url,
        workers=WORKERS,
    ) as airflow:
        yield airflow


@pytest.fixture
def single_process_rows(
    second_warehouse_dsn: str, demo_registry: Path
) -> dict[str, list[tuple[object, ...]]]:
    """The rows of the demo day run in one process (pipeline.run_all) with the tasks' settings."""
    pipeline.run_all(
        second_warehouse_dsn,
        load_settings(demo_settings(second_warehouse_dsn, demo_registry)),
        pipeline.RunInfo.make(DAY, "single-process"),
        demo_registry,
    )
    return warehouse_rows(second_warehouse_dsn)


def test_two_celery_workers_load_the_rows_of_a_single_process_run(
    single_process_rows: dict[str, list[tuple[object, ...]]],
    celery: AirflowInstance,
    warehouse_dsn: str,
) -> None:
    up = time.monotonic()
    dag = celery.wait_for_dag(DAG_ID, DAG_PARSE_TIMEOUT_S)
    assert dag["is_paused"] is True, dag
    run_id = celery.trigger(DAG_ID, f"{DAY.isoformat()}T00:00:00Z")
    triggered = time.monotonic()
    run = celery.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT_S)
    ran = time.monotonic()
    assert run["state"] == "success", celery.diagnostics()
    instances = celery.task_instances(DAG_ID, run_id)
    assert {ti["state"] for ti in instances} == {"success"}, celery.diagnostics()
    # Every task of the DAG ran: one fetch per feed, one extract per shard (the tasks see no
    # NEWSINGEST_* variable but demo_settings', none of which sets the shards).
    assert len(instances) == len(UNMAPPED_TASKS) + len(EXPECTED["feeds"]) + (
        load_settings({}).extract_shards
    ), instances
    # Both workers ran tasks, and nothing else did.
    hosts = {ti["hostname"] for ti in instances}
    assert hosts == set(worker_names(WORKERS)), instances
    per_worker = {h: sum(ti["hostname"] == h for ti in instances) for h in sorted(hosts)}
    # Shown with -s: how long each step takes on this machine.
    print(
        f"\ncelery test: cluster up {up - celery.started_at:.0f} s after start, DAG parsed and "
        f"triggered {triggered - up:.0f} s later, run done {ran - triggered:.0f} s after "
        f"trigger; task instances per worker: {per_worker}"
    )

    rows = warehouse_rows(warehouse_dsn)
    assert rows["articles"], "the Celery run loaded no articles"
    for table in ("articles", "story_clusters", "ingest_runs"):
        assert rows[table] == single_process_rows[table], table
