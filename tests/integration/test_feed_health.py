"""Feed-volume monitoring on a generated history: silent, collapsing and weekend-dip feeds."""

from __future__ import annotations

import random
from datetime import date, timedelta

import psycopg
import pytest

from newsingest import feed_health, report
from newsingest.settings import Settings

# A Saturday: the weekend feed's dip must be compared with its past Saturdays.
TODAY = date(2024, 3, 16)
WEEKS = 8
SEED = 20240316


def _volume(feed: str, day: date, rng: random.Random) -> tuple[int, int]:
    """(articles, pages skipped by quality gates) of one feed on one past or present day."""
    weekend = day.weekday() >= 5
    if feed == "weekend-dip":
        # Busy on weekdays, quiet at weekends: today's 3 is an ordinary Saturday.
        return (3 if day == TODAY else rng.randint(3, 6) if weekend else rng.randint(18, 24)), 0
    if feed == "went-silent":
        return (0 if (TODAY - day).days < 4 else rng.randint(8, 12)), 0
    if feed == "collapsing":
        # A template change: today most pages fail the quality gates, few articles are left.
        if day == TODAY:
            return 2, 25
        return (rng.randint(10, 14) if weekend else rng.randint(25, 35)), rng.randint(0, 2)
    return rng.randint(9, 13), rng.randint(0, 1)


def _generate(dsn: str) -> None:
    rng = random.Random(SEED)
    feeds = ("weekend-dip", "went-silent", "collapsing", "steady")
    with psycopg.connect(dsn) as conn:
        for offset in range(WEEKS * 7, -1, -1):
            day = TODAY - timedelta(days=offset)
            for feed in feeds:
                articles, skipped = _volume(feed, day, rng)
                conn.execute(
                    "INSERT INTO news.ingest_runs (run_key, feed_name, logical_date, fetched, "
                    "extracted, skipped, new_articles, duplicates) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (day.isoformat(), feed, day, articles + skipped, articles, skipped,
                     articles - articles // 5, articles // 5),
                )  # fmt: skip


@pytest.fixture
def history(warehouse_dsn: str) -> str:
    _generate(warehouse_dsn)
    return warehouse_dsn


def _alerts(dsn: str) -> set[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT feed_name, kind FROM news.alerts").fetchall()
    return {(str(feed), str(kind)) for feed, kind in rows}


def test_alerts_for_silent_and_collapsing_feeds_not_for_a_weekend_dip(
    history: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    figures = feed_health.check_feed_volume(history, settings, TODAY.isoformat(), TODAY)
    expected = {
        ("went-silent", "silent"),
        ("went-silent", "below_expected"),
        ("collapsing", "below_expected"),
        ("collapsing", "skipped_jump"),
    }
    assert _alerts(history) == expected
    assert figures["feeds"] == 4
    assert figures["alerting"] == ["collapsing", "went-silent"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("went-silent: no new article for 4 days" in line for line in warned), warned
    assert not any("weekend-dip" in line for line in warned)

    # Rerunning the check of the same run leaves the same rows.
    feed_health.check_feed_volume(history, settings, TODAY.isoformat(), TODAY)
    with psycopg.connect(history) as conn:
        assert conn.execute("SELECT count(*) FROM news.alerts").fetchone() == (len(expected),)


def test_the_weekday_is_what_keeps_the_weekend_dip_quiet(history: str) -> None:
    """Against every day of its history (median about 20) the Saturday's 3 would alert."""
    with psycopg.connect(history) as conn:
        row = conn.execute(
            "SELECT volume, expected, history_days FROM news.feed_health "
            "WHERE feed_name = 'weekend-dip'"
        ).fetchone()
        all_days = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY new_articles + duplicates) "
            "FROM news.ingest_runs WHERE feed_name = 'weekend-dip' AND logical_date < %s",
            (TODAY,),
        ).fetchone()
    assert row is not None and all_days is not None
    volume, expected, weeks = row
    assert (volume, weeks) == (3, WEEKS)
    assert 3 <= expected <= 6
    assert all_days[0] >= 15


def test_the_run_fails_only_past_the_allowed_share(history: str, settings: Settings) -> None:
    strict = settings.replace(max_alerted_feed_share=0.25)
    with pytest.raises(feed_health.FeedHealthError, match=r"2 of 4 feeds need attention"):
        feed_health.check_feed_volume(history, strict, TODAY.isoformat(), TODAY)
    # The warnings are kept even when the run fails.
    assert ("collapsing", "skipped_jump") in _alerts(history)


def test_silence_threshold_is_a_setting(history: str, settings: Settings) -> None:
    patient = settings.replace(health_silent_days=5)
    feed_health.check_feed_volume(history, patient, TODAY.isoformat(), TODAY)
    assert ("went-silent", "silent") not in _alerts(history)
    assert ("went-silent", "below_expected") in _alerts(history)


def test_report_lists_feeds_needing_attention_first(history: str, settings: Settings) -> None:
    feed_health.check_feed_volume(history, settings, TODAY.isoformat(), TODAY)
    text = report.daily_report(history, TODAY)
    sections = text.split("\n\n")
    assert sections[1].startswith("Feeds needing attention")
    attention = sections[1].splitlines()
    assert {line.split()[0] for line in attention[2:]} == {"collapsing", "went-silent"}
    assert "weekend-dip" not in sections[1]


def test_runs_without_a_day_are_not_judged(history: str, settings: Settings) -> None:
    assert feed_health.check_feed_volume(history, settings, "manual__x", None)["feeds"] == 0
    assert _alerts(history) == set()
