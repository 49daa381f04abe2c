"""
### news_ingest: feeds to warehouse, once a day

Reads the feed registry (`feeds.yaml` beside this file, or `NEWSINGEST_REGISTRY`),
fetches every feed and its new article pages (one mapped task per feed),
extracts the articles, assigns story clusters, upserts them into
`news.articles`, checks the day's data and logs a summary.

Each task is idempotent for its logical date: clearing and rerunning a day
leaves the same rows. Pages and articles travel through PostgreSQL staging
tables, never through XCom, so any worker can run any task.

**When it fails**: a broken feed or page never fails the run; it is counted
in `news.ingest_runs` and `news.fetch_log`. The run fails in `check` when too
many feeds failed (`NEWSINGEST_MAX_FAILED_FEED_SHARE`) or loaded data breaks
a rule; the task log names the numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

REGISTRY = str(Path(__file__).with_name("feeds.yaml"))


@dag(
    dag_id="news_ingest",
    schedule="@daily",
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsingest", "ingest"],
    default_args={
        "owner": "newsingest",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
    },
    params={
        "feeds": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Fetch only these feed names (empty: every feed of the registry).",
        ),
    },
)
def news_ingest() -> None:
    """Wire the stages; all logic lives in newsingest.pipeline."""

    @task
    def prepare() -> list[dict[str, Any]]:
        """Read the registry; one small dict per feed for the mapped fetch."""
        from newsingest import airflow_tasks

        return airflow_tasks.prepare(REGISTRY)

    @task(max_active_tis_per_dagrun=4)
    def fetch(source: dict[str, Any]) -> dict[str, Any]:
        """Fetch one feed and its pages into news.raw_pages."""
        from newsingest import airflow_tasks

        return airflow_tasks.fetch(source)

    @task(trigger_rule="all_done")
    def extract() -> dict[str, int]:
        """Extract every staged page with trafilatura."""
        from newsingest import airflow_tasks

        return airflow_tasks.extract()

    @task
    def deduplicate() -> dict[str, int]:
        """Assign each new article to a story cluster."""
        from newsingest import airflow_tasks

        return airflow_tasks.deduplicate()

    @task
    def load() -> dict[str, int]:
        """Upsert articles into news.articles; refresh story clusters."""
        from newsingest import airflow_tasks

        return airflow_tasks.load()

    @task
    def check() -> dict[str, Any]:
        """Data-quality checks of the day's rows."""
        from newsingest import airflow_tasks

        return airflow_tasks.check()

    @task
    def report() -> str:
        """Log the run summary."""
        from newsingest import airflow_tasks

        return airflow_tasks.report()

    fetched = fetch.expand(source=prepare())
    extracted = extract()
    fetched >> extracted
    extracted >> deduplicate() >> load() >> check() >> report()


news_ingest()
