"""The deduplicate and load tasks on a large day, each in a process of its own (GitHub issue 15).

    python bench/load_scale.py                    (a day of about 47,000 articles)
    python bench/load_scale.py --factor 50        (about 95,000)
    python bench/load_scale.py --statements       (and where the database's time goes)

bench/pipeline.py runs the whole day, where fetching and extracting take nine
tenths of the time, so a 100,000-article day takes over an hour. This benchmark
extracts a day of --articles real pages once (the development set served as by
bench/pipeline.py; our machines only) and keeps it. It then multiplies the staged
articles in SQL: copy k re-letters every body through a fixed permutation of the
alphabet, so each copy is a story of its own with the day's own exact and near
copies. Into a copy of that warehouse it runs `deduplicate` and then `load` from
newsingest.pipeline, each in a fresh process as an Airflow task would be, and
reports per stage: wall time, the client's and PostgreSQL's CPU (the benchmark's
own cluster, from /proc), and the task process's peak resident memory. Last line:

    articles=<n> deduplicate_s=<s> load_s=<s> load_rows_per_s=<r> db_cpu_share=<s> peak_mb=<m>
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
from pipeline import (
    DAY,
    STATE,
    TICK,
    PeakMemory,
    ServerCPU,
    _stat,
    fresh_database,
    plan_day,
    site,
    write_registry,
)

from newsingest import localdb, pipeline, timings
from newsingest.settings import Settings, load_settings

BASE = "ns_bench_load_base"
DAY_DB = "ns_bench_load_day"
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
COPRIME = (1, 3, 5, 7, 9, 11, 15, 17, 19, 21, 23, 25)


def build_base(admin: str, articles: int, settings: Settings) -> None:
    """Fetch and extract a day of real pages into BASE (kept for later runs)."""
    dsn = fresh_database(admin, BASE)
    entries = list(devset.manifest())
    items = plan_day(articles, len(entries), 20, 15)
    run = pipeline.RunInfo.make(DAY, "bench")
    with site(items, 20) as ports:
        registry = write_registry(ports, STATE / "load-registry.yaml")
        for source in pipeline.prepare(dsn, registry):
            pipeline.fetch_feed(dsn, settings, run, source)
    pipeline.extract(dsn, settings, run, processes=2)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(BASE), sql.Literal(f"articles={articles}")
            )
        )


def multiplied_day(admin: str, factor: int) -> tuple[str, int]:
    """A copy of BASE whose staged articles are repeated factor times as new stories."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DAY_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DAY_DB}" TEMPLATE "{BASE}"')
    dsn = make_conninfo(admin, dbname=DAY_DB)
    with psycopg.connect(dsn) as conn:
        for k in range(1, factor):
            # Letter i becomes letter (i * m + k) mod 26, m coprime with 26: 311 new stories.
            m = COPRIME[(k // 26) % len(COPRIME)]
            shifted = "".join(ALPHABET[(i * m + k) % 26] for i in range(26))
            body = "translate(record->>'body', %(a)s, %(p)s)"
            conn.execute(
                f"""
                INSERT INTO news.staged_articles (run_key, url, feed_name, skipped_reason,
                    record, source_sha256, extractor_version)
                SELECT run_key, url || %(s)s, feed_name, skipped_reason,
                    record || jsonb_build_object(
                        'canonical_url', (record->>'canonical_url') || %(s)s,
                        'url', (record->>'url') || %(s)s,
                        'body', {body},
                        'content_hash', md5({body} || %(s)s)),
                    source_sha256, extractor_version
                FROM news.staged_articles WHERE url NOT LIKE '%%#k%%'
                """,
                {"s": f"#k{k}", "a": ALPHABET, "p": shifted},
            )
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT count(*) FROM news.staged_articles WHERE skipped_reason IS NULL"
        ).fetchone()
    return dsn, int(row[0]) if row else 0


def _statement_timer() -> collections.defaultdict[str, list[float]]:
    """Time every statement of this process (wall and its backend's CPU), by its first words."""
    stats: collections.defaultdict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0])

    def backend_cpu(conn: Any) -> float:
        fields = _stat(conn.info.backend_pid)
        return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0

    def wrap(name: str) -> None:
        original = getattr(psycopg.Cursor, name)

        def timed(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            began, cpu = time.perf_counter(), backend_cpu(self.connection)
            try:
                return original(self, query, *args, **kwargs)
            finally:
                entry = stats[" ".join(str(query).split())[:80]]
                entry[0] += 1
                entry[1] += time.perf_counter() - began
                entry[2] += backend_cpu(self.connection) - cpu

        setattr(psycopg.Cursor, name, timed)

    wrap("execute")
    wrap("executemany")
    return stats


def _task(stage: str, dsn: str, statements: bool) -> None:
    """Child process: run one stage as its task would, and print where its time went."""
    stats = _statement_timer() if statements else None
    settings = load_settings()
    run = pipeline.RunInfo.make(DAY, "bench")
    print(f"  {stage}: {getattr(pipeline, stage)(dsn, settings, run)}", flush=True)
    if stats:
        top = sorted(stats.items(), key=lambda kv: -kv[1][1])[:8]
        for query, (count, wall, db) in top:
            print(f"    {wall:7.2f} s wall {db:7.2f} s db x{count:<5.0f} {query}", flush=True)


def measure(
    stage: str, dsn: str, db: ServerCPU, statements: bool
) -> tuple[float, float, float, int]:
    """(wall s, client CPU s, database CPU s, peak bytes) of one stage in a fresh process."""
    context = multiprocessing.get_context("spawn")
    began, cpu, db_cpu = time.perf_counter(), timings.cpu_seconds(), db.seconds()
    with PeakMemory(exclude=set()) as memory:
        process = context.Process(target=_task, args=(stage, dsn, statements))
        process.start()
        process.join()
    if process.exitcode:
        raise SystemExit(f"{stage} failed (exit code {process.exitcode})")
    return (time.perf_counter() - began, timings.cpu_seconds() - cpu, db.seconds() - db_cpu,
            memory.peak)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000, help="the extracted day")
    parser.add_argument("--factor", type=int, default=25, help="copies of it in the day")
    parser.add_argument("--statements", action="store_true", help="print the costliest ones")
    parser.add_argument("--rebuild", action="store_true", help="extract the day again")
    args = parser.parse_args(argv)
    devset.require()
    settings = load_settings().replace(
        allow_hosts=("127.0.0.1",), host_delay=0.0, host_concurrency=4, global_concurrency=16,
        max_pages_per_feed=args.articles, retries=1, backoff_base=0.1,
    )  # fmt: skip
    server = localdb.start(STATE, database="postgres")
    db = ServerCPU(server.data_dir)
    admin = make_conninfo(server.dsn, dbname="postgres")
    try:
        with psycopg.connect(admin) as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (BASE,),
            ).fetchone()
        if args.rebuild or not row or row[0] != f"articles={args.articles}":
            print(f"extracting a day of {args.articles} pages once (kept as {BASE})", flush=True)
            build_base(admin, args.articles, settings)
        dsn, staged = multiplied_day(admin, args.factor)
        print(f"a day of {staged} staged articles ({args.factor} x {args.articles} pages), "
              f"fresh warehouse on the benchmark's own cluster", flush=True)  # fmt: skip
        figures = {}
        for stage in ("deduplicate", "load"):
            wall, client, db_s, peak = measure(stage, dsn, db, args.statements)
            figures[stage] = (wall, client, db_s, peak)
            print(f"  {stage}: {wall:.1f} s wall, client {client:.1f} s CPU, PostgreSQL "
                  f"{db_s:.1f} s CPU, {staged / wall:.0f} articles/s, peak {peak / 2**20:.0f} MB",
                  flush=True)  # fmt: skip
        cpu = sum(f[1] + f[2] for f in figures.values())
        print(
            f"articles={staged} deduplicate_s={figures['deduplicate'][0]:.1f} "
            f"load_s={figures['load'][0]:.1f} load_rows_per_s={staged / figures['load'][0]:.0f} "
            f"db_cpu_share={sum(f[2] for f in figures.values()) / cpu:.3f} "
            f"peak_mb={max(f[3] for f in figures.values()) / 2**20:.0f}"
        )
    finally:
        localdb.stop(STATE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
