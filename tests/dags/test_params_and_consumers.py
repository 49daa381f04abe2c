"""news_ingest params, and the DAGs built on it, through dag.test()."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from newsingest.demo.runner import warehouse_env

DAGS = Path(__file__).parents[2] / "dags"


@pytest.fixture
def dags(warehouse_dsn: str, demo_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The DagBag with the task environment pointing at the demo and a fresh warehouse."""
    for key, value in {
        **warehouse_env(warehouse_dsn),
        "NEWSINGEST_REGISTRY": str(demo_registry),
        "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
        "NEWSINGEST_HOST_DELAY": "0",
    }.items():
        monkeypatch.setenv(key, value)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def test_dry_run_loads_nothing(dags: Any, warehouse_dsn: str) -> None:
    run = dags.get_dag("news_ingest").test(
        logical_date=datetime(2022, 1, 22, tzinfo=UTC), run_conf={"dry_run": True}
    )
    assert run.state == "success", states(run)
    assert states(run)["load"] == "skipped"
    assert count(warehouse_dsn, "SELECT count(*) FROM news.articles") == 0
    assert count(warehouse_dsn, "SELECT count(*) FROM news.staged_articles") > 0


def test_date_feeds_and_max_pages_params(dags: Any, warehouse_dsn: str) -> None:
    run = dags.get_dag("news_ingest").test(
        logical_date=None,
        run_conf={"date": "2022-01-20", "feeds": ["daily-courier", "wirewire"], "max_pages": 2},
    )
    assert run.state == "success", states(run)
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT run_key, logical_date, feed_name, entries FROM news.ingest_runs "
            "ORDER BY feed_name"
        ).fetchall()
        latest = conn.execute("SELECT max(published_at) FROM news.articles").fetchone()
    assert [(r[0], str(r[1]), r[2]) for r in rows] == [
        ("2022-01-20", "2022-01-20", "daily-courier"),
        ("2022-01-20", "2022-01-20", "wirewire"),
    ]
    assert all(r[3] <= 2 for r in rows)
    # Entries published after the run's day are left to later runs.
    assert latest is not None and latest[0] < datetime(2022, 1, 21, tzinfo=UTC)


def test_invalid_params_are_refused(dags: Any) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        dags.get_dag("news_ingest").test(run_conf={"max_pages": 0})


def test_digest_and_maintenance_after_a_run(dags: Any, warehouse_dsn: str) -> None:
    day = datetime(2022, 1, 22, tzinfo=UTC)
    assert dags.get_dag("news_ingest").test(logical_date=day).state == "success"
    digest = dags.get_dag("story_digest").test(logical_date=day)
    assert digest.state == "success", states(digest)
    upkeep = dags.get_dag("news_maintenance").test(logical_date=datetime(2030, 1, 1, tzinfo=UTC))
    assert upkeep.state == "success", states(upkeep)
    assert count(warehouse_dsn, "SELECT count(*) FROM news.raw_pages") == 0
    assert count(warehouse_dsn, "SELECT count(*) FROM news.articles") > 0
