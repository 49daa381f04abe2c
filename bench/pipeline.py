"""The whole pipeline, as the DAG runs it, on a generated day of real pages (GitHub issue 15).

    python bench/pipeline.py                      (2,000 articles, fresh warehouse)
    python bench/pipeline.py --articles 100000    (the full-size day)
    python bench/pipeline.py --history 1000000    (also into a warehouse with that history)

Corpus: the real pages of ../shared/datasets/extraction-dev (our machines only:
without it the benchmark says so and stops), served on 127.0.0.1 by --outlets
local hosts (one port each) from a separate process, so that serving costs the
measured process nothing. Of the day's articles, 10% are exact copies of another
outlet's page and 10% near copies (a paragraph dropped, words changed); beyond
the dataset's 1,639 pages, cycle k > 0 re-letters every word of a page's text
through a fixed permutation of the alphabet, a new story of the same shape.
Everything is seeded.

Pipeline: prepare, fetch_feed per feed, extract (--processes worker processes),
deduplicate, load and check from newsingest.pipeline: the functions the DAG's
tasks call, politeness delays off. Into a freshly migrated warehouse on a
throwaway PostgreSQL cluster of its own (newsingest.localdb, under
~/.cache/newsingest-bench/pipeline), so that the database's CPU (its
postmaster's exited children plus its live backends, from /proc) is that of the
pipeline alone. With --history N, the same day also goes into a warehouse
holding N stored founders and articles (bench/dedup_throughput.py builds it).

In the same run: trafilatura.extract alone (default options) on the same pages
(a sample of --baseline-pages, scaled per page), the row-by-row load the project
used before against the set-based one on the same rows, extraction with 1 and 2
processes, and the same day run again. Last line:

    articles=<n> wall_s=<s> cpu_ratio=<r> db_cpu_share=<s> peak_mb=<m> rerun_ratio=<r>

cpu_ratio is the pipeline's CPU (client, workers and PostgreSQL) per article over
trafilatura's own; db_cpu_share the database's part of that CPU; rerun_ratio the
rerun's CPU over the first run's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup_throughput
import devset
import trafilatura

from newsingest import localdb, migrations, pipeline, timings, warehouse
from newsingest.settings import Settings, load_settings

DAY = date(2025, 6, 15)
PUBLISHED = "Sun, 15 Jun 2025 {h:02d}:{m:02d}:00 GMT"
STATE = Path("~/.cache/newsingest-bench/pipeline").expanduser()
COPY_SHARE, NEAR_SHARE = 0.10, 0.10
TICK = os.sysconf("SC_CLK_TCK")
SCRIPT_OR_TAG = re.compile(r"(<script\b.*?</script>|<style\b.*?</style>|<[^>]*>)", re.S | re.I)
PARAGRAPH = re.compile(r"<p\b[^>]*>.*?</p>", re.S | re.I)


# -- the corpus and its server ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One article URL of the day: which page it serves and how."""

    outlet: int
    slug: str
    page: int  # index into the dataset's pages
    cycle: int  # 0: the page as it is; k: re-lettered through permutation k
    near: bool  # a near copy: a paragraph dropped, some words changed


def plan_day(articles: int, pages: int, outlets: int, seed: int) -> list[Item]:
    """The day's items: distinct stories, then exact and near copies at other outlets."""
    rng = random.Random(seed)
    distinct = max(1, round(articles * (1 - COPY_SHARE - NEAR_SHARE)))
    order = list(range(pages))
    rng.shuffle(order)
    stories = [(order[i % pages], i // pages) for i in range(distinct)]
    items = [Item(i % outlets, f"s{i}", page, cycle, near=False)
             for i, (page, cycle) in enumerate(stories)]  # fmt: skip
    for n in range(articles - distinct):
        original = items[rng.randrange(distinct)]
        outlet = (original.outlet + 1 + rng.randrange(outlets - 1)) % outlets
        near = n >= round(articles * COPY_SHARE)
        items.append(Item(outlet, f"c{n}", original.page, original.cycle, near=near))
    return items


def reletter(html: str, cycle: int) -> str:
    """The page with every letter of its text (not its markup or scripts) permuted."""
    if cycle == 0:
        return html
    letters = "abcdefghijklmnopqrstuvwxyz"
    shuffled = list(letters)
    random.Random(cycle).shuffle(shuffled)
    table = str.maketrans(letters + letters.upper(), "".join(shuffled) + "".join(shuffled).upper())
    parts = SCRIPT_OR_TAG.split(html)
    return "".join(p if i % 2 else p.translate(table) for i, p in enumerate(parts))


def near_copy(html: str, key: str) -> str:
    """A near copy: one paragraph dropped and a few words replaced (seeded by key)."""
    rng = random.Random(key)
    paragraphs = list(PARAGRAPH.finditer(html))
    if len(paragraphs) > 3:
        drop = paragraphs[rng.randrange(1, len(paragraphs))]
        html = html[: drop.start()] + html[drop.end() :]
    return re.sub(r"\b(the|and|said)\b", lambda m: "a" if rng.random() < 0.2 else m.group(0), html)


def page_bytes(raw: list[bytes], item: Item) -> bytes:
    """What the server answers for an item."""
    html = raw[item.page].decode("utf-8", "replace")
    html = reletter(html, item.cycle)
    if item.near:
        html = near_copy(html, item.slug)
    return html.encode("utf-8")


def feed_xml(items: list[Item], base: str) -> bytes:
    """The RSS feed of one outlet's items, all published on DAY."""
    entries = "".join(
        f"<item><title>{it.slug}</title><link>{base}/a/{it.slug}.html</link>"
        f"<guid>{base}/a/{it.slug}.html</guid>"
        f"<pubDate>{PUBLISHED.format(h=(i // 60) % 24, m=i % 60)}</pubDate></item>"
        for i, it in enumerate(items)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
            f"{entries}</channel></rss>").encode()  # fmt: skip


def _serve(items: list[Item], outlets: int, ready: Any, stop: Any) -> None:
    """Server process: one threaded HTTP server per outlet on a free port."""
    raw = [devset.html(entry) for entry in devset.manifest()]
    by_slug = {it.slug: it for it in items}
    servers = []
    for outlet in range(outlets):
        mine = [it for it in items if it.outlet == outlet]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            feed: bytes = b""

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    body, kind = self.feed, "application/rss+xml"
                elif self.path.startswith("/a/") and (it := by_slug.get(self.path[3:-5])):
                    body, kind = page_bytes(raw, it), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        Handler.feed = feed_xml(mine, f"http://127.0.0.1:{server.server_address[1]}")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    ready.send([s.server_address[1] for s in servers])
    stop.wait()
    for server in servers:
        server.shutdown()


@contextmanager
def site(items: list[Item], outlets: int) -> Iterator[list[int]]:
    """The served corpus: yields the outlets' ports."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    process = context.Process(target=_serve, args=(items, outlets, send, stop), daemon=True)
    process.start()
    try:
        yield receive.recv()
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()


def write_registry(ports: list[int], path: Path) -> Path:
    """The feed registry of the served outlets (one feed each) at path."""
    path.write_text("feeds:\n" + "".join(
        f"  - name: outlet-{i}\n    url: http://127.0.0.1:{port}/feed.xml\n"
        for i, port in enumerate(ports)))  # fmt: skip
    return path


# -- measuring ---------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


class ServerCPU:
    """CPU seconds of one PostgreSQL cluster: exited backends (the postmaster's cutime and
    cstime) plus live ones, read from /proc."""

    def __init__(self, data_dir: Path) -> None:
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])

    def seconds(self) -> float:
        ticks = 0
        own = _stat(self.postmaster)
        if own:
            ticks += sum(int(v) for v in own[11:15])  # utime stime cutime cstime
        for entry in Path("/proc").iterdir():
            fields = _stat(int(entry.name)) if entry.name.isdigit() else None
            if fields and int(fields[1]) == self.postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / TICK


class PeakMemory:
    """Largest resident set of this process or any of its descendants, sampled twice a second."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.5):
            family = {os.getpid()}
            stats = {}
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and (fields := _stat(int(entry.name))):
                    stats[int(entry.name)] = fields
            grew = True
            while grew:
                grew = False
                for pid, fields in stats.items():
                    if pid not in family and int(fields[1]) in family and pid not in self.exclude:
                        family.add(pid)
                        grew = True
            for pid in family:
                if pid in stats:
                    self.peak = max(self.peak, int(stats[pid][21]) * page)


@dataclass
class Stage:
    """What one stage cost."""

    name: str
    wall_s: float = 0.0
    client_s: float = 0.0
    db_s: float = 0.0
    items: int = 0


@dataclass
class RunCost:
    """What one run of the day cost, stage by stage."""

    stages: list[Stage] = field(default_factory=list)
    # Largest resident set of one process (the bench's, an extract worker's) during the run.
    peak_bytes: int = 0

    @property
    def wall_s(self) -> float:
        return sum(s.wall_s for s in self.stages)

    @property
    def cpu_s(self) -> float:
        return sum(s.client_s + s.db_s for s in self.stages)

    @property
    def db_s(self) -> float:
        return sum(s.db_s for s in self.stages)


def measure(
    db: ServerCPU, name: str, work: Callable[[], Any], items: Callable[[Any], int]
) -> Stage:
    """Run work; its wall time, client CPU (with workers) and database CPU."""
    wall, cpu, db_cpu = time.perf_counter(), timings.cpu_seconds(), db.seconds()
    result = work()
    stage = Stage(name, time.perf_counter() - wall, timings.cpu_seconds() - cpu,
                  db.seconds() - db_cpu, items(result))  # fmt: skip
    return stage


def run_day(
    dsn: str,
    settings: Settings,
    registry: Path,
    db: ServerCPU,
    processes: int,
    *,
    exclude: set[int],
) -> RunCost:
    """One run of the day through the pipeline's stage functions, as the DAG calls them
    (the peak memory leaves out the processes in exclude: the site's server)."""
    run = pipeline.RunInfo.make(DAY, "bench")
    cost = RunCost()
    sources: list[Any] = []

    def fetch_all() -> int:
        sources.extend(pipeline.prepare(dsn, registry))
        return sum(pipeline.fetch_feed(dsn, settings, run, s).fetched for s in sources)

    def checked() -> dict[str, Any]:
        try:
            return pipeline.check(dsn, settings, run)
        except pipeline.CheckError as exc:
            print(f"  check: {exc}", flush=True)
            return {}

    with PeakMemory(exclude=exclude) as memory:
        cost.stages.append(measure(db, "fetch", fetch_all, int))
        cost.stages.append(measure(
            db, "extract", lambda: pipeline.extract(dsn, settings, run, processes=processes),
            lambda c: c["extracted"] + c["skipped"]))  # fmt: skip
        cost.stages.append(measure(
            db, "deduplicate", lambda: pipeline.deduplicate(dsn, settings, run),
            lambda c: c["new"] + c["duplicates"]))  # fmt: skip
        cost.stages.append(measure(db, "load", lambda: pipeline.load(dsn, settings, run),
                                   lambda c: c["loaded"] + c["updated"]))  # fmt: skip
        cost.stages.append(measure(db, "check", checked, lambda _: 0))
    cost.peak_bytes = memory.peak
    return cost


def print_cost(title: str, cost: RunCost, articles: int) -> None:
    print(f"\n{title}: {cost.wall_s:.1f} s wall, {cost.cpu_s:.1f} s CPU "
          f"({cost.db_s:.1f} s PostgreSQL), peak {cost.peak_bytes / 2**20:.0f} MB")  # fmt: skip
    print(f"  {'stage':<12}{'items':>8}{'wall s':>9}{'items/s':>9}{'client ms/a':>13}"
          f"{'db ms/a':>9}")  # fmt: skip
    for s in cost.stages:
        rate = s.items / s.wall_s if s.wall_s > 0 else 0.0
        print(f"  {s.name:<12}{s.items:>8}{s.wall_s:>9.1f}{rate:>9.0f}"
              f"{1000 * s.client_s / articles:>13.2f}{1000 * s.db_s / articles:>9.2f}")  # fmt: skip


def trafilatura_alone(pages: list[bytes]) -> float:
    """CPU seconds per page of trafilatura.extract with its default options."""
    began = time.process_time()
    for body in pages:
        trafilatura.extract(body.decode("utf-8", "replace"))
    return (time.process_time() - began) / max(1, len(pages))


def row_by_row_against_set_based(dsn: str, db: ServerCPU) -> tuple[float, float, float, int]:
    """Seconds (client + database) to write the loaded rows one by one, then set-based, then
    set-based without the full-text column, into scratch copies of news.articles (same
    columns and indexes), rolled back: the old load path against the new on the same rows,
    and what the search index's tsvector and GIN index cost of the new."""
    columns = ", ".join(warehouse.ARTICLE_COLUMNS)
    costs = []
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {columns} FROM news.articles").fetchall()
        for kind in ("rows", "set", "text"):
            conn.execute(f"CREATE TEMP TABLE scratch_{kind} (LIKE news.articles INCLUDING ALL)")
            if kind == "text":
                conn.execute("ALTER TABLE scratch_text DROP COLUMN search_vector")
            cpu, db_cpu = time.process_time(), db.seconds()
            if kind == "rows":
                for row in rows:
                    conn.execute("SELECT 1 FROM scratch_rows WHERE canonical_url = %s", (row[0],))
                    conn.execute(
                        f"INSERT INTO scratch_rows ({columns}, cluster_id, first_run_key, "
                        f"last_run_key) VALUES ({', '.join(['%s'] * len(row))}, 1, 'b', 'b')",
                        row,
                    )
            else:
                with conn.cursor().copy(
                    f"COPY scratch_{kind} ({columns}, cluster_id, first_run_key, last_run_key) "
                    "FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row((*row, 1, "b", "b"))
            costs.append(time.process_time() - cpu + db.seconds() - db_cpu)
        conn.rollback()
    return costs[0], costs[1], costs[2], len(rows)


# -- main ------------------------------------------------------------------------------------


def fresh_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(admin, dbname=name)
    with warehouse.connect(dsn) as conn:
        migrations.migrate(conn)
    return dsn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--outlets", type=int, default=20)
    parser.add_argument("--processes", type=int, default=0, help="0: every CPU")
    parser.add_argument("--history", type=int, default=0, help="also into this history (0: no)")
    parser.add_argument("--baseline-pages", type=int, default=1000)
    parser.add_argument(
        "--speedup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="extract again with 1 and 2 processes (default: up to 5,000)",
    )
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    devset.require()
    processes = args.processes or len(os.sched_getaffinity(0))
    entries = list(devset.manifest())
    items = plan_day(args.articles, len(entries), args.outlets, args.seed)
    settings = load_settings().replace(
        allow_hosts=("127.0.0.1",), host_delay=0.0, host_concurrency=4, global_concurrency=16,
        max_pages_per_feed=args.articles, retries=1, backoff_base=0.1,
    )  # fmt: skip
    print(f"{args.articles} articles ({len(entries)} dataset pages) from {args.outlets} outlets, "
          f"{processes} extract processes; load average {os.getloadavg()[0]:.2f} "
          f"(other work on the machine slows every figure)", flush=True)  # fmt: skip
    server = localdb.start(STATE, database="postgres")
    db = ServerCPU(server.data_dir)
    admin = make_conninfo(server.dsn, dbname="postgres")
    print(f"PostgreSQL: own cluster in {server.data_dir} (port {server.port})", flush=True)
    try:
        with site(items, args.outlets) as ports:
            server_pids = {p.pid for p in multiprocessing.active_children() if p.pid}
            registry = write_registry(ports, STATE / "registry.yaml")
            raw = [devset.html(entries[it.page]) for it in items[: args.baseline_pages]]
            pages = [reletter(r.decode("utf-8", "replace"), it.cycle).encode()
                     for r, it in zip(raw, items, strict=False)]  # fmt: skip
            per_page = trafilatura_alone(pages)
            print(f"trafilatura.extract alone: {1000 * per_page:.1f} ms CPU a page "
                  f"({len(pages)} pages of the day)", flush=True)  # fmt: skip
            baseline = per_page * args.articles
            dsn = fresh_database(admin, "ns_bench_pipeline")
            first = run_day(dsn, settings, registry, db, processes, exclude=server_pids)
            print_cost("fresh warehouse, first run", first, args.articles)
            rerun = run_day(dsn, settings, registry, db, processes, exclude=server_pids)
            print_cost("the same day again", rerun, args.articles)
            rows_s, set_s, text_s, n = row_by_row_against_set_based(dsn, db)
            print(f"\nload path on the same {n} rows: row by row {rows_s:.2f} s, COPY and one "
                  f"statement {set_s:.2f} s ({rows_s / max(set_s, 1e-9):.1f}x; "
                  f"{n / max(set_s, 1e-9):.0f} rows/s); without the full-text column "
                  f"{text_s:.2f} s ({n / max(text_s, 1e-9):.0f} rows/s)")  # fmt: skip
            speedup = args.speedup if args.speedup is not None else args.articles <= 5000
            if speedup:
                run = pipeline.RunInfo.make(DAY, "bench")
                walls = []
                for workers in (1, 2):
                    with psycopg.connect(dsn) as conn:
                        conn.execute("UPDATE news.staged_articles SET extractor_version = 'x'")
                    began = time.perf_counter()
                    pipeline.extract(dsn, settings, run, processes=workers)
                    walls.append(time.perf_counter() - began)
                print(f"extract wall: 1 process {walls[0]:.1f} s, 2 processes {walls[1]:.1f} s "
                      f"(speed-up {walls[0] / walls[1]:.2f}x)")  # fmt: skip
            peaks = [first.peak_bytes, rerun.peak_bytes]
            if args.history:
                # Built in a process of its own: its memory is the bench's, not the pipeline's.
                spawn = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    large = pool.submit(
                        history_database, admin, args.history, settings, args.seed
                    ).result()
                big = run_day(large, settings, registry, db, processes, exclude=server_pids)
                print_cost(f"warehouse holding {args.history} articles", big, args.articles)
                peaks.append(big.peak_bytes)
        loaded = count(dsn, "SELECT count(*) FROM news.articles")
        print(f"\nloaded {loaded} articles; trafilatura alone would take {baseline:.1f} s CPU")
        print(
            f"articles={args.articles} wall_s={first.wall_s:.1f} "
            f"cpu_ratio={first.cpu_s / baseline:.2f} db_cpu_share={first.db_s / first.cpu_s:.3f} "
            f"peak_mb={max(peaks) / 2**20:.0f} rerun_ratio={rerun.cpu_s / first.cpu_s:.3f}"
        )
    finally:
        localdb.stop(STATE)
    return 0


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def history_database(admin: str, history: int, settings: Settings, seed: int) -> str:
    """A copy of a warehouse holding `history` founders and articles (bench/dedup_throughput.py's,
    kept between runs in the bench's cluster): the day goes into the copy, never the build."""
    work = dedup_throughput.make_workload(1000, history, seed)
    built, _ = dedup_throughput.ensure_history(
        admin, history, new=1000, seed=seed, settings=settings, work=work, rebuild=False
    )
    name = "ns_bench_pipeline_history"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        template = psycopg.conninfo.conninfo_to_dict(built)["dbname"]
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_conninfo(admin, dbname=name)


if __name__ == "__main__":
    sys.exit(main())
