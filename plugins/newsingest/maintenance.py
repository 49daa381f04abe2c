"""Warehouse upkeep: staging retention, cluster statistics, VACUUM and ANALYZE."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from newsingest import warehouse
from newsingest.settings import Settings

LOGGER = logging.getLogger(__name__)


def prune_staging(dsn: str, settings: Settings, now: datetime) -> dict[str, int]:
    """Delete staged raw pages (and their extraction records) past the retention period.

    Args:
        dsn: warehouse connection string.
        settings: gives raw_retention_days.
        now: the reference time (the run's logical date, so reruns delete the same rows).

    Returns:
        Rows deleted per table.
    """
    before = now - timedelta(days=settings.raw_retention_days)
    with warehouse.connect(dsn) as conn:
        deleted = warehouse.prune_staging(conn, before)
    LOGGER.info("pruned staging older than %s: %s", before.isoformat(), deleted)
    return deleted


def refresh_clusters(dsn: str) -> int:
    """Recompute every story cluster's statistics and canonical article; returns the count."""
    with warehouse.connect(dsn) as conn:
        count = warehouse.refresh_all_clusters(conn)
    LOGGER.info("refreshed %d story clusters", count)
    return count


def vacuum(dsn: str) -> list[str]:
    """VACUUM (ANALYZE) the big tables; returns their names."""
    tables = warehouse.vacuum_analyze(dsn)
    LOGGER.info("vacuumed and analysed %s", ", ".join(tables))
    return tables
