"""OpenLineage: a news_ingest run emits its feeds as inputs and the warehouse tables as outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict

from newsingest.demo.runner import warehouse_env

DAY = "2022-01-22"


def _airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """An `airflow` command in a fresh process: the provider reads its settings once."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [airflow, *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )


def _events(path: Path) -> list[dict[str, Any]]:
    """The run events the file transport wrote, one JSON document per line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_a_run_emits_feeds_in_and_tables_out(
    warehouse_dsn: str, demo_registry: Path, tmp_path: Path
) -> None:
    events_file = tmp_path / "lineage.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSINGEST_", "OPENLINEAGE"))}
    env.update(
        {
            **warehouse_env(warehouse_dsn),
            "NEWSINGEST_REGISTRY": str(demo_registry),
            "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
            "NEWSINGEST_HOST_DELAY": "0",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "newsingest-test",
        }
    )
    done = _airflow(["dags", "test", "news_ingest", DAY], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    complete = [e for e in _events(events_file) if e.get("eventType") == "COMPLETE"]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for event in complete:
        by_task.setdefault(event["job"]["name"].removeprefix("news_ingest."), []).append(event)

    registry = {
        line.split('"')[1]
        for line in demo_registry.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("url:")
    }
    inputs = {(d["namespace"], d["name"]) for e in by_task.get("fetch", []) for d in e["inputs"]}
    assert inputs == {
        (f"{urlsplit(url).scheme}://{urlsplit(url).netloc}", urlsplit(url).path) for url in registry
    }
    params = conninfo_to_dict(warehouse_dsn)
    namespace = f"postgres://{params['host']}:{params.get('port', '5432')}"
    (load,) = by_task["load"]
    assert {(d["namespace"], d["name"]) for d in load["outputs"]} == {
        (namespace, f"{params['dbname']}.news.articles"),
        (namespace, f"{params['dbname']}.news.story_clusters"),
    }


def test_nothing_is_emitted_without_a_transport() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENLINEAGE", "AIRFLOW__OPENLINEAGE"))
    }
    probe = "from airflow.providers.openlineage.conf import is_disabled; print(is_disabled())"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
