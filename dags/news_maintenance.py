"""
### news_maintenance: weekly upkeep of the warehouse

Deletes staged raw pages and extraction records older than
`NEWSINGEST_RAW_RETENTION_DAYS` (counted from the run's logical date, so a
rerun deletes the same rows), recomputes every story cluster's statistics and
canonical article, then runs `VACUUM (ANALYZE)` on the big tables. Articles,
clusters, run records and the fetch log are never deleted.

**When it fails**: usually a lock held by a long query; the log names the
statement. Clear the task once the lock is gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="news_maintenance",
    schedule="@weekly",
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["newsingest", "maintenance"],
    default_args={"owner": "newsingest", "retries": 1, "retry_delay": timedelta(minutes=10)},
)
def news_maintenance() -> None:
    """Prune, refresh, vacuum, in that order."""

    @task(doc_md="Deletes staging rows past retention; logs the counts.")
    def prune_staging() -> dict[str, int]:
        from newsingest import airflow_tasks

        return airflow_tasks.prune_staging()

    @task(doc_md="Recomputes member counts, outlets, agencies and canonical of every cluster.")
    def refresh_clusters() -> int:
        from newsingest import airflow_tasks

        return airflow_tasks.refresh_clusters()

    @task(doc_md="VACUUM (ANALYZE) of the big tables; needs no other session holding locks.")
    def vacuum() -> list[str]:
        from newsingest import airflow_tasks

        return airflow_tasks.vacuum()

    prune_staging() >> refresh_clusters() >> vacuum()


news_maintenance()
