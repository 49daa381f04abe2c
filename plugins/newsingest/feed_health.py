"""Feed-volume monitoring: each feed's day against its own same-weekday history."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from newsingest import warehouse
from newsingest.settings import Settings

LOGGER = logging.getLogger(__name__)

BELOW_EXPECTED = "below_expected"
SILENT = "silent"
SKIPPED_JUMP = "skipped_jump"


class FeedHealthError(RuntimeError):
    """Too many feeds alerted for the run to pass; the message names them."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One warning about one feed on one day."""

    feed_name: str
    kind: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)


def assess(rows: Sequence[dict[str, Any]], settings: Settings) -> list[Alert]:
    """The alerts that rows of news.feed_health_at call for.

    Args:
        rows: one per feed, as warehouse.feed_health returns them.
        settings: the health_* thresholds.

    Returns:
        Alerts in feed order: below_expected, silent, skipped_jump.
    """
    alerts: list[Alert] = []
    for row in rows:
        name = row["feed_name"]
        figures = {key: _plain(value) for key, value in row.items() if key != "feed_name"}
        expected, spread = row["expected"], row["spread"]
        if (
            expected is not None
            and row["history_days"] >= settings.health_min_history
            and expected >= settings.health_min_expected
        ):
            # Median absolute deviation, floored by a share of the median: a feed whose
            # history never varied must not alert on the first slightly smaller day.
            tolerance = max(
                settings.health_mad_factor * spread, settings.health_min_drop_share * expected
            )
            if row["volume"] < expected - tolerance:
                alerts.append(Alert(name, BELOW_EXPECTED, (
                    f"feed {name}: {row['volume']} articles on {row['day']}, expected "
                    f"{expected:g} (median of the same weekday over {row['history_days']} "
                    f"weeks, spread {spread:g}); alert below {expected - tolerance:g}"
                ), figures))  # fmt: skip
        silent_for = row["days_since_new"]
        if silent_for is not None and silent_for >= settings.health_silent_days:
            alerts.append(Alert(name, SILENT, (
                f"feed {name}: no new article for {silent_for} days (alert from "
                f"{settings.health_silent_days}); error streak {row['error_streak']}"
            ), figures))  # fmt: skip
        share, usual = row["skipped_share"], row["usual_skipped_share"]
        if (
            share is not None
            and usual is not None
            and row["pages"] >= settings.health_min_pages
            and share - usual >= settings.health_skipped_jump
        ):
            alerts.append(Alert(name, SKIPPED_JUMP, (
                f"feed {name}: quality gates skipped {share:.0%} of {row['pages']} pages on "
                f"{row['day']}, usually {usual:.0%} "
                f"(alert from +{settings.health_skipped_jump:.0%})"
            ), figures))  # fmt: skip
    return alerts


def check_feed_volume(
    dsn: str, settings: Settings, run_key: str, day: date | None
) -> dict[str, Any]:
    """Warn (log and news.alerts) about feeds far below their usual volume, silent or skipping.

    Args:
        dsn: warehouse connection string.
        settings: thresholds, history length and the share of alerting feeds that fails.
        run_key: the run's key; its alerts replace those of an earlier try.
        day: the run's day; runs without one are not judged (they have no weekday history).

    Returns:
        Feeds checked, alerting feeds and the alerts' messages.

    Raises:
        FeedHealthError: more than max_alerted_feed_share of the feeds alerted.
    """
    if day is None:
        LOGGER.info("run %s has no day: feed volumes are not checked", run_key)
        return {"feeds": 0, "alerting": [], "alerts": []}
    with warehouse.connect(dsn) as conn:
        rows = warehouse.feed_health(conn, day, settings.health_weeks)
        alerts = assess(rows, settings)
        warehouse.record_alerts(conn, run_key, day, alerts)
    for alert in alerts:
        LOGGER.warning("%s", alert.message)
    alerting = sorted({alert.feed_name for alert in alerts})
    figures = {"feeds": len(rows), "alerting": alerting, "alerts": [a.message for a in alerts]}
    share = len(alerting) / max(1, len(rows))
    if share > settings.max_alerted_feed_share:
        raise FeedHealthError(
            f"run {run_key}: {len(alerting)} of {len(rows)} feeds need attention ({share:.0%} > "
            f"allowed {settings.max_alerted_feed_share:.0%}): {', '.join(alerting)}; "
            "see news.alerts and news.feed_health"
        )
    LOGGER.info("feed volumes: %d feeds checked, %d need attention", len(rows), len(alerting))
    return figures


def _plain(value: Any) -> Any:
    """A JSON-ready figure (dates as ISO strings)."""
    return value.isoformat() if isinstance(value, date) else value
