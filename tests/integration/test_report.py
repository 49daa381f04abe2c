"""`newsingest report` and maintenance over the demo day, on a real PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from newsingest import cli, maintenance, pipeline, report
from newsingest.settings import Settings


@pytest.fixture
def loaded(warehouse_dsn: str, settings: Settings, demo_registry: Path) -> str:
    pipeline.run_all(warehouse_dsn, settings, pipeline.RunInfo.make(date(2022, 1, 22), "t"),
                     demo_registry)  # fmt: skip
    return warehouse_dsn


def test_report_of_the_day(loaded: str) -> None:
    text = report.daily_report(loaded, date(2022, 1, 21), top=3)
    attention, feeds, stories, _earlier, copiers = text.split("\n\n")[1:6]
    assert attention.startswith("Feeds needing attention")
    assert "(no run recorded" in feeds  # the run's logical date is the 22nd
    lines = stories.splitlines()
    assert lines[0].startswith("Top stories first published this day")
    top = lines[2].split()
    # The Blinken-Lavrov wire story: 5 outlets, first published by the wire service.
    assert top[1:3] == ["5", "5"]
    assert "Global Wire Service" in lines[2]
    assert len(lines) == 2 + 3
    assert copiers.startswith("Outlets whose articles this day are mostly copies")


def test_stories_first_published_earlier_are_listed_apart(loaded: str) -> None:
    """On the 22nd the Blinken story (first published on the 21st) is no story of the day."""
    sections = report.daily_report(loaded, date(2022, 1, 22)).split("\n\n")
    first = next(part for part in sections if part.startswith("Top stories first published"))
    earlier = next(part for part in sections if part.startswith("Earlier stories"))
    at = first.splitlines()[1].index(" at ") + 1
    days = {line[at : at + 10] for line in first.splitlines()[2:]}
    assert days == {"2022-01-22"}
    (blinken,) = earlier.splitlines()[2:]
    assert "2022-01-21" in blinken and "Blinken" in blinken
    # 5 articles in all, one of them (The Newsfarm's copy) published on the 22nd.
    assert blinken.split()[1:4] == ["5", "5", "1"]


def test_report_lists_feeds_of_the_run_day(loaded: str) -> None:
    text = report.daily_report(loaded, date(2022, 1, 22))
    assert "broken-gazette" in text and "FAILED" in text
    assert "daily-courier" in text


def test_cli_report(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--date", "2022-01-22", "--dsn", loaded]) == 0
    assert "newsingest report for 2022-01-22" in capsys.readouterr().out


def test_maintenance(loaded: str, settings: Settings) -> None:
    with psycopg.connect(loaded) as conn:
        pages = conn.execute("SELECT count(*) FROM news.raw_pages").fetchone()
        articles = conn.execute("SELECT count(*) FROM news.articles").fetchone()
    kept = maintenance.prune_staging(loaded, settings, datetime.now(UTC))
    assert kept == {"raw_pages": 0, "staged_articles": 0, "page_claims": 0}
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    deleted = maintenance.prune_staging(loaded, settings, later)
    assert deleted["raw_pages"] == pages[0]  # type: ignore[index]
    assert maintenance.refresh_clusters(loaded) > 0
    assert "news.articles" in maintenance.vacuum(loaded)
    with psycopg.connect(loaded) as conn:
        assert conn.execute("SELECT count(*) FROM news.raw_pages").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM news.articles").fetchone() == articles


def test_report_shows_each_stage_timing_of_the_day(loaded: str) -> None:
    timings = report.daily_report(loaded, date(2022, 1, 22)).split("\n\n")[-1].splitlines()
    assert timings[0].startswith("Stage timings")
    stages = [line.split()[1] for line in timings[2:]]
    assert stages == ["fetch", "extract", "deduplicate", "load", "check"]
    fetch = timings[2].split()
    assert fetch[2] == "7"  # one part per feed of the demo registry


def test_loaded_articles_carry_confidence_method_and_language(loaded: str) -> None:
    with psycopg.connect(loaded) as conn:
        rows = conn.execute(
            "SELECT extraction_method, extraction_confidence, language_detected FROM news.articles"
        ).fetchall()
    assert rows
    assert all(method.startswith("trafilatura_") for method, _, _ in rows)
    assert all(0.0 <= confidence <= 1.0 for _, confidence, _ in rows)
    assert {"en"} <= {detected for _, _, detected in rows}


def test_report_counts_low_confidence_articles_per_outlet(loaded: str) -> None:
    with psycopg.connect(loaded) as conn:
        outlet, day = conn.execute(
            "SELECT outlet, (coalesce(published_at, fetched_at) AT TIME ZONE 'UTC')::date "
            "FROM news.articles GROUP BY 1, 2 HAVING count(*) >= 2 ORDER BY 1, 2 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        # Two of the outlet's articles that day as if its template had changed.
        conn.execute(
            "UPDATE news.articles SET extraction_low_confidence = true, "
            "extraction_confidence = 0.2 WHERE article_id IN (SELECT article_id FROM "
            "news.articles WHERE outlet = %s AND (coalesce(published_at, fetched_at) "
            "AT TIME ZONE 'UTC')::date = %s ORDER BY article_id LIMIT 2)",
            (outlet, day),
        )
    section = report.daily_report(loaded, day).split("\n\n")[6]
    lines = section.splitlines()
    assert lines[0].startswith("Outlets with low-confidence extractions")
    columns = re.split(r"\s{2,}", lines[2])
    assert (columns[0], columns[2]) == (outlet, "2")
    assert float(columns[3]) < 1.0
    other_day = report.daily_report(loaded, date(2000, 1, 1)).split("\n\n")[6]
    assert other_day.endswith("(none)")
