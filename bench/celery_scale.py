"""The DAG on the CeleryExecutor with one, then two Celery workers: the day's wall time (issue 15).

    python bench/celery_scale.py                  (the demo day: no dataset needed)
    python bench/celery_scale.py --articles 2000  (a generated day of real pages, 20 outlets)

The cluster is the one tests/operator/test_celery.py runs (tests/operator/celery_cluster.py):
`airflow api-server`, `scheduler`, `dag-processor` and N `airflow celery worker` on this
machine, one task slot each, parallelism 4 in both runs (a worker finishing a task finds the
next waiting in the broker), the metadata database and Celery's results in PostgreSQL, the
broker a Redis database of its own (a free one of the Redis on 127.0.0.1:6379, else a
throwaway redis-server). Each run gets a fresh warehouse and a fresh metadata database on a
throwaway PostgreSQL cluster of the benchmark's own (under ~/.cache/newsingest-bench/celery).

The day: the bundled demo site, or with --articles N the generated day of bench/pipeline.py
(real pages of ../shared/datasets/extraction-dev, our machines only: without it the
benchmark says so and stops), politeness off. The news_ingest run is triggered through REST
API v2; its wall time is the DAG run's, from its start to its end as Airflow records them.
Both runs must load the same rows. Last line:

    day=<demo|n> loaded=<n> shards=<k> wall_1_worker_s=<s> wall_2_workers_s=<s> speedup=<r>

Measured 2026-12-04 on 2 shared cores (README "Scaling out"): the demo day 68.8 s on one
worker, 45.2 s on two (1.52x); 2,000 articles 249.9 s and 159.9 s (1.56x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import devset
import pipeline as generated

from newsingest import localdb, migrations, warehouse
from newsingest.demo.runner import DEMO_DATE, write_registry
from newsingest.demo.server import serve
from tests.operator.celery_cluster import celery_airflow, redis_broker, warehouse_rows
from tests.operator.instance import DAG_PARSE_TIMEOUT_S, RUN_TIMEOUT_S, demo_settings

DAG_ID = "news_ingest"
STATE = Path("~/.cache/newsingest-bench/celery").expanduser()


def the_day(articles: int, outlets: int, seed: int, stack: ExitStack) -> tuple[Path, date]:
    """The day's feed registry (its site served until stack closes) and its date."""
    registry = STATE / "registry.yaml"
    if articles == 0:
        site = stack.enter_context(serve())
        return write_registry(site.base_url, registry), DEMO_DATE
    devset.require()
    items = generated.plan_day(articles, len(list(devset.manifest())), outlets, seed)
    ports = stack.enter_context(generated.site(items, outlets))
    return generated.write_registry(ports, registry), generated.DAY


def fresh_database(admin: str, name: str, *, migrate: bool) -> str:
    """A new database of the benchmark's cluster (dropped first if a run left it)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(admin, dbname=name)
    if migrate:
        with warehouse.connect(dsn) as conn:
            migrations.migrate(conn)
    return dsn


def run_day(
    admin: str,
    broker_url: str,
    workers: int,
    *,
    registry: Path,
    day: date,
    extra: dict[str, str],
    timeout: float,
) -> tuple[float, str]:
    """One run of the day on `workers` workers; its wall time and its warehouse DSN."""
    dsn = fresh_database(admin, f"ns_bench_celery_{workers}", migrate=True)
    metadata = fresh_database(admin, f"ns_bench_celery_airflow_{workers}", migrate=False)
    with tempfile.TemporaryDirectory(prefix="celery-bench-") as home, celery_airflow(
        Path(home),
        metadata_dsn=metadata,
        newsingest={**demo_settings(dsn, registry), **extra},
        broker_url=broker_url,
        workers=workers,
        queued_timeout_s=timeout,
    ) as airflow:  # fmt: skip
        airflow.wait_for_dag(DAG_ID, DAG_PARSE_TIMEOUT_S)
        run_id = airflow.trigger(DAG_ID, f"{day.isoformat()}T00:00:00Z")
        run = airflow.wait_for_run(DAG_ID, run_id, timeout)
        if run["state"] != "success":
            raise SystemExit(f"the run failed:\n{airflow.diagnostics()}")
        instances = airflow.task_instances(DAG_ID, run_id)
    wall = (_instant(run["end_date"]) - _instant(run["start_date"])).total_seconds()
    hosts = Counter(ti["hostname"] for ti in instances)
    # What the task processes themselves took; the rest of the workers' time is spent between
    # tasks (the scheduler noticing a finished task and queueing the next, a worker starting
    # the task's process).
    busy = sum(ti["duration"] or 0.0 for ti in instances)
    slowest = sorted(instances, key=lambda ti: -(ti["duration"] or 0))[:3]
    print(f"{workers} worker(s): {wall:.1f} s wall; {len(instances)} task instances "
          f"{dict(sorted(hosts.items()))} ran {busy:.1f} s in all "
          f"({busy / (wall * workers):.0%} of the workers' time); longest "
          + ", ".join(f"{ti['task_id']}[{ti['map_index']}] {ti['duration']:.1f} s"
                      for ti in slowest), flush=True)  # fmt: skip
    return wall, dsn


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=0, help="0: the demo day")
    parser.add_argument("--outlets", type=int, default=20)
    parser.add_argument("--shards", type=int, default=2, help="extract_shards of the runs")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    extra = {"NEWSINGEST_EXTRACT_SHARDS": str(args.shards)}
    if args.articles:
        # As bench/pipeline.py: every page of a feed, little waiting on failures.
        extra |= {"NEWSINGEST_MAX_PAGES_PER_FEED": str(args.articles),
                  "NEWSINGEST_HOST_CONCURRENCY": "4", "NEWSINGEST_RETRIES": "1",
                  "NEWSINGEST_BACKOFF_BASE": "0.1"}  # fmt: skip
    STATE.mkdir(parents=True, exist_ok=True)
    print(f"{'the demo day' if not args.articles else f'{args.articles} articles'}, "
          f"{args.shards} extract shards; load average {os.getloadavg()[0]:.2f} "
          f"(other work on the machine slows every figure)", flush=True)  # fmt: skip
    with ExitStack() as stack:
        registry, day = the_day(args.articles, args.outlets, args.seed, stack)
        server = localdb.start(STATE / "pg", database="postgres")
        stack.callback(localdb.stop, STATE / "pg")
        admin = make_conninfo(server.dsn, dbname="postgres")
        broker_url = stack.enter_context(redis_broker(STATE / "redis"))
        print(f"PostgreSQL: own cluster on port {server.port}; broker {broker_url}", flush=True)
        # Generous: a day's extraction costs tens of milliseconds of CPU a page.
        timeout = RUN_TIMEOUT_S + 0.5 * args.articles
        (one, one_dsn), (two, two_dsn) = (
            run_day(admin, broker_url, workers, registry=registry, day=day, extra=extra,
                    timeout=timeout)
            for workers in (1, 2)
        )  # fmt: skip
        rows_one, rows_two = warehouse_rows(one_dsn), warehouse_rows(two_dsn)
    if rows_one != rows_two:
        raise SystemExit("the runs on one and on two workers loaded different rows")
    loaded = len(rows_one["articles"])
    print(f"both runs loaded the same {loaded} articles")
    print(f"day={args.articles or 'demo'} loaded={loaded} shards={args.shards} "
          f"wall_1_worker_s={one:.1f} wall_2_workers_s={two:.1f} "
          f"speedup={one / two:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
