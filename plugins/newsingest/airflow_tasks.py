"""The Airflow adapter, the only module importing Airflow: each DAG task calls one function."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, get_current_context
from airflow.sdk.exceptions import AirflowNotFoundException

from newsingest import pipeline
from newsingest.records import FeedSource, from_json, to_json
from newsingest.settings import Settings, load_settings
from newsingest.warehouse import WarehouseError

LOGGER = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "news_warehouse"


def warehouse_dsn(settings: Settings) -> str:
    """The warehouse DSN: NEWSINGEST_DSN when set, else the Airflow connection news_warehouse."""
    if settings.dsn:
        return settings.dsn
    try:
        connection = BaseHook.get_connection(WAREHOUSE_CONN_ID)
    except AirflowNotFoundException as exc:
        raise WarehouseError(
            f"no warehouse configured: set NEWSINGEST_DSN or create the Airflow connection "
            f"{WAREHOUSE_CONN_ID!r} (a postgres connection to the warehouse database)"
        ) from exc
    return str(connection.get_uri()).replace("postgres://", "postgresql://", 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """What every task needs: settings, DSN, run identity and DAG params."""

    settings: Settings
    dsn: str
    run: pipeline.RunInfo
    params: dict[str, Any]


def _run() -> RunContext:
    """Settings, DSN and run identity of the running task."""
    context = get_current_context()
    dag_run = context["dag_run"]
    logical = dag_run.logical_date
    settings = load_settings()
    return RunContext(
        settings=settings,
        dsn=warehouse_dsn(settings),
        run=pipeline.RunInfo.make(
            logical.date() if logical is not None else None, str(dag_run.run_id)
        ),
        params=dict(context["params"]),
    )


def prepare(default_registry: str) -> list[dict[str, Any]]:
    """Read the registry and return the feeds to fetch (small JSON dicts, one per mapped task)."""
    ctx = _run()
    registry = Path(ctx.settings.registry or default_registry)
    feeds = ctx.params.get("feeds") or None
    sources = pipeline.prepare(ctx.dsn, registry, feeds)
    LOGGER.info("run %s: %d feeds from %s", ctx.run.run_key, len(sources), registry)
    return [to_json(s) for s in sources]


def fetch(source: dict[str, Any]) -> dict[str, Any]:
    """Fetch one feed and its pages; returns the feed's counts."""
    ctx = _run()
    counts = pipeline.fetch_feed(ctx.dsn, ctx.settings, ctx.run, from_json(FeedSource, source))
    return {
        "feed": counts.feed_name,
        "fetched": counts.fetched,
        "failed": counts.failed,
        "feed_failed": counts.feed_failed,
    }


def extract() -> dict[str, int]:
    """Extract the pages staged by this run."""
    ctx = _run()
    return pipeline.extract(ctx.dsn, ctx.settings, ctx.run)


def deduplicate() -> dict[str, int]:
    """Assign story clusters to the run's new articles."""
    ctx = _run()
    return pipeline.deduplicate(ctx.dsn, ctx.settings, ctx.run)


def load() -> dict[str, int]:
    """Upsert the run's articles into the warehouse."""
    ctx = _run()
    return pipeline.load(ctx.dsn, ctx.settings, ctx.run)


def check() -> dict[str, Any]:
    """Run the data-quality checks; a breach fails the task with the numbers."""
    ctx = _run()
    return pipeline.check(ctx.dsn, ctx.settings, ctx.run)


def report() -> str:
    """Log and return the run's summary table."""
    ctx = _run()
    text = pipeline.summary(ctx.dsn, ctx.run)
    for line in text.splitlines():
        LOGGER.info("%s", line)
    return ctx.run.run_key
