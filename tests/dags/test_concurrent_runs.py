"""A DAG run of a day while `newsingest run` of the same day is in progress: the DAG's
stages wait for it, then redo the day; the rows are those of one run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from newsingest import migrations, warehouse
from newsingest.demo.runner import airflow_env, init_metadata, warehouse_env

from .test_news_ingest import LOGICAL, assert_succeeded


def cli_run(dsn: str, registry: Path, err: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1", "NEWSINGEST_HOST_DELAY": "0"}
    with err.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "newsingest.cli", "run", "--date", "2022-01-22",
             "--registry", str(registry), "--dsn", dsn],
            env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip


def rows(dsn: str) -> tuple[list[tuple[Any, ...]], set[frozenset[str]]]:
    with psycopg.connect(dsn) as conn:
        articles = conn.execute(
            "SELECT canonical_url, title, body, dup_relation FROM news.articles ORDER BY 1"
        ).fetchall()
        clusters = conn.execute(
            "SELECT array_agg(canonical_url) FROM news.articles GROUP BY cluster_id"
        ).fetchall()
    return articles, {frozenset(c[0]) for c in clusters}


def test_a_dag_run_waits_for_a_cli_run_of_the_same_day(
    news_ingest: Any, warehouse_dsn: str, demo_registry: Path, empty_database: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    cli = cli_run(warehouse_dsn, demo_registry, tmp_path / "cli.err")
    deadline = time.monotonic() + 60
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        while not conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' "
            "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = "
            "current_database())"
        ).fetchone()[0]:  # type: ignore[index]
            assert cli.poll() is None and time.monotonic() < deadline, "the CLI run never began"
            time.sleep(0.05)
    run = news_ingest.test(logical_date=LOGICAL)
    assert cli.wait(timeout=300) == 0, (tmp_path / "cli.err").read_text()[-2000:]
    assert_succeeded(run)
    assert "Traceback" not in (tmp_path / "cli.err").read_text()
    # The same day run alone into a fresh warehouse.
    with warehouse.connect(empty_database) as conn:
        migrations.migrate(conn)
    alone = cli_run(empty_database, demo_registry, tmp_path / "alone.err")
    assert alone.wait(timeout=300) == 0
    assert rows(warehouse_dsn) == rows(empty_database)


def airflow_home(home: Path, dsn: str, registry: Path) -> dict[str, str]:
    """The environment of an Airflow deployment of its own in home, metadata migrated."""
    home.mkdir()
    env = airflow_env(home, {
        **warehouse_env(dsn), "NEWSINGEST_REGISTRY": str(registry),
        "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1", "NEWSINGEST_HOST_DELAY": "0",
    })  # fmt: skip
    init_metadata(env, home / "init.log")
    return env


def dags_test(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`airflow dags test news_ingest` of the demo day in the deployment of env."""
    home = Path(env["AIRFLOW_HOME"])
    with (home / "dags-test.log").open("wb") as sink:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "dags", "test", "news_ingest",
             "2022-01-22"],
            env=env, cwd=home, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_two_airflow_runs_of_one_day_at_once_load_what_one_run_loads(
    warehouse_dsn: str, demo_registry: Path, empty_database: str, tmp_path: Path
) -> None:
    # Two Airflow deployments (two metadata databases) running the same day on one warehouse:
    # their stages share the day, the deduplicate and load stages take turns.
    homes = [tmp_path / "airflow-a", tmp_path / "airflow-b"]
    envs = [airflow_home(home, warehouse_dsn, demo_registry) for home in homes]
    runs = [dags_test(env) for env in envs]
    for home, run in zip(homes, runs, strict=True):
        code = run.wait(timeout=600)
        log = (home / "dags-test.log").read_text(errors="replace")
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
    with warehouse.connect(empty_database) as conn:
        migrations.migrate(conn)
    alone = cli_run(empty_database, demo_registry, tmp_path / "alone.err")
    assert alone.wait(timeout=300) == 0
    assert rows(warehouse_dsn) == rows(empty_database)
