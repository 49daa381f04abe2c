"""news_ingest end to end through dag.test(): demo site, real PostgreSQL, real Airflow run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from newsingest.urls import canonical_url

EXPECTED = json.loads(
    (Path(__file__).parents[2] / "plugins/newsingest/demo/expected.json").read_text()
)
LOGICAL = datetime(2022, 1, 22, tzinfo=UTC)
COUNTED = ("articles", "story_clusters", "ingest_runs", "feeds", "feed_state", "raw_pages")


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM news.{t}").fetchone()[0])  # type: ignore[index]
            for t in COUNTED
        }


def assert_succeeded(run: Any) -> None:
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert set(states.values()) == {"success"}, states


def test_demo_run_loads_expected_articles(
    news_ingest: Any, warehouse_dsn: str, demo_site: Any
) -> None:
    run = news_ingest.test(logical_date=LOGICAL)
    assert_succeeded(run)
    # Each mapped fetch is named by its feed in the grid.
    fetches = [ti for ti in run.get_task_instances() if ti.task_id == "fetch"]
    assert sorted(ti.rendered_map_index for ti in fetches) == sorted(
        feed["name"] for feed in EXPECTED["feeds"]
    )
    expected = {
        canonical_url(demo_site.base_url + p["path"]) for p in EXPECTED["pages"] if p["is_article"]
    }
    with psycopg.connect(warehouse_dsn) as conn:
        loaded = {r[0] for r in conn.execute("SELECT canonical_url FROM news.articles")}
        broken = conn.execute(
            "SELECT feed_failed, failures FROM news.ingest_runs WHERE feed_name = 'broken-gazette'"
        ).fetchone()
        logged = conn.execute(
            "SELECT error_class FROM news.fetch_log WHERE feed_name = 'broken-gazette'"
        ).fetchall()
        healthy = conn.execute(
            "SELECT count(*) FROM news.ingest_runs WHERE feed_name <> 'broken-gazette' "
            "AND NOT feed_failed AND fetched > 0"
        ).fetchone()
        states = conn.execute(
            "SELECT error_streak FROM news.feed_state WHERE feed_name = 'broken-gazette'"
        ).fetchone()
    assert loaded == expected
    # The story clusters are exactly the demo's labelled stories.
    story = {
        canonical_url(demo_site.base_url + p["path"]): p["story"]
        for p in EXPECTED["pages"]
        if p["is_article"]
    }
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute("SELECT canonical_url, cluster_id FROM news.articles").fetchall()
        canonical = conn.execute(
            "SELECT a.canonical_url FROM news.story_clusters c "
            "JOIN news.articles a ON a.article_id = c.canonical_article_id WHERE c.member_count > 1"
        ).fetchall()
    by_cluster: dict[int, set[str]] = {}
    for url, cluster in rows:
        by_cluster.setdefault(cluster, set()).add(story[url])
    assert all(len(stories) == 1 for stories in by_cluster.values()), by_cluster
    assert len(by_cluster) == len(set(story.values()))
    # Wire stories: the agency's own page is the canonical article.
    assert {c[0].split("/")[3] for c in canonical} == {"wirewire"}
    assert broken == (True, {"parse_error": 1})
    assert ("parse_error",) in logged
    assert states == (1,)
    assert healthy == (len(EXPECTED["feeds"]) - 1,)


def test_same_logical_date_twice_leaves_identical_rows(
    news_ingest: Any, warehouse_dsn: str
) -> None:
    assert_succeeded(news_ingest.test(logical_date=LOGICAL))
    first = counts(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        before = conn.execute(
            "SELECT canonical_url, cluster_id, dup_relation, duplicate_of, body "
            "FROM news.articles ORDER BY canonical_url"
        ).fetchall()
    assert_succeeded(news_ingest.test(logical_date=LOGICAL))
    assert counts(warehouse_dsn) == first
    with psycopg.connect(warehouse_dsn) as conn:
        after = conn.execute(
            "SELECT canonical_url, cluster_id, dup_relation, duplicate_of, body "
            "FROM news.articles ORDER BY canonical_url"
        ).fetchall()
    assert after == before


def test_run_without_logical_date(news_ingest: Any, warehouse_dsn: str) -> None:
    run = news_ingest.test(logical_date=None)
    assert_succeeded(run)
    with psycopg.connect(warehouse_dsn) as conn:
        keys = conn.execute(
            "SELECT DISTINCT run_key, logical_date FROM news.ingest_runs"
        ).fetchall()
        loaded = conn.execute("SELECT count(*) FROM news.articles").fetchone()
    assert keys == [(run.run_id, None)]
    assert loaded is not None and loaded[0] > 0
