"""The pipeline stages against the demo site and a real PostgreSQL, without Airflow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from newsingest import cli, pipeline, warehouse
from newsingest.records import FeedSource
from newsingest.settings import Settings
from tests.sites import article_page, rss, serve

RUN = pipeline.RunInfo.make(date(2022, 1, 22), "test")


def table_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM news.{t}").fetchone()[0]  # type: ignore[index]
            for t in ("articles", "story_clusters", "ingest_runs", "raw_pages", "staged_articles")
        }


def test_run_all_twice_is_idempotent(
    warehouse_dsn: str, settings: Settings, demo_registry: Path
) -> None:
    text = pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    assert "broken-gazette" in text and "FAILED" in text
    first = table_counts(warehouse_dsn)
    assert first["articles"] > 20
    runs = run_rows(warehouse_dsn)
    state = dedup_state(warehouse_dsn)
    assert state[1], "the founders' lines are counted"
    staged = staged_rows(warehouse_dsn)
    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    assert table_counts(warehouse_dsn) == first
    # The staged decisions still say what was decided (not "original" for a loaded copy).
    assert staged_rows(warehouse_dsn) == staged
    # The same founders, sketches and line counts: nothing counted twice.
    assert dedup_state(warehouse_dsn) == state
    # The rerun saw the feeds again (no 304 to its own validators): same counts.
    assert run_rows(warehouse_dsn) == runs


def dedup_state(dsn: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Stored founders (URL, algorithm, sketch) and founder line counts, in order."""
    with psycopg.connect(dsn) as conn:
        founders = conn.execute(
            "SELECT canonical_url, algorithm, sketch FROM news.dedup_founders ORDER BY 1"
        ).fetchall()
        lines = conn.execute(
            "SELECT line_hash, founders FROM news.dedup_lines ORDER BY 1"
        ).fetchall()
    return founders, lines


def staged_rows(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT url, skipped_reason, dedup FROM news.staged_articles ORDER BY url"
        ).fetchall()


def run_rows(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT run_key, feed_name, entries, fetched, not_modified, skipped_known, extracted, "
            "skipped, new_articles, duplicates, failed, feed_failed, failures "
            "FROM news.ingest_runs ORDER BY run_key, feed_name"
        ).fetchall()


def test_next_day_skips_pages_already_loaded(
    warehouse_dsn: str, settings: Settings, demo_registry: Path
) -> None:
    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    loaded = table_counts(warehouse_dsn)["articles"]
    # Unchanged feeds answer 304 to the stored validators: nothing is even parsed.
    later = pipeline.RunInfo.make(date(2022, 1, 23), "test")
    pipeline.run_all(warehouse_dsn, settings, later, demo_registry)
    with psycopg.connect(warehouse_dsn) as conn:
        not_modified, fetched = conn.execute(
            "SELECT sum(not_modified), sum(fetched) FROM news.ingest_runs WHERE run_key = %s",
            (later.run_key,),
        ).fetchone()  # type: ignore[misc]
        # Without validators the feeds are parsed again, and loaded pages are skipped.
        conn.execute("UPDATE news.feed_state SET etag = NULL, last_modified = NULL")
    assert (not_modified, fetched) == (6, 0)
    third = pipeline.RunInfo.make(date(2022, 1, 24), "test")
    pipeline.run_all(warehouse_dsn, settings, third, demo_registry)
    with psycopg.connect(warehouse_dsn) as conn:
        fetched, known = conn.execute(
            "SELECT sum(fetched), sum(skipped_known) FROM news.ingest_runs WHERE run_key = %s",
            (third.run_key,),
        ).fetchone()  # type: ignore[misc]
    assert fetched == 0
    assert known >= loaded
    assert table_counts(warehouse_dsn)["articles"] == loaded


def test_failing_pages_do_not_stop_the_feed(
    warehouse_dsn: str, settings: Settings, demo_site: Any, tmp_path: Path
) -> None:
    base = demo_site.base_url
    feed = FeedSource(name="faulty", url=f"{base}/_fault/bigfeed?n=6")
    pipeline.prepare(warehouse_dsn, _registry(tmp_path, feed))
    counts = pipeline.fetch_feed(warehouse_dsn, settings, RUN, feed)
    assert counts.entries == 6
    assert counts.fetched == 6
    bad = FeedSource(name="gone", url=f"{base}/_fault/status/500")
    pipeline.prepare(warehouse_dsn, _registry(tmp_path, bad))
    failed = pipeline.fetch_feed(warehouse_dsn, settings.replace(retries=1), RUN, bad)
    assert failed.feed_failed
    assert failed.failures == {"http_5xx": 1}
    with psycopg.connect(warehouse_dsn) as conn:
        logged = conn.execute(
            "SELECT error_class, attempt FROM news.fetch_log WHERE feed_name = 'gone' "
            "AND target = 'feed' ORDER BY attempt"
        ).fetchall()
        streak = conn.execute(
            "SELECT error_streak, last_error_class FROM news.feed_state WHERE feed_name = 'gone'"
        ).fetchone()
        staged = conn.execute(
            "SELECT count(*) FROM news.raw_pages WHERE feed_name = 'faulty'"
        ).fetchone()
    assert logged == [("http_5xx", 1), ("http_5xx", 2)]
    assert streak == (1, "http_5xx")
    # Retrying the same run counts the failing day once; the next day adds one.
    pipeline.fetch_feed(warehouse_dsn, settings.replace(retries=0), RUN, bad)
    later = pipeline.RunInfo.make(date(2022, 1, 23), "test")
    pipeline.fetch_feed(warehouse_dsn, settings.replace(retries=0), later, bad)
    with psycopg.connect(warehouse_dsn) as conn:
        streaks = conn.execute(
            "SELECT error_streak FROM news.feed_state WHERE feed_name = 'gone'"
        ).fetchone()
    assert streaks == (2,)
    assert staged == (6,)


def test_a_rerun_keeps_the_pages_its_run_fetched_that_fail_now(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    """An attempt fetched the feed's pages, then stopped; its rerun meets failing answers."""
    published = "Fri, 21 Jan 2022 10:00:00 GMT"
    with serve() as site:
        a = site.put("/news/a", "text/html", article_page("lakeshorecourier_2024_03_14"))
        b = site.put("/news/b", "text/html", article_page("northgatepost_2024_07_01"))
        feed = site.put("/feed.xml", "application/rss+xml", rss([("A", a, published),
                                                                 ("B", b, published)]))  # fmt: skip
        source = FeedSource(name="courier", url=feed)
        pipeline.prepare(warehouse_dsn, _registry(tmp_path, source))
        assert pipeline.fetch_feed(warehouse_dsn, settings, RUN, source).fetched == 2
        once = settings.replace(retries=0)
        site.statuses["/news/b"] = 503
        again = pipeline.fetch_feed(warehouse_dsn, once, RUN, source)
        # The page the run holds is the run's: fetched, not a failure of the run.
        assert (again.fetched, again.failed, again.failures) == (2, 0, {})
        site.statuses["/feed.xml"] = 503
        gone = pipeline.fetch_feed(warehouse_dsn, once, RUN, source)
        assert (gone.feed_failed, gone.fetched, gone.failures) == (True, 2, {"http_5xx": 1})
    for stage in (pipeline.extract, pipeline.deduplicate, pipeline.load):
        stage(warehouse_dsn, settings, RUN)
    with psycopg.connect(warehouse_dsn) as conn:
        counted = conn.execute(
            "SELECT fetched, extracted, new_articles + duplicates FROM news.ingest_runs"
        ).fetchall()
        loaded = conn.execute("SELECT url FROM news.articles ORDER BY url").fetchall()
    assert counted == [(2, 2, 2)]
    assert loaded == [(a,), (b,)]


def test_a_page_a_killed_attempt_claimed_is_fetched_by_another_feed_of_the_rerun(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    published = "Fri, 21 Jan 2022 10:00:00 GMT"
    with serve() as site:
        story = site.put("/news/a", "text/html", article_page("lakeshorecourier_2024_03_14"))
        aggregator = site.put("/agg.xml", "application/rss+xml",
                              rss([("A", f"{story}?utm_source=agg", published)]))  # fmt: skip
        own = site.put("/feed.xml", "application/rss+xml", rss([("A", story, published)]))
        registry = _registry(tmp_path, FeedSource(name="agg", url=aggregator),
                             FeedSource(name="courier", url=own))  # fmt: skip
        env = {**os.environ, "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1", "NEWSINGEST_HOST_DELAY": "0"}
        attempt = subprocess.Popen(
            [sys.executable, "-m", "newsingest.cli", "run", "--date", "2022-01-22",
             "--registry", str(registry), "--dsn", warehouse_dsn],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        # The attempt dies while the aggregator downloads the story it claimed for itself ...
        site.hooks["/news/a"] = lambda: os.killpg(attempt.pid, signal.SIGKILL)
        assert attempt.wait(timeout=120) == -signal.SIGKILL
        del site.hooks["/news/a"]
        # ... and in the rerun the aggregator's feed fails: the outlet's own feed fetches it.
        site.statuses["/agg.xml"] = 503
        pipeline.run_all(warehouse_dsn, settings.replace(retries=0), RUN, registry)
    with psycopg.connect(warehouse_dsn) as conn:
        counted = conn.execute(
            "SELECT feed_name, fetched, skipped_known, feed_failed FROM news.ingest_runs "
            "ORDER BY feed_name"
        ).fetchall()
        loaded = conn.execute("SELECT url, feed_name FROM news.articles").fetchall()
    assert counted == [("agg", 0, 0, True), ("courier", 1, 0, False)]
    assert loaded == [(story, "courier")]


def test_check_fails_when_too_many_feeds_fail(
    warehouse_dsn: str, settings: Settings, demo_site: Any, tmp_path: Path
) -> None:
    feeds = [FeedSource(name=f"down-{i}", url=f"{demo_site.base_url}/_fault/status/404")
             for i in range(2)]  # fmt: skip
    registry = _registry(tmp_path, *feeds)
    with pytest.raises(pipeline.CheckError, match=r"2 of 2 feeds failed \(100% > allowed 50%\)"):
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)


def test_cli_migrate_and_run(
    warehouse_dsn: str, demo_registry: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for key, value in {"NEWSINGEST_ALLOW_HOSTS": "127.0.0.1", "NEWSINGEST_HOST_DELAY": "0"}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["migrate", "--dsn", warehouse_dsn]) == 0
    assert "up to date" in capsys.readouterr().out
    args = ["run", "--date", "2022-01-22", "--registry", str(demo_registry), "--dsn", warehouse_dsn]
    assert cli.main([*args, "--feeds", "wirewire,daily-courier"]) == 0
    out = capsys.readouterr().out
    assert "wirewire" in out and "daily-courier" in out and "metro-ledger" not in out


def test_cli_without_dsn_explains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEWSINGEST_DSN", raising=False)
    assert cli.main(["migrate"]) == 2
    assert "no warehouse DSN: set NEWSINGEST_DSN" in capsys.readouterr().err


def _registry(tmp_path: Path, *feeds: FeedSource) -> Path:
    path = tmp_path / "registry.yaml"
    lines = ["feeds:"]
    for feed in feeds:
        lines += [f"  - name: {feed.name}", f'    url: "{feed.url}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def loaded_rows(dsn: str) -> list[tuple[object, ...]]:
    """What a load leaves, by canonical URL (ids aside, which depend on the order of calls)."""
    with psycopg.connect(dsn) as conn:
        articles = conn.execute(
            "SELECT a.canonical_url, a.url, a.body, a.dup_relation, a.similarity, a.is_canonical, "
            "f.canonical_url AS founder, d.canonical_url AS duplicate_of "
            "FROM news.articles a JOIN news.story_clusters c USING (cluster_id) "
            "JOIN news.articles f ON f.article_id = c.canonical_article_id "
            "LEFT JOIN news.articles d ON d.article_id = a.duplicate_of ORDER BY 1"
        ).fetchall()
        state = conn.execute(
            "SELECT f.canonical_url, f.size, f.samples, f.sketch, "
            "(SELECT array_agg(p.shingle ORDER BY p.shingle) FROM news.dedup_postings p "
            "WHERE p.founder_id = f.founder_id) FROM news.dedup_founders f ORDER BY 1"
        ).fetchall()
        lines = conn.execute(
            "SELECT 'founders', NULL, line_hash, founders FROM news.dedup_lines UNION ALL "
            "SELECT 'site', site, line_hash, docs FROM news.dedup_site_lines ORDER BY 1, 2, 3"
        ).fetchall()
    return [*articles, *state, *lines]


def test_a_load_in_chunks_of_one_article_loads_what_one_chunk_does(
    warehouse_dsn: str,
    second_warehouse_dsn: str,
    settings: Settings,
    demo_registry: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    monkeypatch.setattr(warehouse, "LOAD_CHUNK", 1)
    pipeline.run_all(second_warehouse_dsn, settings, RUN, demo_registry)
    whole = loaded_rows(warehouse_dsn)
    assert len(whole) > 50
    assert loaded_rows(second_warehouse_dsn) == whole
