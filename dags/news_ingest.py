"""
### news_ingest: feeds to warehouse, once a day

The run for day D starts when D is over (00:00 UTC on D+1) and covers D.

Reads the feed registry (`feeds.yaml` beside this file, or `NEWSINGEST_REGISTRY`),
fetches every feed and its new article pages (one mapped `fetch` per feed, in
the `news_http` pool), extracts the articles, assigns story clusters, upserts
them into `news.articles`, checks the day's data and logs a summary. The load
updates the asset `news_articles`, on which downstream DAGs (`story_digest`)
are scheduled.

Every task is idempotent for its day: clearing and rerunning a run, or
triggering a day again with the `date` param, leaves the same rows. A dated
run takes feed entries published up to the end of its day, so
`airflow backfill create` loads what the daily runs would have. Pages and
articles travel through PostgreSQL, never XCom: any worker runs any task.

**When it fails**: a broken feed or page never fails the run; it is counted
in `news.ingest_runs` and `news.fetch_log` (each `fetch` log ends with a
one-line summary of its feed). The run fails in the checks when too many
feeds failed or loaded rows break a rule; the failed task's log names the
numbers. `check_feed_volume` warns (news.alerts) about feeds far below their
usual volume for the weekday, silent for days, or skipping many more pages
than usual, and fails only when too many feeds do. Fix the cause (see the
task's own docs), then clear the failed task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task

REGISTRY = str(Path(__file__).with_name("feeds.yaml"))
WAREHOUSE_CONN_ID = "news_warehouse"
# Downstream DAGs schedule on this asset; story_digest.py declares the same URI.
NEWS_ARTICLES = Asset(name="news_articles", uri="x-newsingest://warehouse/news/articles")
# SQL checks read the run key the `run_key` task returns (quotes doubled for SQL).
RUN_KEY = "{{ ti.xcom_pull(task_ids='run_key') | replace(\"'\", \"''\") }}"


@dag(
    dag_id="news_ingest",
    # The run for day D covers [D, D+1) and starts when D is over, so live runs
    # and backfills label the same stories D (Airflow 3's "@daily" would start
    # D's run at the beginning of D).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsingest", "ingest"],
    default_args={
        "owner": "newsingest",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Day to ingest (YYYY-MM-DD) instead of the logical date.",
        ),
        "feeds": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
            description="Fetch only these feed names (empty: every feed of the registry).",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Fetch, extract and deduplicate, but load nothing into news.articles.",
        ),
        "max_pages": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=10_000,
            description="Cap of article pages per feed for this run (default: settings).",
        ),
    },
)
def news_ingest() -> None:
    """Wire the stages; all logic lives in newsingest.pipeline."""

    @task(doc_md="Reads and validates the registry. **Fails** on a broken registry file: "
          "the log names the entry; fix feeds.yaml and clear the task.")  # fmt: skip
    def prepare() -> list[dict[str, Any]]:
        from newsingest import airflow_tasks

        return airflow_tasks.prepare(REGISTRY)

    @task(doc_md="The run's key (its day, or the run id): partitions the SQL checks.")
    def run_key() -> str:
        from newsingest import airflow_tasks

        return airflow_tasks.run_key()

    @task(
        pool="news_http",
        max_active_tis_per_dagrun=4,
        retries=1,
        # The grid lists `fetch [daily-courier]` rather than `fetch [1]`.
        map_index_template="{{ task.op_kwargs['source']['name'] }}",
        doc_md="Fetches one feed and its new pages into news.raw_pages. A broken feed or "
        "page is **not** a task failure: it is counted by error class in news.fetch_log and "
        "news.ingest_runs. The log ends with `feed <name>: ok|FAILED ...`. A task failure "
        "means the warehouse is unreachable.",
    )
    def fetch(source: dict[str, Any]) -> dict[str, Any]:
        from newsingest import airflow_tasks

        return airflow_tasks.fetch(source)

    @task(
        trigger_rule="all_done",
        doc_md="Splits the run's pages into `extract_shards` parts (settings).",
    )
    def extract_shards() -> list[dict[str, int]]:
        from newsingest import airflow_tasks

        return airflow_tasks.extract_shards()

    @task(
        trigger_rule="all_done",
        doc_md="Extracts one shard of the staged pages with trafilatura (one mapped task per "
        "shard: more workers, more shards at once); pages below the quality gates are recorded "
        "as skipped with a reason (news.staged_articles.skipped_reason). A page already "
        "extracted from the same bytes (a rerun) is not extracted again.",
    )
    def extract(part: dict[str, int]) -> dict[str, int]:
        from newsingest import airflow_tasks

        return airflow_tasks.extract(part)

    @task(doc_md="Assigns each new article to a story cluster (exact and near duplicates).")
    def deduplicate() -> dict[str, int]:
        from newsingest import airflow_tasks

        return airflow_tasks.deduplicate()

    @task(
        outlets=[NEWS_ARTICLES],
        doc_md="Upserts the run's articles into news.articles, indexes new cluster founders, "
        "refreshes news.story_clusters, and updates the `news_articles` asset. Skipped in a "
        "dry run.",
    )
    def load() -> dict[str, Any]:
        from newsingest import airflow_tasks

        return airflow_tasks.load(NEWS_ARTICLES)

    @task(
        trigger_rule="none_failed",
        doc_md="Checks the run with the numbers in the message: failed-feed share, duplicate "
        "share, empty bodies, future dates, unclustered articles. **On failure** read the "
        "numbers, look at news.fetch_log / news.ingest_runs for the run, fix, clear.",
    )
    def check() -> dict[str, Any]:
        from newsingest import airflow_tasks

        return airflow_tasks.check()

    @task(
        trigger_rule="none_failed",
        doc_md="Compares each feed's volume with the same weekday of its last weeks "
        "(news.feed_health_at) and warns, in this log and in news.alerts, about a feed far "
        "below its usual volume, silent for days, or with many more pages skipped by the "
        "quality gates than usual. **Fails** only when more than "
        "NEWSINGEST_MAX_ALERTED_FEED_SHARE of the feeds alert: read the warnings, look at the "
        "feeds' pages (news.fetch_log, news.staged_articles.skipped_reason), fix the registry "
        "or the extraction, clear.",
    )
    def check_feed_volume() -> dict[str, Any]:
        from newsingest import airflow_tasks

        return airflow_tasks.check_feed_volume()

    check_article_columns = SQLColumnCheckOperator(
        task_id="check_article_columns",
        conn_id=WAREHOUSE_CONN_ID,
        table="news.articles",
        partition_clause=f"last_run_key = '{RUN_KEY}'",
        column_mapping={
            "cluster_id": {"null_check": {"equal_to": 0}},
            "canonical_url": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "content_hash": {"null_check": {"equal_to": 0}},
        },
        accept_none=True,
        trigger_rule="none_failed",
        doc_md="Every article of the run has a cluster, a unique canonical URL and a hash.",
    )
    check_article_rules = SQLTableCheckOperator(
        task_id="check_article_rules",
        conn_id=WAREHOUSE_CONN_ID,
        table="news.articles",
        partition_clause=f"last_run_key = '{RUN_KEY}'",
        checks={
            "no_empty_body": {"check_statement": "coalesce(min(length(btrim(body))), 1) > 0"},
            "not_in_future": {
                "check_statement": "coalesce(max(published_at - fetched_at), interval '0') "
                "<= interval '1 day'"
            },
        },
        trigger_rule="none_failed",
        doc_md="No empty body and no publication date over a day after fetching.",
    )
    check_feed_health = SQLTableCheckOperator(
        task_id="check_feed_health",
        conn_id=WAREHOUSE_CONN_ID,
        table="news.ingest_runs",
        partition_clause=f"run_key = '{RUN_KEY}'",
        checks={"feeds_recorded": {"check_statement": "count(*) > 0"}},
        trigger_rule="none_failed",
        doc_md="The run recorded its feeds in news.ingest_runs.",
    )

    @task(trigger_rule="none_failed", doc_md="Logs the run summary: one line per feed.")
    def summarise() -> str:
        from newsingest import airflow_tasks

        return airflow_tasks.summarise()

    key = run_key()
    fetched = fetch.expand(source=prepare())
    shards = extract_shards()
    extracted = extract.expand(part=shards)
    fetched >> shards
    checks = [
        check(),
        check_feed_volume(),
        check_article_columns,
        check_article_rules,
        check_feed_health,
    ]
    key >> fetched
    extracted >> deduplicate() >> load() >> checks
    checks >> summarise()


news_ingest()
