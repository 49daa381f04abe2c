"""Faults with real processes: `newsingest run` of the demo day while its database backend is
killed in each stage, while its PostgreSQL server restarts, killed itself at random points,
and while a feed host goes away. After the rerun the warehouse holds what an undisturbed run
of the same day holds.

(Two runs of one day at once are tests/integration/test_concurrent_runs.py and
tests/dags/test_concurrent_runs.py.)
"""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from newsingest import localdb, migrations, warehouse
from newsingest.demo.runner import DEMO_DATE, write_registry
from tests.conftest import fresh_database

from ..operator.instance import free_port

DAY = DEMO_DATE.isoformat()
CLIENT = {
    "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
    "NEWSINGEST_HOST_DELAY": "0",
    "NEWSINGEST_RETRIES": "1",
    "NEWSINGEST_BACKOFF_BASE": "0.01",
    "NEWSINGEST_BACKOFF_MAX": "0.05",
    "NEWSINGEST_CONNECT_TIMEOUT": "2",
    "NEWSINGEST_READ_TIMEOUT": "2",
    "NEWSINGEST_TOTAL_TIMEOUT": "4",
}
# What the runs leave in the warehouse, without ids and times.
ROWS = {
    "articles": "SELECT canonical_url, url, feed_name, title, body, published_at, dup_relation, "
    "similarity, is_canonical, wire_agencies FROM news.articles ORDER BY canonical_url",
    "clusters": "SELECT array_agg(canonical_url ORDER BY canonical_url) FROM news.articles "
    "GROUP BY cluster_id ORDER BY 1",
    "runs": "SELECT feed_name, entries, fetched, not_modified, skipped_known, extracted, skipped, "
    "new_articles, duplicates, clashes, failed, feed_failed, failures FROM news.ingest_runs "
    "ORDER BY feed_name",
    "staged": "SELECT url, feed_name, skipped_reason, dedup FROM news.staged_articles ORDER BY url",
    "clashes": "SELECT page_url, canonical_url, reason FROM news.url_clashes ORDER BY page_url",
    "founders": "SELECT canonical_url, sketch FROM news.dedup_founders ORDER BY canonical_url",
    "lines": "SELECT line_hash, founders FROM news.dedup_lines ORDER BY line_hash",
}


def rows(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in ROWS.items()}


def start(dsn: str, registry: Path, err: Path) -> subprocess.Popen[bytes]:
    """`newsingest run` of the demo day, in a process group of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")} | CLIENT
    with err.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "newsingest.cli", "run", "--date", DAY,
             "--registry", str(registry), "--dsn", dsn],
            env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True,
        )  # fmt: skip


def run(dsn: str, registry: Path, err: Path) -> int:
    return start(dsn, registry, err).wait(timeout=300)


def error_line(err: Path) -> str:
    """The run's one-line error (log lines start with their time)."""
    text = err.read_text()
    assert "Traceback" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith("newsingest:")]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


def rerun_as_told(line: str, err: Path) -> int:
    """Run the command the error line names, as an operator would paste it."""
    words = shlex.split(re.search(r"rerun `([^`]+)`", line).group(1))  # type: ignore[union-attr]
    assert words[:4] == ["newsingest", "run", "--date", DAY]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")} | CLIENT
    with err.open("ab") as sink:
        return subprocess.run(
            [sys.executable, "-m", "newsingest.cli", *words[1:]], env=env,
            stdout=subprocess.DEVNULL, stderr=sink, timeout=300, check=False,
        ).returncode  # fmt: skip


def wait_until(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def waiting_on_lock(dsn: str, pattern: str) -> Callable[[], bool]:
    """Whether a backend of the pipeline waits on a lock in a statement matching pattern."""

    def check() -> bool:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return bool(
                conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'newsingest' AND wait_event_type = 'Lock' "
                    "AND query ~ %s",
                    (pattern,),
                ).fetchall()
            )

    return check


def terminate_pipeline(dsn: str) -> int:
    """pg_terminate_backend every backend of the pipeline in the database, from another one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'newsingest'"
            ).fetchall()
        )


@pytest.fixture(scope="module")
def demo(
    pg_admin_dsn: str, demo_site: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[tuple[Any, ...]]], float]:
    """The demo registry, the rows of an undisturbed run of the day, and its wall time."""
    registry = write_registry(demo_site.base_url, tmp_path_factory.mktemp("faults") / "feeds.yaml")
    with fresh_database(pg_admin_dsn, migrate=True) as dsn:
        began = time.monotonic()
        assert run(dsn, registry, registry.with_name("undisturbed.err")) == 0
        wall = time.monotonic() - began
        undisturbed = rows(dsn)
    assert len(undisturbed["articles"]) > 20 and undisturbed["clusters"]
    return registry, undisturbed, wall


# Per stage: what the blocker holds so that the stage's first write of its kind waits, and
# that statement. Earlier stages only read what is locked (SHARE lets readers through).
STAGE_WRITES = {
    "stage": ("LOCK TABLE news.raw_pages IN SHARE MODE", r"INSERT INTO news\.raw_pages"),
    "extract": (
        "LOCK TABLE news.staged_articles IN SHARE MODE",
        r"INSERT INTO news\.staged_articles",
    ),
    # deduplicate: see test_backend_killed_mid_stage (it reads staged_articles first).
    "deduplicate": (
        "LOCK TABLE news.staged_articles IN SHARE MODE",
        r"UPDATE news\.staged_articles",
    ),
    "load": ("LOCK TABLE news.articles IN SHARE MODE", r"INSERT INTO news\.articles"),
}


@pytest.mark.parametrize("stage", list(STAGE_WRITES))
def test_backend_killed_mid_stage_then_the_rerun_it_names_restores_the_day(
    stage: str, demo: tuple[Path, dict[str, Any], float], warehouse_dsn: str, tmp_path: Path
) -> None:
    registry, undisturbed, _ = demo
    lock, statement = STAGE_WRITES[stage]
    err = tmp_path / "run.err"
    with (
        psycopg.connect(warehouse_dsn, autocommit=True) as gate,
        psycopg.connect(warehouse_dsn) as blocker,
    ):
        dedup_key = f"newsingest:deduplicate:{DAY}"
        if stage == "deduplicate":
            # Hold the stage's own lock until extraction is over, then block its writes: the
            # stage reads and decides everything, and is killed writing its decisions.
            gate.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (dedup_key,))
        else:
            blocker.execute(lock)
        process = start(warehouse_dsn, registry, err)
        if stage == "deduplicate":
            wait_until("deduplicate waits", waiting_on_lock(warehouse_dsn, "pg_advisory_xact_lock"),
                       process)  # fmt: skip
            blocker.execute(lock)
            gate.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (dedup_key,))
        wait_until(f"{stage} waits", waiting_on_lock(warehouse_dsn, statement), process)
        assert terminate_pipeline(warehouse_dsn) >= 2  # the stage's connection and the lock's
        blocker.rollback()
        assert process.wait(timeout=120) == 2
    line = error_line(err)
    assert "the warehouse server" in line and "the connection" in line
    assert rows(warehouse_dsn) != undisturbed  # the day is unfinished
    assert rerun_as_told(line, err) == 0
    assert rows(warehouse_dsn) == undisturbed


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[tuple[Path, localdb.LocalServer]]:
    """A throwaway PostgreSQL cluster this test may restart: its state directory and server."""
    state = tmp_path / "pg"
    server = localdb.start(state, database="postgres")
    try:
        yield state, server
    finally:
        localdb.destroy(state)


def test_server_restarted_during_a_load_then_the_rerun_restores_the_day(
    demo: tuple[Path, dict[str, Any], float],
    own_cluster: tuple[Path, localdb.LocalServer],
    tmp_path: Path,
) -> None:
    registry, undisturbed, _ = demo
    state, server = own_cluster
    with fresh_database(make_conninfo(server.dsn, dbname="postgres"), migrate=True) as dsn:
        err = tmp_path / "run.err"
        blocker = psycopg.connect(dsn)
        blocker.execute(STAGE_WRITES["load"][0])
        process = start(dsn, registry, err)
        wait_until("the load waits", waiting_on_lock(dsn, STAGE_WRITES["load"][1]), process)
        assert localdb.stop(state)
        blocker.close()
        restarted = localdb.start(state, database="postgres")
        assert restarted.port == server.port
        assert process.wait(timeout=120) == 2
        line = error_line(err)
        assert "the warehouse server" in line and "connection" in line
        assert rows(dsn)["articles"] == []  # the load's transaction died with the server
        assert rerun_as_told(line, err) == 0
        assert rows(dsn) == undisturbed


def test_run_killed_at_random_points_then_rerun_restores_the_day(
    demo: tuple[Path, dict[str, Any], float], warehouse_dsn: str, tmp_path: Path
) -> None:
    registry, undisturbed, wall = demo
    rng = random.Random(11)
    err = tmp_path / "run.err"
    for point in (rng.uniform(0.1, 0.9) * wall for _ in range(3)):
        process = start(warehouse_dsn, registry, err)
        time.sleep(point)
        if process.poll() is not None:
            break  # this machine ran the day faster than the undisturbed run: it is done
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        assert group_gone(process.pid)  # nothing of the run survives it
    assert run(warehouse_dsn, registry, err) == 0
    assert rows(warehouse_dsn) == undisturbed


def group_gone(group: int) -> bool:
    """Whether the process group is empty within a few seconds (killed workers are reaped)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def serve_demo(port: int, latency: float = 0.0) -> subprocess.Popen[str]:
    """The demo site on 127.0.0.1:port, in a process of its own; returns once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "newsingest.demo.server", "--port", str(port),
         "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    with process.stdout:  # it prints its address once
        assert process.stdout.readline().strip() == f"http://127.0.0.1:{port}"
    return process


# Two hosts: the demo's feeds on host a, but for the last two outlets' on host b.
ON_B = ("the-newsfarm", "valley-post")


def two_host_registry(path: Path, a: str, b: str) -> Path:
    write_registry(a, path)
    text = path.read_text()
    for feed in ON_B:
        text = text.replace(f"{a}/{feed}/", f"{b}/{feed}/")
    path.write_text(text)
    return path


def test_feed_host_gone_mid_run_fails_its_feeds_only_and_the_rerun_completes(
    warehouse_dsn: str, empty_database: str, tmp_path: Path
) -> None:
    port_a = free_port()
    port_b = next(p for p in iter(free_port, None) if p != port_a)
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    registry = two_host_registry(tmp_path / "feeds.yaml", a, b)
    host_a = serve_demo(port_a)
    host_b = serve_demo(port_b, latency=0.2)
    try:
        with warehouse.connect(empty_database) as conn:
            migrations.migrate(conn)
        assert run(empty_database, registry, tmp_path / "undisturbed.err") == 0
        undisturbed = rows(empty_database)
        process = start(warehouse_dsn, registry, tmp_path / "run.err")

        def fetching_b() -> bool:  # the feeds before b's are recorded: b's first is underway
            with psycopg.connect(warehouse_dsn) as conn:
                return conn.execute(
                    "SELECT count(*) FROM news.ingest_runs WHERE feed_name = 'harbor-times'"
                ).fetchone() == (1,)

        wait_until("host b's feeds are fetched", fetching_b, process)
        time.sleep(0.5)
        host_b.kill()
        host_b.wait()
        assert process.wait(timeout=300) == 0
        gone = {r[0]: r for r in rows(warehouse_dsn)["runs"]}
        before = {r[0]: r for r in undisturbed["runs"]}
        # valley-post's host refused every connection; the-newsfarm lost some or all pages.
        assert gone["valley-post"][-2:] == (True, {"refused": 1})
        newsfarm = gone["the-newsfarm"]
        assert newsfarm[10] > 0 and set(newsfarm[12]) <= {"refused", "connection", "timeout"}
        for feed, counts in before.items():
            if feed not in ON_B:  # host a's feeds are as they were, down to the skipped pages
                assert gone[feed][:7] == counts[:7]
        host_b = serve_demo(port_b)
        assert run(warehouse_dsn, registry, tmp_path / "rerun.err") == 0
    finally:
        for host in (host_a, host_b):
            host.terminate()
            host.wait(10)
    after = rows(warehouse_dsn)
    # Every page and article of the day is there, with its text. Articles loaded while host b
    # was gone keep the decisions made then (a rerun decides nothing anew for a loaded
    # article), so a copy of a story of host b may stand as an original: the counts of new
    # articles and duplicates, and relations, are not compared.
    assert [r[:7] + r[9:] for r in after["runs"]] == [r[:7] + r[9:] for r in undisturbed["runs"]]
    assert [r[:6] for r in after["articles"]] == [r[:6] for r in undisturbed["articles"]]
