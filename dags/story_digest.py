"""
### story_digest: the day's stories, whenever news_ingest has loaded them

An example of building on the warehouse: scheduled on the `news_articles`
asset that `news_ingest` updates, it logs the day's report (feeds, top story
clusters by spread across outlets, outlets that mostly republish copies) for
the day named in the asset event. It reads the same views analysts query
(`news.story_spread`, `news.daily_outlet_copies`, `news.daily_feed_stats`) and
writes nothing. Copy it as the start of your own consumer.

**When it fails**: the warehouse was unreachable; clear the task once it is back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

# The asset news_ingest's load task updates (same URI as in news_ingest.py).
NEWS_ARTICLES = Asset(name="news_articles", uri="x-newsingest://warehouse/news/articles")


@dag(
    dag_id="story_digest",
    schedule=[NEWS_ARTICLES],
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    doc_md=__doc__,
    tags=["newsingest", "example", "consumer"],
    default_args={"owner": "newsingest", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def story_digest() -> None:
    """One task: log the digest."""

    @task(doc_md="Logs the report of the day the triggering asset event names.")
    def digest() -> str:
        from newsingest import airflow_tasks

        return airflow_tasks.digest()

    digest()


story_digest()
