"""`newsingest demo`: local warehouse, demo site, one real Airflow run of news_ingest, a summary."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from newsingest import localdb, migrations, pipeline, warehouse
from newsingest.demo.server import serve
from newsingest.settings import load_settings

LOGGER = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[3]
TEMPLATE = Path(__file__).with_name("feeds.yaml")
# Fetch tasks run in this pool; its size caps concurrent fetches across all workers.
HTTP_POOL = "news_http"
# The demo site's port unless --port says otherwise.
DEMO_PORT = 8765
# The demo pages are dated 19-22 January 2022; the run covers the last day.
DEMO_DATE = date(2022, 1, 22)


def airflow_env(airflow_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow process using this project's DAGs and a local SQLite DB.

    Args:
        airflow_home: project-local AIRFLOW_HOME.
        extra: more variables (NEWSINGEST_* settings).

    Returns:
        A copy of os.environ with the Airflow settings applied.
    """
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home.resolve()),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


def warehouse_env(dsn: str) -> dict[str, str]:
    """Variables pointing tasks (NEWSINGEST_DSN) and SQL operators (the connection) at dsn."""
    return {"NEWSINGEST_DSN": dsn, "AIRFLOW_CONN_NEWS_WAREHOUSE": warehouse.dsn_to_uri(dsn)}


def write_registry(base_url: str, target: Path) -> Path:
    """Write the demo feed registry with the demo server's address filled in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(TEMPLATE.read_text(encoding="utf-8").replace("{{base}}", base_url))
    return target


def init_metadata(env: dict[str, str], log: Path) -> None:
    """Migrate Airflow's metadata database and create the pool the fetch tasks run in.

    Args:
        env: the Airflow environment (airflow_env).
        log: file the commands' output is appended to.
    """
    _airflow(["db", "migrate"], env, log)
    _airflow(["pools", "set", HTTP_POOL, "4", "HTTP fetch tasks of news_ingest"], env, log)


def _airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run an `airflow` CLI command, appending its output to log; raise with the tail on failure."""
    airflow = Path(sys.executable).with_name("airflow")
    with log.open("ab") as out:
        done = subprocess.run(
            [str(airflow), *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(
            f"`airflow {' '.join(args)}` failed; last lines of {log}:\n" + "\n".join(tail)
        )


@dataclass(frozen=True)
class DemoServices:
    """What a demo command runs against: the warehouse and the demo site."""

    dsn: str
    site_url: str
    # NEWSINGEST_* variables pointing Airflow's tasks at both.
    env: dict[str, str]
    # Whether the warehouse is an embedded cluster started for the command.
    embedded_db: bool


@contextmanager
def demo_services(state_dir: Path, port: int, port_option: str) -> Iterator[DemoServices]:
    """The migrated warehouse and the demo site with its registry, for the block.

    The warehouse is NEWSINGEST_DSN's, else an embedded cluster under
    state_dir that is stopped afterwards.

    Args:
        state_dir: local state (the embedded database, the demo registry).
        port: the demo site's port.
        port_option: the command's option that changes the port, named when it is taken.
    """
    dsn = load_settings().dsn
    embedded = not dsn
    if embedded:
        dsn = localdb.start(state_dir / "pg").dsn
    try:
        with warehouse.connect(dsn) as conn:
            migrations.migrate(conn)
        with ExitStack() as stack:
            try:
                site = stack.enter_context(serve(port=port))
            except OSError as exc:
                raise RuntimeError(
                    f"cannot serve the demo site on 127.0.0.1:{port} ({exc}); "
                    f"free the port or pass {port_option}"
                ) from exc
            registry = write_registry(site.base_url, state_dir / "demo-feeds.yaml")
            env = {
                **warehouse_env(dsn),
                "NEWSINGEST_REGISTRY": str(registry.resolve()),
                "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
                "NEWSINGEST_HOST_DELAY": "0.05",
            }
            yield DemoServices(dsn, site.base_url, env, embedded)
    finally:
        if embedded:
            localdb.stop(state_dir / "pg")


def run_demo(*, state_dir: Path, airflow_home: Path, port: int = DEMO_PORT) -> int:
    """Run the demo end to end and print the summary.

    Args:
        state_dir: local state (the embedded database, the demo registry).
        airflow_home: project-local AIRFLOW_HOME (SQLite metadata DB).
        port: the demo site's port; fixed, because article URLs (the warehouse's
            keys) contain it, so that running the demo again adds no rows.

    Returns:
        0 on success.
    """
    with demo_services(state_dir, port, "--port") as services:
        airflow_home.mkdir(parents=True, exist_ok=True)
        log = airflow_home / "demo.log"
        env = airflow_env(airflow_home, services.env)
        print(f"demo site on {services.site_url}; Airflow output in {log}")
        init_metadata(env, log)
        _airflow(["dags", "reserialize"], env, log)
        _airflow(["dags", "test", "news_ingest", DEMO_DATE.isoformat()], env, log)
        run = pipeline.RunInfo.make(DEMO_DATE, "")
        print(pipeline.summary(services.dsn, run))
    return 0
