"""Every DAG file imports cleanly and declares what operators rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DAGS = Path(__file__).parents[2] / "dags"


def test_no_import_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert {"news_ingest", "story_digest", "news_maintenance"} <= set(bag.dag_ids)


def test_news_ingest_shape() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).get_dag("news_ingest")
    assert dag is not None
    assert dag.max_active_runs == 1
    assert dag.doc_md
    assert "newsingest" in dag.tags
    assert {t.task_id for t in dag.tasks} == {
        "run_key", "prepare", "fetch", "extract_shards", "extract", "deduplicate", "load", "check",
        "check_article_columns", "check_article_rules", "check_feed_health", "check_feed_volume",
        "summarise",
    }  # fmt: skip
    assert dag.get_task("fetch").pool == "news_http"
    assert all(task.doc_md for task in dag.tasks)
    assert set(dag.params) == {"date", "feeds", "dry_run", "max_pages"}
    for task in dag.tasks:
        assert task.owner == "newsingest"
        assert task.retries >= 1


def test_dag_files_do_no_work_at_parse_time() -> None:
    # Parsing must not import the heavy libraries the tasks use.
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "heavy = {'trafilatura', 'psycopg', 'newsingest.pipeline'} & set(sys.modules); "
        "sys.exit(', '.join(sorted(heavy)) or None)"
    )
    for path in DAGS.glob("*.py"):
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{path.name} imports at parse time: {done.stderr[-500:]}"
