"""Two runs of one day at once: they serialise, and the one that waits or loses says so."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from newsingest import migrations, pipeline, warehouse

RUN = pipeline.RunInfo.make(date(2022, 1, 22), "cli")


def cli_run(dsn: str, registry: Path, logs: Path) -> tuple[int, str]:
    """Run `newsingest run` of the day to its end; (exit code, stderr)."""
    return wait(start(dsn, registry, logs))


def start(dsn: str, registry: Path, logs: Path) -> tuple[subprocess.Popen[bytes], Path]:
    env = {**os.environ, "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1", "NEWSINGEST_HOST_DELAY": "0"}
    err = logs / f"stderr-{len(list(logs.iterdir()))}.txt"
    with err.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsingest.cli", "run", "--date", "2022-01-22",
             "--registry", str(registry), "--dsn", dsn],
            env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    return process, err


def wait(started: tuple[subprocess.Popen[bytes], Path]) -> tuple[int, str]:
    process, err = started
    return process.wait(timeout=300), err.read_text()


def snapshot(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT canonical_url, title, body, cluster_id, dup_relation FROM news.articles "
            "ORDER BY canonical_url"
        ).fetchall()


def test_a_run_of_a_day_in_progress_refuses_a_second_in_one_line(
    warehouse_dsn: str, demo_registry: Path, tmp_path: Path
) -> None:
    with warehouse.run_lock(warehouse_dsn, RUN.run_key):
        code, err = cli_run(warehouse_dsn, demo_registry, tmp_path)
    assert code == 2
    lines = [line for line in err.splitlines() if not line[:4].isdigit()]  # drop log lines
    assert lines == [lines[0]] and "Traceback" not in err
    assert "run 2022-01-22 is already in progress in backend pid" in lines[0]
    assert "newsingest" in lines[0] and "run it again" in lines[0]
    assert snapshot(warehouse_dsn) == []


def test_two_runs_of_one_day_at_once_load_what_one_run_loads(
    warehouse_dsn: str, demo_registry: Path, empty_database: str, tmp_path: Path
) -> None:
    runs = [start(warehouse_dsn, demo_registry, tmp_path) for _ in range(2)]
    results = [wait(run) for run in runs]
    assert sorted(code for code, _ in results) in ([0, 0], [0, 2])
    assert not any("Traceback" in err for _, err in results)
    concurrent = snapshot(warehouse_dsn)
    assert len(concurrent) > 20
    # The same day run alone, in a fresh warehouse, loads the same rows.
    with warehouse.connect(empty_database) as conn:
        migrations.migrate(conn)
    assert cli_run(empty_database, demo_registry, tmp_path)[0] == 0
    by_url = {row[0]: (row[1], row[2], row[4]) for row in snapshot(empty_database)}
    assert {row[0]: (row[1], row[2], row[4]) for row in concurrent} == by_url
