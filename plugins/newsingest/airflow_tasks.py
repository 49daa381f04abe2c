"""The Airflow adapter, the only module importing Airflow: each DAG task calls one function."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.openlineage.facet import Dataset
from airflow.sdk import Asset, BaseHook, get_current_context
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException
from psycopg.conninfo import conninfo_to_dict

from newsingest import feed_health, maintenance, pipeline, report
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
    """What every task needs: settings, DSN, run identity and validated DAG params."""

    settings: Settings
    dsn: str
    run: pipeline.RunInfo
    params: dict[str, Any]


def _run() -> RunContext:
    """Settings, DSN and run identity of the running task.

    The `date` param, when given, replaces the logical date as the run's day:
    triggering a day by hand then shares its rows with that day's scheduled run.
    """
    context = get_current_context()
    dag_run = context["dag_run"]
    params = dict(context["params"])
    logical = dag_run.logical_date
    day = date.fromisoformat(params["date"]) if params.get("date") else None
    if day is None and logical is not None:
        day = logical.date()
    settings = load_settings()
    if params.get("max_pages"):
        settings = settings.replace(max_pages_per_feed=int(params["max_pages"]))
    return RunContext(
        settings=settings,
        dsn=warehouse_dsn(settings),
        run=pipeline.RunInfo.make(day, str(dag_run.run_id)),
        params=params,
    )


def prepare(default_registry: str) -> list[dict[str, Any]]:
    """Read the registry and return the feeds to fetch (small JSON dicts, one per mapped task)."""
    ctx = _run()
    registry = Path(ctx.settings.registry or default_registry)
    feeds = ctx.params.get("feeds") or None
    sources = pipeline.prepare(ctx.dsn, registry, feeds)
    LOGGER.info("run %s: %d feeds from %s", ctx.run.run_key, len(sources), registry)
    return [to_json(s) for s in sources]


def run_key() -> str:
    """The run's key, for templated SQL checks (partition on news.*.run_key columns)."""
    return _run().run.run_key


def _lineage(*, inputs: Sequence[Dataset], outputs: Sequence[Dataset]) -> None:
    """Declare what the running task reads and writes, for the OpenLineage listener.

    Those datasets are known only at run time (the feed of a mapped fetch, the warehouse the
    DSN names), so they join the running task's inlets and outlets, which the provider turns
    into its events' inputs and outputs; Airflow's asset handling skips what is not an asset.
    Nothing is emitted unless an OpenLineage transport is configured.
    """
    task = get_current_context()["task"]
    # dag.test() reuses the task object across runs: add each dataset once.
    task.inlets = [*task.inlets, *(d for d in inputs if d not in task.inlets)]
    task.outlets = [*task.outlets, *(d for d in outputs if d not in task.outlets)]


def _url_dataset(url: str) -> Dataset:
    """A feed as an OpenLineage dataset: namespace scheme://host[:port], name its path."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return Dataset(
        namespace=f"{parts.scheme}://{parts.netloc}",
        name=f"{path}?{parts.query}" if parts.query else path,
    )


def _table_dataset(dsn: str, table: str) -> Dataset:
    """A warehouse table as OpenLineage names it: postgres://host:port, database.schema.table."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "localhost").split(",")[0]
    port = str(params.get("port") or "5432").split(",")[0]
    return Dataset(
        namespace=f"postgres://{host}:{port}", name=f"{params.get('dbname', '')}.news.{table}"
    )


def fetch(source: dict[str, Any]) -> dict[str, Any]:
    """Fetch one feed and its pages; returns the feed's counts."""
    ctx = _run()
    feed = from_json(FeedSource, source)
    _lineage(inputs=[_url_dataset(feed.url)], outputs=[_table_dataset(ctx.dsn, "raw_pages")])
    counts = pipeline.fetch_feed(ctx.dsn, ctx.settings, ctx.run, feed)
    return {
        "feed": counts.feed_name,
        "fetched": counts.fetched,
        "failed": counts.failed,
        "feed_failed": counts.feed_failed,
    }


def extract_shards() -> list[dict[str, int]]:
    """The parts of the run's pages that mapped extract tasks take, one task each."""
    shards = _run().settings.extract_shards
    return [{"shard": i, "shards": shards} for i in range(shards)]


def extract(part: dict[str, int]) -> dict[str, int]:
    """Extract one shard of the pages staged by this run (in this task's own process)."""
    ctx = _run()
    return pipeline.extract(
        ctx.dsn, ctx.settings, ctx.run, shard=int(part["shard"]), shards=int(part["shards"])
    )


def deduplicate() -> dict[str, int]:
    """Assign story clusters to the run's new articles."""
    ctx = _run()
    return pipeline.deduplicate(ctx.dsn, ctx.settings, ctx.run)


def load(articles: Asset) -> dict[str, Any]:
    """Upsert the run's articles and mark the warehouse asset updated (skipped in a dry run).

    Args:
        articles: the asset standing for news.articles (an outlet of the task); its
            event carries the run key and day, which downstream DAGs read.
    """
    ctx = _run()
    if ctx.params.get("dry_run"):
        raise AirflowSkipException(
            f"dry run: {ctx.run.run_key} fetched, extracted and deduplicated; nothing loaded"
        )
    _lineage(
        inputs=[_table_dataset(ctx.dsn, "staged_articles")],
        outputs=[_table_dataset(ctx.dsn, t) for t in ("articles", "story_clusters")],
    )
    loaded = pipeline.load(ctx.dsn, ctx.settings, ctx.run)
    event = get_current_context()["outlet_events"][articles]
    event.extra = {"run_key": ctx.run.run_key, "loaded": loaded["loaded"]}
    if ctx.run.logical_date:
        event.extra["day"] = ctx.run.logical_date.isoformat()
    return loaded


def check() -> dict[str, Any]:
    """Run the data-quality checks; a breach fails the task with the numbers."""
    ctx = _run()
    return pipeline.check(ctx.dsn, ctx.settings, ctx.run)


def check_feed_volume() -> dict[str, Any]:
    """Warn about feeds far below their usual volume, silent or skipping; fail past a share."""
    ctx = _run()
    return feed_health.check_feed_volume(
        ctx.dsn, ctx.settings, ctx.run.run_key, ctx.run.logical_date
    )


def summarise() -> str:
    """Log the run's summary table, one line per feed."""
    ctx = _run()
    text = pipeline.summary(ctx.dsn, ctx.run)
    for line in text.splitlines():
        LOGGER.info("%s", line)
    return ctx.run.run_key


def digest() -> str:
    """Log the report of the day the triggering asset event covers (the story digest)."""
    context = get_current_context()
    settings = load_settings()
    events = context["triggering_asset_events"]
    days = sorted(
        {
            date.fromisoformat(str(event.extra["day"]))
            for asset_events in events.values()
            for event in asset_events
            if event.extra.get("day")
        }
    )
    logical = context["dag_run"].logical_date
    if not days:
        days = [logical.date() if logical else date.today()]
    texts = [report.daily_report(warehouse_dsn(settings), day) for day in days]
    for line in "\n\n".join(texts).splitlines():
        LOGGER.info("%s", line)
    return ",".join(d.isoformat() for d in days)


def prune_staging() -> dict[str, int]:
    """Maintenance: delete staging rows past retention (relative to the logical date)."""
    context = get_current_context()
    logical = context["dag_run"].logical_date or context["dag_run"].run_after
    settings = load_settings()
    return maintenance.prune_staging(warehouse_dsn(settings), settings, logical)


def refresh_clusters() -> int:
    """Maintenance: recompute every story cluster."""
    return maintenance.refresh_clusters(warehouse_dsn(load_settings()))


def vacuum() -> list[str]:
    """Maintenance: VACUUM (ANALYZE) the big tables."""
    return maintenance.vacuum(warehouse_dsn(load_settings()))
