"""`newsingest report`: one day of the warehouse for analysts, as plain-text tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from newsingest import warehouse

LOGGER = logging.getLogger(__name__)

# An outlet is listed as a copier when at least this share of its day's articles are copies.
COPY_SHARE = 0.5


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces."""
    cells = [list(headers), *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)  # fmt: skip


def daily_report(dsn: str, day: date, *, top: int = 10) -> str:
    """The day's feeds needing attention, feeds, top story clusters, copying outlets,
    low-confidence extractions and stage timings.

    Args:
        dsn: warehouse connection string.
        day: the logical date (feeds) and UTC publication day (stories, outlets).
        top: how many story clusters to list.

    Returns:
        The printable report.
    """
    with warehouse.connect(dsn) as conn:
        alerts = warehouse.report_alerts(conn, day)
        feeds = warehouse.report_feeds(conn, day)
        stories = warehouse.report_top_stories(conn, day, top)
        spreading = warehouse.report_top_stories(conn, day, top, earlier=True)
        copiers = warehouse.report_copy_outlets(conn, day, COPY_SHARE)
        timings = warehouse.report_stage_timings(conn, day)
        uncertain = warehouse.report_low_confidence(conn, day)
    feed_rows = [
        (f["feed_name"], f["outlet"], f["fetched"], f["new"], f["duplicates"], f["failed"],
         "FAILED" if f["feed_failed"] else "ok")
        for f in feeds
    ]  # fmt: skip
    story_rows, spreading_rows = ([
        (s["cluster_id"], s["outlet_count"], s["member_count"], s["day_articles"],
         s["first_outlet"],
         f"{s['first_published_at']:%Y-%m-%d %H:%M}" if s["first_published_at"] else "",
         ",".join(s["agencies"]), s["title"][:70])
        for s in found
    ] for found in (stories, spreading))  # fmt: skip
    story_headers = ("cluster", "outlets", "articles", "this day", "first published by", "at",
                     "agencies", "title")  # fmt: skip
    copier_rows = [
        (c["outlet"], c["articles"], c["rewritten_copies"], c["exact_copies"],
         c["attributed_copies"], f"{float(c['copy_share']):.0%}")
        for c in copiers
    ]  # fmt: skip
    alert_rows = [
        (a["feed_name"], a["kind"], a["message"].removeprefix(f"feed {a['feed_name']}: "))
        for a in alerts
    ]
    timing_rows = [
        (t["run_key"], t["stage"], t["parts"], t["items"], f"{t['wall_s']:.1f}",
         f"{t['slowest_s']:.1f}", f"{t['cpu_s']:.1f}")
        for t in timings
    ]  # fmt: skip
    uncertain_rows = [
        (u["outlet"], u["articles"], u["low_confidence"],
         "" if u["mean_confidence"] is None else f"{float(u['mean_confidence']):.2f}",
         u["language_disagreements"])
        for u in uncertain
    ]  # fmt: skip
    sections: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]], str]] = [
        (
            "Feeds needing attention (feed-volume check of this logical date, news.alerts)",
            ("feed", "alert", "what the check found"),
            alert_rows,
            "(none)",
        ),
        (
            "Feeds (runs of this logical date)",
            ("feed", "outlet", "fetched", "new", "duplicates", "failed", "status"),
            feed_rows,
            "(no run recorded for this date)",
        ),
        (
            f"Top stories first published this day (by outlets, top {top})",
            story_headers,
            story_rows,
            "(no stories)",
        ),
        (
            f"Earlier stories with new articles this day (by outlets, top {top})",
            story_headers,
            spreading_rows,
            "(none)",
        ),
        (
            f"Outlets whose articles this day are mostly copies (share >= {COPY_SHARE:.0%})",
            ("outlet", "articles", "rewritten", "exact", "credited", "copy share"),
            copier_rows,
            "(none)",
        ),
        (
            "Outlets with low-confidence extractions this day (a template may have changed)",
            ("outlet", "articles", "low confidence", "mean confidence", "language disagrees"),
            uncertain_rows,
            "(none)",
        ),
        (
            "Stage timings (news.stage_timings: wall seconds of all parts and of the slowest)",
            ("run", "stage", "parts", "items", "wall s", "slowest s", "CPU s"),
            timing_rows,
            "(none recorded)",
        ),
    ]
    parts = [f"newsingest report for {day.isoformat()}"]
    for title, headers, rows, empty in sections:
        parts += ["", title, table(headers, rows) if rows else empty]
    return "\n".join(parts)
