"""Timestamps read from outside: parsed to UTC, or refused (None) when unreadable or absurd."""

from __future__ import annotations

import calendar
import logging
import time
from datetime import UTC, datetime
from typing import Any

LOGGER = logging.getLogger(__name__)

# News is not older than print and not dated centuries ahead: a value outside
# these years is a template's placeholder (0001-01-01, 9999-12-31) or an
# attack, and converting such values to UTC can overflow datetime's range.
EARLIEST_YEAR = 1800
LATEST_YEAR = 2200


def _plausible(value: datetime) -> datetime | None:
    """value in UTC when its year is plausible, else None."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST_YEAR <= utc.year <= LATEST_YEAR else None


def parse_iso(value: Any) -> datetime | None:
    """A UTC datetime from an ISO 8601 timestamp or date string.

    Args:
        value: anything a document gave as a date.

    Returns:
        The instant in UTC (naive values taken as UTC), or None when the value is
        not a string, not ISO 8601, or out of the plausible range.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _plausible(parsed)


def from_struct_time(value: Any) -> datetime | None:
    """A UTC datetime from a UTC time tuple (feedparser's *_parsed values), None when absurd."""
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        return _plausible(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
    except (OverflowError, ValueError, OSError, TypeError):
        return None
