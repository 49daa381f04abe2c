"""Issue 6: a backfill loads exactly what daily runs would, and rerunning a day changes nothing.

Against a real `airflow standalone` (the `standalone` fixture): the backfill is created with the
`airflow backfill create` CLI, the runs are watched and one is cleared over REST API v2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from newsingest.demo.runner import write_registry
from newsingest.feeds import FeedParseError, parse_feed
from newsingest.registry import load_registry
from newsingest.urls import canonical_url

from .instance import DAG_PARSE_TIMEOUT_S, HTTP_TIMEOUT_S, RUN_TIMEOUT_S, AirflowInstance

pytestmark = pytest.mark.operator

DAG_ID = "news_ingest"
DAYS = [date(2022, 1, 19) + timedelta(days=n) for n in range(4)]
RERUN_DAY = date(2022, 1, 21)
FINISHED = frozenset({"success", "failed"})
CLI_TIMEOUT_S = 300.0
EXPECTED = json.loads(
    (Path(__file__).parents[2] / "plugins/newsingest/demo/expected.json").read_text()
)
# Everything a rerun could touch, except the append-only news.fetch_log and news.feed_state's
# attempt times.
TABLES = (
    "feeds", "ingest_runs", "raw_pages", "staged_articles", "articles", "story_clusters",
    "dedup_founders", "dedup_postings", "dedup_site_lines",
)  # fmt: skip
ROW_QUERIES = {
    "articles": "SELECT canonical_url, cluster_id, dup_relation, first_run_key, last_run_key, "
    "duplicate_of, is_canonical, content_hash, body FROM news.articles ORDER BY canonical_url",
    "story_clusters": "SELECT cluster_id, canonical_article_id, member_count, first_published_at, "
    "outlets, agencies FROM news.story_clusters ORDER BY cluster_id",
    "ingest_runs": "SELECT run_key, feed_name, logical_date, entries, fetched, not_modified, "
    "skipped_known, extracted, skipped, new_articles, duplicates, failed, feed_failed, failures "
    "FROM news.ingest_runs ORDER BY run_key, feed_name",
}


def expected_partition(base_url: str, registry: Path) -> dict[date, set[str]]:
    """The demo articles each daily run first loads, by the date of their feed entries.

    The pipeline cuts by the feed entry's published date (UTC): run D takes entries before
    D + 1 day, and undated ones; what an earlier run loaded is known to later ones. So an
    article belongs to the day of its earliest entry over all feeds, or to the first day when
    that is earlier or unknown. (expected.json's published_at is the page's own date; it
    agrees with the feeds today, but the feeds are what the pipeline reads.)
    """
    first_entry: dict[str, date | None] = {}
    for source in load_registry(registry):
        answer = requests.get(source.url, timeout=HTTP_TIMEOUT_S)
        answer.raise_for_status()
        try:
            parsed = parse_feed(
                answer.content,
                source=source,
                base_url=answer.url,
                content_type=answer.headers.get("Content-Type", ""),
            )
        except FeedParseError:
            continue  # broken-gazette: a malformed feed on purpose
        for entry in parsed.entries:
            url = canonical_url(entry.url)
            day = entry.published_at.astimezone(UTC).date() if entry.published_at else None
            if url not in first_entry or (day is not None and day < (first_entry[url] or day)):
                first_entry[url] = day
    articles = {
        canonical_url(base_url + page["path"]) for page in EXPECTED["pages"] if page["is_article"]
    }
    assert articles <= set(first_entry), sorted(articles - set(first_entry))
    partition: dict[date, set[str]] = defaultdict(set)
    for url in articles:
        day = first_entry[url]
        if day is None or day < DAYS[0]:
            day = DAYS[0]
        if day <= DAYS[-1]:
            partition[day].add(url)
    return dict(partition)


def snapshot(dsn: str) -> dict[str, Any]:
    """Row counts of every table a run writes, and the rows that define what was loaded."""
    with psycopg.connect(dsn) as conn:
        found: dict[str, Any] = {
            f"count {table}": conn.execute(f"SELECT count(*) FROM news.{table}").fetchone()
            for table in TABLES
        }
        for name, sql in ROW_QUERIES.items():
            found[name] = conn.execute(sql).fetchall()
    return found


def fetch_log_rows(dsn: str, run_key: str) -> int:
    """How many fetch attempts a run key logged (the log only grows)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM news.fetch_log WHERE run_key = %s", (run_key,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def dag_runs(standalone: AirflowInstance) -> list[dict[str, Any]]:
    """Every run of the DAG, oldest logical date first."""
    answer = standalone.get(f"/api/v2/dags/{DAG_ID}/dagRuns", limit=100, order_by="logical_date")
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()["dag_runs"]
    return runs


def create_backfill_with_cli(standalone: AirflowInstance) -> str:
    """`airflow backfill create` over DAYS, one run at a time, as an operator types it."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run(
        [
            airflow, "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", f"{DAYS[0].isoformat()}T00:00:00+00:00",
            "--to-date", f"{DAYS[-1].isoformat()}T00:00:00+00:00",
            # Days in order, like the daily runs: each day sees what the earlier ones loaded.
            "--max-active-runs", "1",
        ],
        env=standalone.env, cwd=standalone.home, capture_output=True, text=True,
        timeout=CLI_TIMEOUT_S, check=False,
    )  # fmt: skip
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, output
    return output


def wait_for_backfill(standalone: AirflowInstance) -> dict[str, Any]:
    """Wait until the scheduler marks the DAG's only backfill complete (all its runs done).

    Fails as soon as one run fails: the later ones would only add to the wait.
    """

    def completed() -> dict[str, Any] | None:
        failed = [r["dag_run_id"] for r in dag_runs(standalone) if r["state"] == "failed"]
        if failed:
            pytest.fail(f"backfill runs failed: {failed}\n{standalone.diagnostics()}")
        answer = standalone.get("/api/v2/backfills", dag_id=DAG_ID)
        answer.raise_for_status()
        backfills = answer.json()["backfills"]
        assert len(backfills) == 1, backfills
        backfill: dict[str, Any] = backfills[0]
        return backfill if backfill["completed_at"] else None

    found: dict[str, Any] = standalone.wait_for(
        "the backfill to complete", len(DAYS) * RUN_TIMEOUT_S, completed
    )
    return found


def test_backfill_loads_what_daily_runs_would_and_a_rerun_changes_nothing(
    standalone: AirflowInstance, warehouse_dsn: str, demo_site: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    standalone.wait_for_dag(DAG_ID, DAG_PARSE_TIMEOUT_S)
    # The scheduler starts no run of a paused DAG, backfill runs included.
    unpaused = standalone.api.patch(
        standalone.url(f"/api/v2/dags/{DAG_ID}"), json={"is_paused": False}, timeout=HTTP_TIMEOUT_S
    )
    assert unpaused.status_code == 200, unpaused.text
    parsed = time.monotonic()

    cli_output = create_backfill_with_cli(standalone)
    backfill = wait_for_backfill(standalone)
    backfilled = time.monotonic()
    assert backfill["max_active_runs"] == 1, backfill
    runs = dag_runs(standalone)
    assert [(r["run_type"], r["logical_date"][:10]) for r in runs] == [
        ("backfill", day.isoformat()) for day in DAYS
    ], (runs, cli_output)
    assert [r["state"] for r in runs] == ["success"] * len(DAYS), standalone.diagnostics()

    # Exactly the rows the daily runs would have: each day first loads its own feed entries.
    registry = write_registry(demo_site.base_url, tmp_path / "expected" / "feeds.yaml")
    expected = expected_partition(demo_site.base_url, registry)
    feeds = {source.name for source in load_registry(registry)}
    with psycopg.connect(warehouse_dsn) as conn:
        loaded: dict[str, set[str]] = defaultdict(set)
        for key, url in conn.execute("SELECT first_run_key, canonical_url FROM news.articles"):
            loaded[key].add(url)
        recorded = conn.execute(
            "SELECT run_key, feed_name FROM news.ingest_runs ORDER BY run_key, feed_name"
        ).fetchall()
    assert dict(loaded) == {day.isoformat(): urls for day, urls in expected.items()}
    assert recorded == sorted((day.isoformat(), feed) for day in DAYS for feed in feeds)

    # Re-running a day changes nothing: clear its run and let the scheduler run it again.
    before = snapshot(warehouse_dsn)
    attempts = fetch_log_rows(warehouse_dsn, RERUN_DAY.isoformat())
    (rerun,) = [r for r in runs if r["logical_date"].startswith(RERUN_DAY.isoformat())]
    run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{rerun['dag_run_id']}"
    cleared = standalone.api.post(
        standalone.url(f"{run_path}/clear"), json={"dry_run": False}, timeout=HTTP_TIMEOUT_S
    )
    assert cleared.status_code == 200, cleared.text

    def finished_again() -> dict[str, Any] | None:
        answer = standalone.get(run_path)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        done = body["state"] in FINISHED and body["end_date"] != rerun["end_date"]
        return body if done else None

    again = standalone.wait_for(
        f"the cleared run {rerun['dag_run_id']}", RUN_TIMEOUT_S, finished_again
    )
    reran = time.monotonic()
    assert again["state"] == "success", standalone.diagnostics()
    # The rerun really fetched its day again (the feeds and the day's own pages) ...
    assert fetch_log_rows(warehouse_dsn, RERUN_DAY.isoformat()) > attempts
    # ... and left every row as it was.
    after = snapshot(warehouse_dsn)
    assert after == before
    assert {r["state"] for r in dag_runs(standalone)} == {"success"}
    # Shown with -s: where the time goes on this machine.
    print(
        f"\nbackfill test: DAG parsed and unpaused {parsed - standalone.started_at:.0f} s after "
        f"`airflow standalone` started, CLI and {len(DAYS)} backfill runs "
        f"{backfilled - parsed:.0f} s, rerun of {RERUN_DAY} {reran - backfilled:.0f} s, "
        f"test body {reran - started:.0f} s"
    )
