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
    """The day's feeds, top story clusters, copying outlets and low-confidence extractions.

    Args:
        dsn: warehouse connection string.
        day: the logical date (feeds) and UTC publication day (stories, outlets).
        top: how many story clusters to list.

    Returns:
        The printable report.
    """
    with warehouse.connect(dsn) as conn:
        feeds = warehouse.report_feeds(conn, day)
        stories = warehouse.report_top_stories(conn, day, top)
        copiers = warehouse.report_copy_outlets(conn, day, COPY_SHARE)
        uncertain = warehouse.report_low_confidence(conn, day)
    feed_rows = [
        (f["feed_name"], f["outlet"], f["fetched"], f["new"], f["duplicates"], f["failed"],
         "FAILED" if f["feed_failed"] else "ok")
        for f in feeds
    ]  # fmt: skip
    story_rows = [
        (s["cluster_id"], s["outlet_count"], s["member_count"], s["first_outlet"],
         f"{s['first_published_at']:%Y-%m-%d %H:%M}" if s["first_published_at"] else "",
         ",".join(s["agencies"]), s["title"][:70])
        for s in stories
    ]  # fmt: skip
    copier_rows = [
        (c["outlet"], c["articles"], c["rewritten_copies"], c["exact_copies"],
         c["attributed_copies"], f"{float(c['copy_share']):.0%}")
        for c in copiers
    ]  # fmt: skip
    uncertain_rows = [
        (u["outlet"], u["articles"], u["low_confidence"],
         "" if u["mean_confidence"] is None else f"{float(u['mean_confidence']):.2f}",
         u["language_disagreements"])
        for u in uncertain
    ]  # fmt: skip
    sections: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]], str]] = [
        (
            "Feeds (runs of this logical date)",
            ("feed", "outlet", "fetched", "new", "duplicates", "failed", "status"),
            feed_rows,
            "(no run recorded for this date)",
        ),
        (
            f"Top stories published this day (by outlets, top {top})",
            ("cluster", "outlets", "articles", "first published by", "at", "agencies", "title"),
            story_rows,
            "(no stories)",
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
    ]
    parts = [f"newsingest report for {day.isoformat()}"]
    for title, headers, rows, empty in sections:
        parts += ["", title, table(headers, rows) if rows else empty]
    return "\n".join(parts)
