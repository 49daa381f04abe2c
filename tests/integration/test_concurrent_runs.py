"""Two runs of one day at once: they serialise, and the one that waits or loses says so;
a run whose lock the server dropped takes it again before its next stage, or stops."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from newsingest import migrations, pipeline, warehouse
from newsingest.settings import Settings
from tests.sites import StaticSite, article_page, rss, serve

RUN = pipeline.RunInfo.make(date(2022, 1, 22), "cli")
RUN_LOCK = "newsingest:run:2022-01-22"
PUB = "Fri, 21 Jan 2022 10:00:00 GMT"
# The sessions holding the advisory lock of a key in the current database.
LOCK_HOLDERS = """
    SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)
"""


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


def two_feeds(site: StaticSite, tmp_path: Path) -> Path:
    """A registry of feeds a then b, one story each, on the site."""
    path = tmp_path / "two-feeds.yaml"
    lines = ["feeds:"]
    for name, fixture in (("a", "lakeshorecourier_2024_03_14"), ("b", "northgatepost_2024_07_01")):
        story = site.put(f"/{name}/story", "text/html", article_page(fixture))
        feed = site.put(f"/{name}/feed.xml", "application/rss+xml", rss([(name, story, PUB)]))
        lines += [f"  - name: {name}", f'    url: "{feed}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def end_lock_session(dsn: str) -> int:
    """Terminate the backends holding the day's run lock, as an administrator would."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        pids = [row[0] for row in admin.execute(LOCK_HOLDERS, (RUN_LOCK,)).fetchall()]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    return len(pids)


def test_a_run_whose_lock_session_ended_takes_the_lock_again_before_its_next_stage(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def probe() -> None:
        # Another run of the day, starting while feed b is fetched, must find it taken.
        with psycopg.connect(warehouse_dsn, autocommit=True) as other:
            got = other.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (RUN_LOCK,)
            ).fetchone()
        seen["held"] = got == (False,)

    with serve() as site:
        registry = two_feeds(site, tmp_path)
        # While feed a's page downloads, the lock's is the run's only open connection.
        site.hooks["/a/story"] = lambda: seen.setdefault("ended", end_lock_session(warehouse_dsn))
        site.hooks["/b/feed.xml"] = probe
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)
    assert seen == {"ended": 1, "held": True}
    loaded = [row[0].rsplit("/", 2)[-2] for row in snapshot(warehouse_dsn)]
    assert loaded == ["a", "b"]


def test_a_run_whose_day_was_taken_while_its_lock_was_lost_stops_in_one_line(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    other = psycopg.connect(warehouse_dsn, autocommit=True)

    def take_the_day() -> None:
        end_lock_session(warehouse_dsn)
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (RUN_LOCK,))

    try:
        with serve() as site:
            registry = two_feeds(site, tmp_path)
            site.hooks["/a/story"] = take_the_day
            with pytest.raises(warehouse.RunInProgressError, match="already in progress"):
                pipeline.run_all(warehouse_dsn, settings, RUN, registry)
            assert "/b/feed.xml" not in site.hits
    finally:
        other.close()
