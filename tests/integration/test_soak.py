"""bench/soak.py's own code on a few small days: the faults strike, every offered URL is
accounted for exactly once, and the accounting notices a lost URL, a doubled one and counts
that disagree with the rows."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import fresh_database

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))  # the site process imports it too
import soak

FAULTS = {0: ("kill", "extract"), 1: ("terminate", "load"), 2: ("terminate", "deduplicate")}


@pytest.fixture(scope="module")
def soaked(
    pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[soak.Report, str]]:
    """Three small days of the soak, one process fault each, in a database of their own."""
    with fresh_database(pg_admin_dsn, migrate=True) as dsn:
        report = soak.soak(dsn, days=3, seed=7, outlets=4, articles=150,
                           workdir=tmp_path_factory.mktemp("soak"), faults=FAULTS,
                           say=lambda _: None)  # fmt: skip
        yield report, dsn


def test_three_days_under_faults_account_for_every_url(
    soaked: tuple[soak.Report, str],
) -> None:
    report, _ = soaked
    struck = [a.fault for a in report.attempts if a.injected]
    assert struck == list(FAULTS.values())
    killed = report.attempts[0]
    assert killed.code < 0 and report.attempts[1].code == 0  # the kill, then its rerun
    assert report.problems == []
    accounting = report.accounting
    assert accounting.urls > 100
    assert accounting.accounted == accounting.urls
    categories = {c.split(":")[0] for c in accounting.categories}
    assert categories >= {"loaded", "duplicate", "skipped"}
    assert (
        report.line()
        == f"days=3 urls={accounting.urls} accounted={accounting.urls} lost=0 double=0"
    )


def one_row(dsn: str, sql: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row


def test_the_accounting_finds_lost_and_doubled_urls_and_wrong_counts(
    soaked: tuple[soak.Report, str],
) -> None:
    report, dsn = soaked
    offered = report.offered
    skipped, run = one_row(
        dsn, "SELECT url, run_key FROM news.staged_articles WHERE skipped_reason IS NOT NULL "
        "ORDER BY url LIMIT 1",
    )  # fmt: skip
    loaded = one_row(
        dsn, "SELECT canonical_url FROM news.articles WHERE dup_relation = 'original' "
        "AND canonical_url = url ORDER BY 1 LIMIT 1",
    )[0]  # fmt: skip
    assert {skipped, loaded} <= offered
    with psycopg.connect(dsn) as conn:
        # The skipped page's record is gone; the loaded one is staged again by a later run.
        conn.execute("DELETE FROM news.staged_articles WHERE url = %s", (skipped,))
        conn.execute(
            "INSERT INTO news.staged_articles (run_key, url, feed_name, skipped_reason, record) "
            "SELECT '2099-01-01', url, feed_name, 'too_short: 1 < 400', record "
            "FROM news.staged_articles WHERE url = %s",
            (loaded,),
        )
    found = soak.account(dsn, offered)
    assert found.lost == [skipped]
    assert list(found.double) == [loaded]
    assert any(m.startswith(f"{run} ") and "skipped=" in m for m in found.mismatches)
    assert found.accounted == found.urls - 2
    tampered = soak.Report(days=3, accounting=found)
    assert tampered.line() == f"days=3 urls={found.urls} accounted={found.urls - 2} lost=1 double=1"
    assert tampered.problems  # the command exits 1


def test_the_command_prints_the_last_line_and_its_status(
    pg_admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = soak.main(["--days", "2", "--outlets", "3", "--articles", "60", "--seed", "3",
                      "--dsn", pg_admin_dsn])  # fmt: skip
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0, last
    match = re.fullmatch(r"days=2 urls=(\d+) accounted=(\d+) lost=0 double=0", last)
    assert match and match[1] == match[2] and int(match[1]) > 40
