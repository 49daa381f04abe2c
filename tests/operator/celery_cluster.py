"""Airflow with the CeleryExecutor on one machine: a Redis broker and N Celery workers.

Used by test_celery.py and bench/celery_scale.py. The components are those of a deployment
over several hosts, started by hand: `airflow api-server`, `scheduler`, `dag-processor` and N
`airflow celery worker` (one task at a time each). The metadata database and Celery's result
backend are one PostgreSQL database; the broker is a Redis database of this cluster's own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import celery
import psycopg
import redis

from newsingest.demo.runner import init_metadata

from . import worker_hostname
from .instance import (
    RUN_TIMEOUT_S,
    AirflowInstance,
    InstanceError,
    free_port,
    instance_env,
    launch,
    metadata_url,
)

REPO = Path(__file__).resolve().parents[2]
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Databases of a shared Redis this cluster may claim; 0-6 are left to everything else.
CLAIMABLE_DBS = range(7, 16)
CLAIM_KEY = "newsingest:claimed-by"
# A claim outlives any run; it expires should its owner die without releasing it.
CLAIM_TTL_S = 6 * 3600
REDIS_START_TIMEOUT_S = 30.0
WORKER_START_TIMEOUT_S = 240.0
PING_TIMEOUT_S = 1.0


class BrokerUnavailableError(RuntimeError):
    """Neither a Redis on 127.0.0.1:6379 with a free database nor a redis-server to start."""


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def redis_broker(state: Path) -> Iterator[str]:
    """A Redis database for one cluster's broker, as a redis:// URL; emptied afterwards.

    The Redis on 127.0.0.1:6379 when it answers and one of its databases 7-15 is empty and
    unclaimed (claimed with a key, so that concurrent clusters never share one); otherwise a
    throwaway `redis-server` on a free port, keeping nothing on disk, stopped afterwards.

    Raises:
        BrokerUnavailableError: no Redis answers, or none has a free database, and there is
            no redis-server to start.
    """
    with contextlib.ExitStack() as stack:
        url = _claim_database(stack)
        if url is None:
            url = _throwaway_redis(stack, state)
        yield url


def _claim_database(stack: contextlib.ExitStack) -> str | None:
    """Claim a free database of the shared Redis (released by stack); None if there is none."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    for db in CLAIMABLE_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_timeout=5)
        try:
            if not client.set(CLAIM_KEY, owner, nx=True, ex=CLAIM_TTL_S):
                client.close()
                continue
            if client.dbsize() != 1:
                # Someone's keys, or leftovers of a cluster that died: not ours to empty.
                client.delete(CLAIM_KEY)
                client.close()
                continue
        except redis.ResponseError:
            client.close()
            break  # the server has fewer databases
        except redis.RedisError:
            client.close()
            return None  # no Redis answers
        # Emptying the database also drops the claim.
        stack.callback(client.close)
        stack.callback(client.flushdb)
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    return None


def _throwaway_redis(stack: contextlib.ExitStack, state: Path) -> str:
    """Start a redis-server on a free port of 127.0.0.1 (stopped by stack); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BrokerUnavailableError(
            f"no Redis with a free database answers on {REDIS_HOST}:{REDIS_PORT}, and "
            "redis-server is not installed (Debian package redis-server) to start one"
        )
    port = free_port()
    state.mkdir(parents=True, exist_ok=True)
    log = state / "redis-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [binary, "--bind", REDIS_HOST, "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(state)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop() -> None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    stack.callback(stop)
    client = redis.Redis(host=REDIS_HOST, port=port, socket_timeout=5)
    stack.callback(client.close)
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while not _answers(client):
        if server.poll() is not None or time.monotonic() > deadline:
            raise BrokerUnavailableError(
                f"redis-server did not answer on port {port}:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.1)
    return f"redis://{REDIS_HOST}:{port}/0"


def worker_names(workers: int) -> list[str]:
    """The hostnames the task instances of each worker record: worker-1, worker-2, ..."""
    return [f"worker-{n}" for n in range(1, workers + 1)]


@contextlib.contextmanager
def celery_airflow(
    home: Path,
    *,
    metadata_dsn: str,
    newsingest: Mapping[str, str],
    broker_url: str,
    workers: int,
    parallelism: int = 4,
    queued_timeout_s: float = RUN_TIMEOUT_S,
) -> Iterator[AirflowInstance]:
    """Airflow on the CeleryExecutor with `workers` Celery workers, logged in, workers up.

    Args:
        home: AIRFLOW_HOME (exists); every component writes home/<name>.log.
        metadata_dsn: an empty PostgreSQL database: Airflow's metadata and Celery's results.
        newsingest: the tasks' NEWSINGEST_* settings (see instance.instance_env).
        broker_url: the Redis database of redis_broker().
        workers: how many workers, each running one task at a time.
        parallelism: task instances queued or running at once. More than the workers' slots,
            so that a worker finishing a task finds the next one waiting in the broker rather
            than idling until the scheduler has seen the slot free.
        queued_timeout_s: how long a task instance may wait in the broker (it waits while
            the workers run others).

    Raises:
        InstanceError: a component exited or did not come up in time; or, on leaving, some
            process outlived SIGKILL.
    """
    password = secrets.token_urlsafe(16)
    port = free_port()
    env = instance_env(
        home, metadata_dsn=metadata_dsn, newsingest=newsingest, port=port, password=password,
        executor="CeleryExecutor", parallelism=parallelism,
    )  # fmt: skip
    env.update(
        {
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(queued_timeout_s),
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url(metadata_dsn),
        }
    )
    init_metadata(env, home / "init.log")
    instance = AirflowInstance(
        base_url=f"http://127.0.0.1:{port}", home=home, processes={}, password=password, env=env
    )
    try:
        for component in ("api-server", "scheduler", "dag-processor"):
            instance.processes[component] = launch(home, component, [component], env)
        for name in worker_names(workers):
            instance.processes[name] = launch(
                home,
                name,
                ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1"],
                _worker_env(env, name),
            )
        instance.login()
        _wait_for_workers(instance, broker_url, set(worker_names(workers)))
        yield instance
    finally:
        survivors = instance.stop()
        if survivors:
            raise InstanceError(
                "processes of the Celery cluster survived SIGKILL:\n" + "\n".join(survivors)
            )


def _worker_env(env: Mapping[str, str], name: str) -> dict[str, str]:
    """One worker's environment: its own hostname for task instances and its own log port."""
    return {
        **env,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{worker_hostname.__name__}.hostname",
        worker_hostname.VARIABLE: name,
        # Each worker serves its task logs on a port of its own.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        # The hostname callable lives in this repository's tests package.
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    }


def _wait_for_workers(instance: AirflowInstance, broker_url: str, names: set[str]) -> None:
    """Wait until every worker answers a Celery ping through the broker."""
    app = celery.Celery(broker=broker_url)

    def all_answer() -> set[str] | None:
        replies = app.control.ping(timeout=PING_TIMEOUT_S)
        up = {node.split("@", 1)[0] for reply in replies for node in reply}
        return up if names <= up else None

    try:
        instance.wait_for("the Celery workers to answer", WORKER_START_TIMEOUT_S, all_answer)
    finally:
        app.close()


# What a day leaves in the warehouse, without what differs between two equal runs: ids (from
# sequences), the times of fetching and writing, the run's DAG run id.
ARTICLES = """
SELECT a.canonical_url, a.url, a.feed_name, a.outlet, a.site_name, a.title, a.authors,
       a.published_at, a.published_at_source, a.language, a.body, a.description, a.tags,
       a.image_url, a.wire_agencies, a.wire_evidence, a.content_hash, a.is_canonical,
       d.canonical_url AS duplicate_of, a.similarity, a.dup_relation, a.extractor_version,
       a.first_run_key, a.last_run_key, s.canonical_url AS secondary_of, a.language_detected,
       a.language_disagrees, a.extraction_method, a.extraction_confidence,
       a.extraction_low_confidence
FROM news.articles a
LEFT JOIN news.articles d ON d.article_id = a.duplicate_of
LEFT JOIN news.articles s ON s.article_id = a.secondary_of
ORDER BY a.canonical_url
"""
# A cluster is named by its members, its canonical article by URL.
CLUSTERS = """
SELECT array_agg(a.canonical_url ORDER BY a.canonical_url), c.member_count,
       c.first_published_at, c.outlets, c.agencies, k.canonical_url
FROM news.story_clusters c
JOIN news.articles a ON a.cluster_id = c.cluster_id
LEFT JOIN news.articles k ON k.article_id = c.canonical_article_id
GROUP BY c.cluster_id, k.canonical_url
ORDER BY 1
"""
INGEST_RUNS = """
SELECT run_key, feed_name, logical_date, entries, fetched, not_modified, skipped_known,
       extracted, skipped, new_articles, duplicates, failed, feed_failed, failures, clashes
FROM news.ingest_runs ORDER BY run_key, feed_name
"""


def warehouse_rows(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """The articles, story clusters and per-feed run counts of a warehouse, for comparing."""
    with psycopg.connect(dsn) as conn:
        return {
            name: conn.execute(sql).fetchall()
            for name, sql in (
                ("articles", ARTICLES), ("story_clusters", CLUSTERS), ("ingest_runs", INGEST_RUNS)
            )
        }  # fmt: skip
