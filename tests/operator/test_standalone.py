"""The operator path: `airflow standalone`, unpause and trigger news_ingest over REST API v2.

Runs with `make operator-test` (alone) and `make test` (with everything else).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from newsingest.settings import load_settings
from newsingest.urls import canonical_url

from .instance import DAG_PARSE_TIMEOUT_S, RUN_TIMEOUT_S, AirflowInstance

pytestmark = pytest.mark.operator

DAG_ID = "news_ingest"
LOGICAL_DATE = "2022-01-22T00:00:00Z"
EXPECTED = json.loads(
    (Path(__file__).parents[2] / "plugins/newsingest/demo/expected.json").read_text()
)
UNMAPPED_TASKS = (
    "run_key", "prepare", "extract_shards", "deduplicate", "load", "check", "check_article_columns",
    "check_article_rules", "check_feed_health", "check_feed_volume", "summarise",
)  # fmt: skip
FINISHED = frozenset({"success", "failed"})


def test_trigger_news_ingest_through_rest_api(
    standalone: AirflowInstance, warehouse_dsn: str, demo_site: Any
) -> None:
    logged_in = time.monotonic()
    dag = standalone.wait_for_dag(DAG_ID, DAG_PARSE_TIMEOUT_S)
    assert dag["is_paused"] is True, dag
    parsed = time.monotonic()

    unpaused = standalone.api.patch(
        standalone.url(f"/api/v2/dags/{DAG_ID}"), json={"is_paused": False}, timeout=30
    )
    assert unpaused.status_code == 200, unpaused.text
    assert unpaused.json()["is_paused"] is False
    triggered = standalone.api.post(
        standalone.url(f"/api/v2/dags/{DAG_ID}/dagRuns"),
        json={"logical_date": LOGICAL_DATE},
        timeout=30,
    )
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["dag_run_id"]

    def finished_run() -> dict[str, Any] | None:
        answer = standalone.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body if body["state"] in FINISHED else None

    run = standalone.wait_for(f"dag run {run_id} to finish", RUN_TIMEOUT_S, finished_run)
    ran = time.monotonic()
    # Shown with -s: how long an operator waits for each step on this machine.
    print(
        f"\noperator test: API up {logged_in - standalone.started_at:.0f} s after start, "
        f"DAG listed {parsed - logged_in:.0f} s later, run done {ran - parsed:.0f} s after trigger"
    )
    assert run["state"] == "success", standalone.diagnostics()
    assert run["logical_date"].startswith("2022-01-22T00:00:00"), run

    listed = standalone.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", limit=100)
    assert listed.status_code == 200, listed.text
    states = {
        (ti["task_id"], ti["map_index"]): ti["state"] for ti in listed.json()["task_instances"]
    }
    expected_keys = (
        {(task, -1) for task in UNMAPPED_TASKS}
        | {("fetch", index) for index in range(len(EXPECTED["feeds"]))}
        | {("extract", index) for index in range(load_settings().extract_shards)}
    )
    assert set(states) == expected_keys, states
    assert {key: state for key, state in states.items() if state != "success"} == {}, (
        standalone.diagnostics()
    )

    expected = {
        canonical_url(demo_site.base_url + page["path"])
        for page in EXPECTED["pages"]
        if page["is_article"]
    }
    with psycopg.connect(warehouse_dsn) as conn:
        loaded = [row[0] for row in conn.execute("SELECT canonical_url FROM news.articles")]
    assert sorted(loaded) == sorted(expected)
