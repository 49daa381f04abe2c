"""The extract stage streams in chunks, in parallel or by shard, and skips unchanged pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from newsingest import pipeline
from newsingest.settings import Settings

RUN = pipeline.RunInfo.make(date(2022, 1, 22), "test")


def staged(dsn: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT url, skipped_reason, record - 'fetched_at', source_sha256, extractor_version "
            "FROM news.staged_articles WHERE run_key = %s",
            (RUN.run_key,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture
def fetched(warehouse_dsn: str, settings: Settings, demo_registry: Path) -> Iterator[str]:
    """A warehouse holding the demo day's fetched pages, none extracted yet."""
    for source in pipeline.prepare(warehouse_dsn, demo_registry):
        pipeline.fetch_feed(warehouse_dsn, settings, RUN, source)
    yield warehouse_dsn


def test_chunks_processes_and_shards_stage_the_same_articles(
    fetched: str, settings: Settings
) -> None:
    small = settings.replace(extract_chunk_pages=4)
    serial = pipeline.extract(fetched, small, RUN)
    assert serial["extracted"] > 20 and serial["unchanged"] == 0
    expected = staged(fetched)
    assert all(sha is not None for _, _, sha, _ in expected.values())
    with psycopg.connect(fetched) as conn:
        conn.execute("DELETE FROM news.staged_articles")
    in_pool = pipeline.extract(fetched, small, RUN, processes=2)
    assert in_pool == serial
    assert staged(fetched) == expected
    with psycopg.connect(fetched) as conn:
        conn.execute("DELETE FROM news.staged_articles")
    parts = [pipeline.extract(fetched, small, RUN, shard=i, shards=3) for i in range(3)]
    assert all(p["extracted"] + p["skipped"] > 0 for p in parts)  # the hash spreads pages
    assert sum(p["extracted"] for p in parts) == serial["extracted"]
    assert staged(fetched) == expected


def test_a_rerun_of_an_unchanged_day_extracts_nothing_again(
    fetched: str, settings: Settings
) -> None:
    first = pipeline.extract(fetched, settings, RUN)
    before = staged(fetched)
    again = pipeline.extract(fetched, settings, RUN)
    pages = first["extracted"] + first["skipped"]
    assert again == {"extracted": 0, "skipped": 0, "unchanged": pages}
    assert staged(fetched) == before
    # A page whose bytes changed (fetched again and different) is extracted again.
    with psycopg.connect(fetched) as conn:
        conn.execute(
            "UPDATE news.raw_pages SET body_sha256 = '\\x00' "
            "WHERE url = (SELECT min(url) FROM news.raw_pages)"
        )
    assert pipeline.extract(fetched, settings, RUN)["unchanged"] == pages - 1


def test_every_stage_records_its_timing(
    warehouse_dsn: str, settings: Settings, demo_registry: Path
) -> None:
    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT stage, part, items, wall_s, cpu_s, worker FROM news.stage_timings "
            "WHERE run_key = %s ORDER BY started_at",
            (RUN.run_key,),
        ).fetchall()
        articles = conn.execute("SELECT count(*) FROM news.articles").fetchone()
        feeds_run = conn.execute("SELECT feed_name FROM news.ingest_runs").fetchall()
    stages = [r[0] for r in rows]
    assert set(stages) == {"fetch", "extract", "deduplicate", "load", "check"}
    assert stages.index("extract") > max(i for i, s in enumerate(stages) if s == "fetch")
    feeds = {r[1] for r in rows if r[0] == "fetch"}
    assert feeds == {f for (f,) in feeds_run}
    by_stage = {r[0]: r for r in rows if r[0] != "fetch"}
    assert by_stage["load"][2] == articles[0]  # type: ignore[index]
    assert all(r[3] > 0 and r[4] >= 0 and ":" in r[5] for r in rows)


def test_a_rerun_of_an_unchanged_day_leaves_every_row_as_it_was(
    warehouse_dsn: str, settings: Settings, demo_registry: Path
) -> None:
    def everything() -> dict[str, list[tuple[Any, ...]]]:
        with psycopg.connect(warehouse_dsn) as conn:
            return {
                table: conn.execute(f"SELECT {cols} FROM news.{table} ORDER BY 1").fetchall()
                for table, cols in (
                    ("articles", "*"),
                    ("story_clusters", "*"),
                    ("staged_articles", "url, record, source_sha256, extractor_version"),
                    ("raw_pages", "url, body_gz, body_sha256"),
                )
            }

    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    before = everything()
    pipeline.run_all(warehouse_dsn, settings, RUN, demo_registry)
    assert everything() == before
