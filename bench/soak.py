"""Thirty days of `newsingest run` under faults, then every URL a feed offered accounted for.

    python bench/soak.py                       (30 days, 50 outlets, 20,000 articles, seed 11)
    python bench/soak.py --days 5 --articles 3000 --seed 3

Site (GitHub issue 11): generated from the seed, served on 127.0.0.1 by a
process of its own, one port (one host) per outlet. Each outlet has a feed
(RSS, Atom, JSON Feed or a news sitemap, in turn) listing its articles of the
last three days, with validators (ETag, 304). Articles: original stories
(text drawn from the words of the bundled demo site), exact and near copies of
other outlets' stories, short notes and photo galleries the quality gates
skip, and second URLs of a story declaring the first as canonical; two outlets
are aggregators that also link other outlets' stories (with tracking
parameters). Nothing is read from ../shared.

Faults, all drawn from the seed: HTTP 5xx (now and then for a whole day of a
URL), hanging answers (client timeouts), slow answers, bodies cut short, a
robots.txt failing for a day; and per day, at most one of: the pipeline's
database backends terminated (pg_terminate_backend from another connection)
while a chosen stage works, or the `newsingest run --date` process group
killed (SIGKILL) while a chosen stage works. Every such fault strikes every
stage it can on a day of its own (more on a tenth of the other days). A failed
or killed run is run again at once, as an operator would.

Every day is one `newsingest run --date` (the public CLI, a process per
attempt) into a freshly migrated warehouse: a database of its own on a
throwaway cluster (newsingest.localdb), or on --dsn's server.

Afterwards every URL that a feed offered (in a document served whole to a run
that completed) is accounted for from the warehouse alone: loaded (an
original), duplicate (a copy kept and flagged, or a page whose canonical URL
was taken, or the canonical URL of an article loaded through another page),
skipped with its reason, or failed with its class. A URL with none of these is
lost; with more than one, double. The counts of news.ingest_runs are checked
against the rows (pages staged, extracted and skipped, articles loaded, clashes
and failures by class per run and feed). Last line:

    days=<d> urls=<n> accounted=<n> lost=<n> double=<n>

and the exit status is 1 unless everything reconciles (and no run printed a
traceback or failed without a fault). Measured (docs/reliability.md): 591 s on
two cores shared with other work, last line
days=30 urls=19978 accounted=19978 lost=0 double=0.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from newsingest import localdb, migrations, warehouse
from newsingest.demo.server import SITE_ROOT
from newsingest.urls import canonical_url

FIRST_DAY = date(2024, 3, 1)
WINDOW_DAYS = 3  # a feed lists the articles of its last three days
KINDS = {"story": 0.72, "exact": 0.08, "near": 0.08, "short": 0.04, "gallery": 0.03, "alias": 0.05}
AGGREGATOR_EVERY = 25  # outlets 0, 25, ... also link other outlets' stories
AGGREGATED_PER_DAY = 8
FEED_KINDS = ("rss", "atom", "jsonfeed", "sitemap")
# The run's HTTP settings: a hanging answer outlasts the read timeout, a slow one does not.
CLIENT = {
    "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
    "NEWSINGEST_HOST_DELAY": "0",
    "NEWSINGEST_HOST_CONCURRENCY": "4",
    "NEWSINGEST_RETRIES": "1",
    "NEWSINGEST_BACKOFF_BASE": "0.05",
    "NEWSINGEST_BACKOFF_MAX": "0.2",
    "NEWSINGEST_CONNECT_TIMEOUT": "2",
    "NEWSINGEST_READ_TIMEOUT": "1.5",
    "NEWSINGEST_TOTAL_TIMEOUT": "3",
}
HANG_S = 2.5
SLOW_S = (0.2, 0.6)
# Per request (pages and feeds): 5xx, hang, cut body, slow; per URL and day: down all day.
REQUEST_FAULTS = (("5xx", 0.02), ("hang", 0.001), ("truncate", 0.01), ("slow", 0.01))
DOWN_FOR_THE_DAY = 0.01
ROBOTS_DOWN = 0.003
# Process faults of a day's first run, and the stages they strike: each on a day of its own,
# and on a tenth of the other days one of them again.
TERMINATE_STAGES = ("fetch", "stage", "extract", "deduplicate", "load")
KILL_STAGES = ("fetch", "extract", "deduplicate", "load")
MORE_FAULTS = 0.1
MAX_ATTEMPTS = 4
POLL_S = 0.01


# -- the site -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    """One article URL of the site."""

    number: int
    outlet: int
    day: int  # 0-based day of the soak it is published on
    minute: int  # minute of that day
    kind: str  # story, exact, near, short, gallery, alias
    source: int  # the story it copies (exact, near) or repeats (alias); itself otherwise

    @property
    def published(self) -> datetime:
        """Publication time (UTC)."""
        start = datetime.combine(FIRST_DAY + timedelta(days=self.day), datetime.min.time(), UTC)
        return start + timedelta(minutes=self.minute)

    @property
    def path(self) -> str:
        """Path of the article on its outlet's host."""
        section = "gallery" if self.kind == "gallery" else "news"
        return f"/{section}/{self.published:%Y/%m/%d}/{self.kind}-{self.number}.html"


def plan_site(articles: int, outlets: int, days: int, seed: int) -> list[Article]:
    """The site's articles in publication order (numbered from 0), drawn from the seed."""
    rng = random.Random(seed)
    kinds, weights = zip(*KINDS.items(), strict=True)
    site: list[Article] = []
    stories: list[Article] = []
    for day in range(days):
        count = articles // days + (1 if day < articles % days else 0)
        minutes = sorted(rng.randrange(24 * 60) for _ in range(count))
        for minute in minutes:
            kind = rng.choices(kinds, weights)[0]
            recent = [s for s in stories[-400:] if s.day >= day - 1]
            number = len(site)
            if kind in {"exact", "near"} and recent and outlets > 1:
                original = rng.choice(recent)
                outlet = (original.outlet + 1 + rng.randrange(outlets - 1)) % outlets
                item = Article(number, outlet, day, minute, kind, original.number)
            elif kind == "alias" and recent:
                original = rng.choice(recent)
                item = Article(number, original.outlet, day, minute, kind, original.number)
            else:
                kind = kind if kind in {"short", "gallery"} else "story"
                item = Article(number, rng.randrange(outlets), day, minute, kind, number)
            site.append(item)
            if item.kind == "story":
                stories.append(item)
    return site


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """The words (with their frequencies) of the bundled demo site's paragraphs."""
    words: list[str] = []
    for page in sorted(SITE_ROOT.rglob("*.html")):
        for paragraph in re.findall(r"<p\b[^>]*>(.*?)</p>", page.read_text("utf-8"), re.S):
            words += re.findall(r"[A-Za-z][a-z']+", re.sub(r"<[^>]+>", " ", paragraph))
    return tuple(w.lower() for w in words)


def sentences(rng: random.Random, count: int) -> list[str]:
    """count sentences of words drawn from the vocabulary."""
    words = vocabulary()
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(9, 18))).capitalize() + "."
        for _ in range(count)
    ]


def story_text(seed: int, number: int) -> tuple[str, list[str]]:
    """A story's title and paragraphs."""
    rng = random.Random(f"{seed}:story:{number}")
    title = sentences(rng, 1)[0].rstrip(".")[:80]
    return title, [" ".join(sentences(rng, rng.randint(3, 4))) for _ in range(rng.randint(4, 6))]


def article_text(seed: int, site: Sequence[Article], item: Article) -> tuple[str, list[str]]:
    """The title and paragraphs an article's page shows."""
    rng = random.Random(f"{seed}:text:{item.number}")
    if item.kind == "short":
        return story_text(seed, item.number)[0], [" ".join(sentences(rng, 2))[:300]]
    if item.kind == "gallery":
        title = "In pictures: " + story_text(seed, item.number)[0]
        return title, [s[:90] for s in sentences(rng, 3)]
    title, paragraphs = story_text(seed, site[item.source].source)
    if item.kind == "near":
        paragraphs = [p for i, p in enumerate(paragraphs) if i != 1 + rng.randrange(4)]
        paragraphs = [
            " ".join(w if rng.random() > 0.08 else rng.choice(vocabulary()) for w in p.split())
            for p in paragraphs
        ]
    return title, paragraphs


def page_html(seed: int, site: Sequence[Article], item: Article, base: str, outlet: str) -> bytes:
    """An article page: navigation, the article, a footer; aliases name the story as canonical."""
    title, paragraphs = article_text(seed, site, item)
    canonical = base + (site[item.source].path if item.kind == "alias" else item.path)
    body = "".join(f"<p>{escape(p)}</p>\n" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | {outlet}</title>"
        f'<link rel="canonical" href="{canonical}">'
        f'<meta property="og:type" content="article"><meta property="og:site_name" '
        f'content="{outlet}"><meta property="article:published_time" '
        f'content="{item.published.isoformat()}"></head>\n<body><header><nav>'
        f'<a href="/">{outlet}</a> <a href="/news/">News</a> <a href="/sport/">Sport</a> '
        f'<a href="/weather/">Weather</a></nav></header>\n<main><article><h1>{escape(title)}</h1>'
        f"\n{body}</article></main>\n<footer><p>Copyright 2024 {outlet}. All rights reserved. "
        "Contact the newsroom.</p></footer></body></html>\n"
    ).encode()


def outlet_name(index: int) -> str:
    """An outlet's feed name in the registry."""
    return f"outlet-{index:02d}"


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """What the server process needs to build the same site."""

    articles: int
    outlets: int
    days: int
    seed: int


class Plan:
    """The site's articles, indexed by outlet and by day."""

    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        self.site = plan_site(spec.articles, spec.outlets, spec.days, spec.seed)
        self.by_outlet: dict[int, list[Article]] = defaultdict(list)
        self.stories: dict[int, list[Article]] = defaultdict(list)
        for article in self.site:
            self.by_outlet[article.outlet].append(article)
            if article.kind == "story":
                self.stories[article.day].append(article)

    def feed_items(self, outlet: int, day: int) -> list[tuple[str, Article]]:
        """(link path and query, article) of an outlet's feed as served after `day`: its
        articles of the last WINDOW_DAYS days, and for an aggregator other outlets' stories
        of the day (with tracking parameters)."""
        own = [(a.path, a) for a in self.by_outlet[outlet] if day - WINDOW_DAYS < a.day <= day]
        if outlet % AGGREGATOR_EVERY or self.spec.outlets < 2:
            return own
        rng = random.Random(f"{self.spec.seed}:aggregate:{outlet}:{day}")
        others = [a for a in self.stories[day] if a.outlet != outlet]
        picked = rng.sample(others, min(AGGREGATED_PER_DAY, len(others)))
        return own + [(f"{a.path}?utm_source=outlet{outlet}&utm_medium=feed", a) for a in picked]


def feed_document(
    kind: str, name: str, items: Sequence[tuple[str, str, Article]], base: str
) -> tuple[bytes, str]:
    """A feed document of kind from (link, title, article) items; (bytes, content type)."""
    if kind == "jsonfeed":
        doc = {
            "version": "https://jsonfeed.org/version/1.1", "title": name, "home_page_url": base,
            "items": [{"id": link, "url": link, "title": title,
                       "date_published": a.published.isoformat()} for link, title, a in items],
        }  # fmt: skip
        return json.dumps(doc).encode(), "application/feed+json"
    if kind == "atom":
        entries = "".join(
            f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/><id>{escape(link)}'
            f"</id><updated>{a.published.isoformat()}</updated></entry>"
            for link, t, a in items
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{name}</title><id>{base}/</id><updated>2024-01-01T00:00:00Z</updated>"
            f"{entries}</feed>"
        ).encode(), "application/atom+xml"
    if kind == "sitemap":
        urls = "".join(
            f"<url><loc>{escape(link)}</loc><news:news><news:publication><news:name>{name}"
            f"</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(t)}</news:title></news:news></url>"
            for link, t, a in items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><urlset '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        ).encode(), "application/xml"
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{email.utils.format_datetime(a.published)}</pubDate></item>"
        for link, t, a in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>{base}/</link><description>{name}</description>{entries}</channel></rss>"
    ).encode(), "application/rss+xml"


class _SiteState:
    """The server process's view: the site, the current day and attempt, what it served."""

    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        self.plan = Plan(spec)
        self.site = self.plan.site
        self.by_path = {(a.outlet, a.path): a for a in self.site}
        self.bases: list[str] = []
        self.day = 0
        self.attempt = 0
        self.lock = threading.Lock()
        self.requests: Counter[tuple[int, int, str]] = Counter()
        self.served: list[tuple[int, int, int]] = []  # (attempt, outlet, day) feeds served whole
        self.faults: Counter[str] = Counter()
        self.stopping = threading.Event()

    def fault(self, outlet: int, path: str) -> str | None:
        """The fault of this request (seeded by day, URL and how often it was asked today)."""
        with self.lock:
            key = (self.day, outlet, path)
            self.requests[key] += 1
            nth = self.requests[key]
        seed = self.spec.seed
        if path == "/robots.txt":
            down = random.Random(f"{seed}:{self.day}:{outlet}:robots").random() < ROBOTS_DOWN
            return "5xx" if down else None
        if random.Random(f"{seed}:{self.day}:{outlet}:{path}").random() < DOWN_FOR_THE_DAY:
            return "5xx"
        draw = random.Random(f"{seed}:{self.day}:{outlet}:{path}:{nth}").random()
        for name, share in REQUEST_FAULTS:
            if draw < share:
                return name
            draw -= share
        return None

    @lru_cache(maxsize=4096)  # noqa: B019 (one state per server process)
    def feed(self, outlet: int, day: int) -> tuple[bytes, str]:
        """The outlet's feed document as served after `day`."""
        items = []
        for link, article in self.plan.feed_items(outlet, day):
            title = article_text(self.spec.seed, self.site, article)[0]
            items.append((self.bases[article.outlet] + link, title, article))
        kind = FEED_KINDS[outlet % len(FEED_KINDS)]
        return feed_document(kind, outlet_name(outlet), items, self.bases[outlet])


def _handler(state: _SiteState, outlet: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 30

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with state.lock:
                attempt, day = state.attempt, state.day
            fault = state.fault(outlet, path)
            if fault:
                with state.lock:
                    state.faults[fault] += 1
            if fault == "hang":
                state.stopping.wait(HANG_S)
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(random.Random(f"{path}:{attempt}").uniform(*SLOW_S))
            if fault == "5xx":
                self._send(503, b"unavailable\n", "text/plain")
                return
            is_feed = path == "/feed"
            if is_feed:
                body, kind = state.feed(outlet, day)
                etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
                if self.headers.get("If-None-Match") == etag and fault is None:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                headers = {"ETag": etag}
            elif path == "/robots.txt":
                self._send(404, b"no robots here\n", "text/plain")
                return
            elif (article := state.by_path.get((outlet, path))) and article.day <= day:
                body = page_html(state.spec.seed, state.site, article, state.bases[outlet],
                                 outlet_name(outlet))  # fmt: skip
                kind, headers = "text/html; charset=utf-8", {}
            else:
                self._send(404, b"not found\n", "text/plain")
                return
            if fault == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(200, body, kind, headers)
            if is_feed:
                with state.lock:
                    state.served.append((attempt, outlet, day))

        def _send(
            self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, killed runs) are part of the soak: not reported."""


def _serve(spec: SiteSpec, control: Connection) -> None:
    """Server process: one threaded HTTP server per outlet; commands arrive on control."""
    state = _SiteState(spec)
    servers = []
    for outlet in range(spec.outlets):
        server = _Server(("127.0.0.1", 0), _handler(state, outlet))
        servers.append(server)
        state.bases.append(f"http://127.0.0.1:{server.server_address[1]}")
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    control.send(state.bases)
    while True:
        command, argument = control.recv()
        if command == "stop":
            break
        with state.lock:
            if command == "day":
                state.day = argument
            elif command == "attempt":
                state.attempt = argument
            elif command == "served":
                control.send([(o, d) for a, o, d in state.served if a == argument])
            elif command == "faults":
                control.send(dict(state.faults))
    state.stopping.set()
    for server in servers:
        server.shutdown()
        server.server_close()


class Site:
    """The site's server process, driven from here."""

    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        self.plan = Plan(spec)
        context = multiprocessing.get_context("spawn")
        self._control, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(spec, theirs), daemon=True)
        self._process.start()
        self.bases: list[str] = self._control.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        """Send a command; the answer of those that have one."""
        self._control.send((command, argument))
        return self._control.recv() if command in {"served", "faults"} else None

    def offered(self, served: Sequence[tuple[int, int]]) -> set[str]:
        """Canonical URLs of the articles in these (outlet, day) feed documents."""
        return {
            canonical_url(self.bases[a.outlet] + link)
            for outlet, day in served
            for link, a in self.plan.feed_items(outlet, day)
        }

    def close(self) -> None:
        """Stop the server process."""
        with suppress(OSError):
            self._control.send(("stop", None))
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


@contextmanager
def served(spec: SiteSpec) -> Iterator[Site]:
    """The site served until the block ends."""
    site = Site(spec)
    try:
        yield site
    finally:
        site.close()


def write_registry(site: Site, path: Path) -> Path:
    """The feed registry of the site's outlets."""
    lines = ["feeds:"]
    for index, base in enumerate(site.bases):
        kind = FEED_KINDS[index % len(FEED_KINDS)]
        lines += [f"  - name: {outlet_name(index)}", f'    url: "{base}/feed"', f"    kind: {kind}",
                  f"    outlet: Outlet {index:02d}", "    language: en"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- runs and their faults --------------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """One `newsingest run` of a day."""

    day: date
    fault: tuple[str, str] | None
    injected: bool = False
    code: int = 0
    wall_s: float = 0.0
    error: str = ""
    traceback: bool = False


# The pipeline's backends at work in a stage: deduplicate and load hold an advisory lock of
# their own; staging runs an insert of pages; extraction keeps a cursor over the pages open.
STAGE_BACKENDS = """
    SELECT a.pid FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.application_name = 'newsingest' AND (
        (%(stage)s = 'stage' AND a.state = 'active'
         AND a.query ~ '^\\s*INSERT INTO news\\.raw_pages')
        OR (%(stage)s = 'extract' AND a.query ~ '"staged_pages"')
        OR (%(stage)s IN ('deduplicate', 'load') AND EXISTS (
            SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory'
              AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint)
                  = hashtextextended('newsingest:' || %(stage)s || ':' || %(run)s, 0))))
"""


def _strike(conn: psycopg.Connection[Any], action: str, stage: str, run_key: str) -> bool:
    """Find the run at work in the stage; to terminate, end its backends in the same
    statement (a stage's transaction may last milliseconds). Whether it was found."""
    sql = STAGE_BACKENDS
    if action == "terminate":
        sql = f"SELECT pg_terminate_backend(pid, 5000) FROM ({STAGE_BACKENDS}) stage"
    return bool(conn.execute(sql, {"stage": stage, "run": run_key}).fetchall())


def terminate_pipeline(conn: psycopg.Connection[Any]) -> int:
    """pg_terminate_backend every backend of the pipeline in this database; how many."""
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'newsingest' "
        "AND pid <> pg_backend_pid()"
    ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def run_day(
    dsn: str, registry: Path, day: date, *, fault: tuple[str, str] | None, rng: random.Random,
    outlets: int, log: Path,
) -> Attempt:  # fmt: skip
    """One `newsingest run --date day` process; with a fault, strike it while its stage works."""
    attempt = Attempt(day=day, fault=fault)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")} | CLIENT
    command = [sys.executable, "-m", "newsingest.cli", "run", "--date", day.isoformat(),
               "--registry", str(registry), "--dsn", dsn]  # fmt: skip
    after_feeds = rng.randint(1, max(1, outlets - 1))
    delay = rng.uniform(0.0, 0.1)  # a kill strikes a little into the stage
    began = time.monotonic()
    lines: list[str] = []
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stderr is not None
    stderr = process.stderr

    def read() -> None:
        with log.open("a", encoding="utf-8") as out:
            for line in stderr:
                lines.append(line)
                out.write(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if fault is not None:
        action, stage = fault
        with psycopg.connect(dsn, autocommit=True) as conn:
            while process.poll() is None:
                if stage == "fetch":
                    done = sum(1 for line in list(lines) if ": feed outlet-" in line
                               and "entries=" in line)  # fmt: skip
                    found = done >= after_feeds
                else:
                    found = _strike(conn, action, stage, day.isoformat())
                if found and action == "kill":
                    time.sleep(delay)
                    with suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                if found:
                    # Then the rest of its backends (the one holding the day's lock, ...).
                    terminated = terminate_pipeline(conn) if action == "terminate" else 0
                    attempt.injected = action == "kill" or stage != "fetch" or terminated > 0
                    break
                time.sleep(POLL_S)
    attempt.code = process.wait()
    if fault is not None and fault[0] == "kill" and attempt.injected:
        # Reap what the killed group left (pool workers) before the rerun starts.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    reader.join(30)
    stderr.close()
    attempt.wall_s = time.monotonic() - began
    text = "".join(lines)
    attempt.traceback = "Traceback" in text
    errors = [line.strip() for line in lines if line.startswith("newsingest:")]
    attempt.error = errors[-1] if errors else (lines[-1].strip() if lines and attempt.code else "")
    return attempt


# -- accounting -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Accounting:
    """Every offered URL's states in the warehouse, and what does not add up."""

    urls: int = 0
    accounted: int = 0
    lost: list[str] = field(default_factory=list)
    double: dict[str, list[str]] = field(default_factory=dict)
    categories: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)  # rows no offered URL explains
    mismatches: list[str] = field(default_factory=list)  # ingest_runs against rows


def url_states(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[str, str]]]:
    """Each page URL's states, as (category, run) pairs, from the warehouse's rows alone.

    - an article row: the page the load took it from (of the run that first loaded it,
      the first page in URL order of that run with the article's canonical URL: the load's
      own rule), "loaded" for an original, "duplicate:<relation>" for a copy; and its
      canonical URL, when no run staged a page of that URL, "duplicate:canonical";
    - a page in news.url_clashes: "duplicate:<reason>";
    - a staged page the quality gates skipped: "skipped:<reason>";
    - a page whose last fetch attempt failed and that its run did not stage, unless a
      state of the same or a later run explains it: "failed:<class>".
    """
    states: dict[str, list[tuple[str, str]]] = defaultdict(list)
    rows = conn.execute(
        """
        SELECT a.canonical_url, a.first_run_key, a.dup_relation, p.url AS page
        FROM news.articles a
        LEFT JOIN LATERAL (
            SELECT s.url FROM news.staged_articles s
            WHERE s.run_key = a.first_run_key AND s.skipped_reason IS NULL
              AND s.dedup IS NOT NULL AND s.record ->> 'canonical_url' = a.canonical_url
            ORDER BY s.url LIMIT 1) p ON true
        """
    ).fetchall()
    pages = {url for (url,) in conn.execute("SELECT DISTINCT url FROM news.staged_articles")}
    for canonical, run, relation, page in rows:
        category = "loaded" if relation == "original" else f"duplicate:{relation}"
        states[page or f"(no page) {canonical}"].append((category, run))
        if page is not None and canonical not in pages:
            # Never fetched itself: runs skip the URL of a loaded article as known.
            states[canonical].append(("duplicate:canonical", run))
    for page, reason, run in conn.execute(
        "SELECT page_url, reason, run_key FROM news.url_clashes"
    ).fetchall():
        states[page].append((f"duplicate:{reason}", run))
    for page, reason, run in conn.execute(
        "SELECT url, skipped_reason, run_key FROM news.staged_articles "
        "WHERE skipped_reason IS NOT NULL"
    ).fetchall():
        states[page].append((f"skipped:{reason.split(':')[0]}", run))
    staged = {(r, u) for r, u in conn.execute("SELECT run_key, url FROM news.raw_pages")}
    last: dict[str, tuple[str, str | None]] = {}
    for url, run, error_class in conn.execute(
        "SELECT url, run_key, error_class FROM news.fetch_log WHERE target = 'page' "
        "ORDER BY attempt_id"
    ):
        last[canonical_url(url)] = (run, error_class)
    for page, (run, error_class) in last.items():
        if error_class is None or (run, page) in staged:
            continue
        if not any(other >= run for _, other in states.get(page, [])):
            states[page].append((f"failed:{error_class}", run))
    return states


def account(dsn: str, offered: set[str]) -> Accounting:
    """Account for every offered URL, and reconcile news.ingest_runs with the rows."""
    result = Accounting(urls=len(offered))
    with psycopg.connect(dsn) as conn:
        states = url_states(conn)
        result.mismatches = reconcile_runs(conn)
    for url in sorted(offered):
        found = states.get(url, [])
        if not found:
            result.lost.append(url)
        elif len(found) > 1:
            result.double[url] = [f"{c} ({r})" for c, r in found]
        else:
            result.accounted += 1
            result.categories[found[0][0]] += 1
    result.unexplained = sorted(url for url in states if url not in offered)
    return result


RUN_COUNTS = """
WITH pages AS (SELECT run_key, feed_name, count(*) AS n FROM news.raw_pages GROUP BY 1, 2),
staged AS (
    SELECT run_key, feed_name, count(*) FILTER (WHERE skipped_reason IS NULL) AS extracted,
           count(*) FILTER (WHERE skipped_reason IS NOT NULL) AS skipped
    FROM news.staged_articles GROUP BY 1, 2),
loaded AS (
    SELECT first_run_key AS run_key, feed_name,
           count(*) FILTER (WHERE dup_relation = 'original') AS new_articles,
           count(*) FILTER (WHERE dup_relation <> 'original') AS duplicates
    FROM news.articles GROUP BY 1, 2),
clashes AS (SELECT run_key, feed_name, count(*) AS n FROM news.url_clashes GROUP BY 1, 2),
-- The feed's last fetch in the run (one transaction: its rows share logged_at), whose
-- counts ingest_runs holds; of it, each URL's last attempt.
last_fetch AS (
    SELECT run_key, feed_name, max(logged_at) AS logged_at FROM news.fetch_log GROUP BY 1, 2),
last_attempts AS (
    SELECT DISTINCT ON (run_key, feed_name, target, url) run_key, feed_name, target, url,
           error_class
    FROM news.fetch_log JOIN last_fetch USING (run_key, feed_name, logged_at)
    WHERE target IN ('feed', 'page')
    ORDER BY run_key, feed_name, target, url, attempt_id DESC),
-- A page the run holds (an earlier attempt of it staged the page) is no failure of the run.
failures AS (
    SELECT run_key, feed_name, jsonb_object_agg(error_class, n) AS by_class
    FROM (SELECT run_key, feed_name, error_class, count(*) AS n FROM last_attempts t
          WHERE error_class IS NOT NULL AND error_class <> 'not_modified'
            AND NOT (target = 'page' AND EXISTS (SELECT 1 FROM news.raw_pages p
                     WHERE p.run_key = t.run_key AND p.requested_url = t.url))
          GROUP BY 1, 2, 3) f GROUP BY 1, 2)
SELECT r.run_key, r.feed_name, r.entries, r.fetched, r.not_modified, r.skipped_known,
       r.extracted, r.skipped, r.new_articles, r.duplicates, r.clashes, r.failed,
       r.feed_failed, r.failures,
       coalesce(p.n, 0) AS rows_pages, coalesce(s.extracted, 0) AS rows_extracted,
       coalesce(s.skipped, 0) AS rows_skipped, coalesce(l.new_articles, 0) AS rows_new,
       coalesce(l.duplicates, 0) AS rows_duplicates, coalesce(c.n, 0) AS rows_clashes,
       coalesce(f.by_class, '{}') AS rows_failures
FROM news.ingest_runs r
LEFT JOIN pages p USING (run_key, feed_name) LEFT JOIN staged s USING (run_key, feed_name)
LEFT JOIN loaded l USING (run_key, feed_name) LEFT JOIN clashes c USING (run_key, feed_name)
LEFT JOIN failures f USING (run_key, feed_name)
ORDER BY r.run_key, r.feed_name
"""


def reconcile_runs(conn: psycopg.Connection[Any]) -> list[str]:
    """Where the counts of news.ingest_runs disagree with the rows they count."""
    problems = []
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute(RUN_COUNTS).fetchall()
    for r in rows:
        where = f"{r['run_key']} {r['feed_name']}"
        pairs = [
            ("fetched", r["fetched"], "pages staged", r["rows_pages"]),
            ("extracted", r["extracted"], "staged articles", r["rows_extracted"]),
            ("skipped", r["skipped"], "skipped staged articles", r["rows_skipped"]),
            ("new_articles", r["new_articles"], "originals loaded", r["rows_new"]),
            ("duplicates", r["duplicates"], "copies loaded", r["rows_duplicates"]),
            ("clashes", r["clashes"], "url_clashes rows", r["rows_clashes"]),
            ("failed", r["failed"], "sum of failures", sum(r["failures"].values())),
            ("failures", r["failures"], "last failed attempts by class", r["rows_failures"]),
        ]
        if not r["feed_failed"] and not r["not_modified"]:
            fetched_or_failed = r["fetched"] + r["failed"] + r["skipped_known"]
            pairs.append(("entries", r["entries"], "fetched + failed + known", fetched_or_failed))
        problems += [
            f"{where}: {name}={value} but {what}={rows_value}"
            for name, value, what, rows_value in pairs
            if value != rows_value
        ]
    totals = conn.execute(
        "SELECT (SELECT coalesce(sum(new_articles + duplicates), 0) FROM news.ingest_runs), "
        "(SELECT count(*) FROM news.articles), "
        "(SELECT coalesce(sum(clashes), 0) FROM news.ingest_runs), "
        "(SELECT count(*) FROM news.url_clashes)"
    ).fetchone()
    assert totals is not None
    if totals[0] != totals[1]:
        problems.append(f"ingest_runs count {totals[0]} articles loaded, news.articles {totals[1]}")
    if totals[2] != totals[3]:
        problems.append(f"ingest_runs count {totals[2]} clashes, news.url_clashes {totals[3]}")
    return problems


# -- the soak -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    """What a soak did and found."""

    days: int
    attempts: list[Attempt] = field(default_factory=list)
    http_faults: dict[str, int] = field(default_factory=dict)
    accounting: Accounting = field(default_factory=Accounting)
    incomplete: list[date] = field(default_factory=list)
    offered: set[str] = field(default_factory=set)  # canonical URLs the feeds offered

    @property
    def problems(self) -> list[str]:
        """Everything that makes the soak fail, one line each."""
        found = [f"day {d} did not complete in {MAX_ATTEMPTS} attempts" for d in self.incomplete]
        found += [f"{a.day}: run printed a traceback" for a in self.attempts if a.traceback]
        found += [f"{a.day}: run failed without a fault: {a.error}" for a in self.attempts
                  if a.code and not a.injected]  # fmt: skip
        found += [f"{a.day}: the fault left the run's exit at 0" for a in self.attempts
                  if a.injected and a.fault and a.fault[0] == "kill" and a.code == 0]  # fmt: skip
        found += [f"lost: {url}" for url in self.accounting.lost]
        found += [f"double: {url}: {', '.join(s)}" for url, s in self.accounting.double.items()]
        found += self.accounting.mismatches
        orphans = [u for u in self.accounting.unexplained if u.startswith("(no page) ")]
        found += [
            f"article no staged page explains: {u.removeprefix('(no page) ')}" for u in orphans
        ]
        return found

    def line(self) -> str:
        """The last line."""
        a = self.accounting
        return (
            f"days={self.days} urls={a.urls} accounted={a.accounted} lost={len(a.lost)} "
            f"double={len(a.double)}"
        )


def day_faults(rng: random.Random, days: int) -> dict[int, tuple[str, str]]:
    """The process fault of each day's first run, drawn from rng: every kind of fault in
    every stage it strikes on a day of its own, and on the other days now and then one."""
    kinds = [("terminate", stage) for stage in TERMINATE_STAGES]
    kinds += [("kill", stage) for stage in KILL_STAGES]
    rng.shuffle(kinds)
    plan = dict(zip(rng.sample(range(days), min(days, len(kinds))), kinds, strict=False))
    for day in range(days):
        if day not in plan and rng.random() < MORE_FAULTS:
            plan[day] = rng.choice(kinds)
    return plan


def soak(
    dsn: str, *, days: int, seed: int, outlets: int, articles: int, workdir: Path,
    faults: dict[int, tuple[str, str]] | None = None, say: Callable[[str], None] = print,
) -> Report:  # fmt: skip
    """Run the days into the (migrated, empty) warehouse at dsn, then account for every URL.

    Args:
        dsn: the warehouse; its role may terminate the pipeline's backends.
        days: consecutive days from FIRST_DAY.
        seed: seeds the site, the HTTP faults and the process faults.
        outlets: outlets (hosts) of the site.
        articles: article URLs of the site over all days.
        workdir: where the registry and the runs' logs go.
        faults: day index -> (kill or terminate, stage) instead of the seeded draw.
        say: progress output.
    """
    rng = random.Random(seed)
    plan = day_faults(rng, days) if faults is None else faults
    report = Report(days=days)
    offered = report.offered
    spec = SiteSpec(articles=articles, outlets=outlets, days=days, seed=seed)
    with served(spec) as site:
        registry = write_registry(site, workdir / "registry.yaml")
        number = 0
        for index in range(days):
            day = FIRST_DAY + timedelta(days=index)
            site.ask("day", index)
            for tries in range(MAX_ATTEMPTS):
                number += 1
                site.ask("attempt", number)
                fault = plan.get(index) if tries == 0 else None
                attempt = run_day(dsn, registry, day, fault=fault, rng=rng, outlets=outlets,
                                  log=workdir / "runs.log")  # fmt: skip
                report.attempts.append(attempt)
                struck = f" {fault[0]} in {fault[1]}" if fault and attempt.injected else ""
                error = f" {attempt.error}" if attempt.code > 0 else ""
                say(f"{day} attempt {tries + 1}:{struck} exit {attempt.code} in "
                    f"{attempt.wall_s:.1f} s{error}")  # fmt: skip
                if attempt.code == 0:
                    offered.update(site.offered(site.ask("served", number)))
                    break
            else:
                report.incomplete.append(day)
        report.http_faults = site.ask("faults")
    report.accounting = account(dsn, offered)
    return report


def print_report(report: Report, say: Callable[[str], None] = print) -> None:
    """The soak's figures, its problems (if any) and the last line."""
    struck = Counter(
        f"{a.fault[0]} in {a.fault[1]}{' (the run went on)' if a.code == 0 else ''}"
        for a in report.attempts if a.fault and a.injected
    )  # fmt: skip
    missed = sum(1 for a in report.attempts if a.fault and not a.injected)
    say(f"runs: {len(report.attempts)} for {report.days} days; process faults struck: "
        f"{dict(sorted(struck.items()))}; {missed} ended before theirs struck")  # fmt: skip
    say(f"HTTP faults served: {dict(sorted(report.http_faults.items()))}")
    say(f"accounted: {dict(sorted(report.accounting.categories.items()))}")
    if report.accounting.unexplained:
        say(f"rows of URLs no completed run was offered: {len(report.accounting.unexplained)}")
    for problem in report.problems[:50]:
        say(f"PROBLEM {problem}")
    say(report.line())


@contextmanager
def warehouse_database(admin: str | None) -> Iterator[str]:
    """A freshly migrated database: on admin's server, else on a throwaway local cluster."""
    state = None
    if admin is None:
        state = Path(tempfile.mkdtemp(prefix="newsingest-soak-"))
        admin = make_conninfo(localdb.start(state, database="postgres").dsn, dbname="postgres")
    name = f"ns_soak_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dsn = make_conninfo(admin, dbname=name)
        with warehouse.connect(dsn) as conn:
            migrations.migrate(conn)
        yield dsn
    finally:
        if state is not None:
            localdb.destroy(state)
            shutil.rmtree(state, ignore_errors=True)  # destroy() leaves the folder
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--outlets", type=int, default=50)
    parser.add_argument("--articles", type=int, default=20_000, help="article URLs, all days")
    parser.add_argument("--dsn", help="a PostgreSQL server to use (default: a throwaway one)")
    args = parser.parse_args(argv)
    if args.days < 1 or args.outlets < 1 or args.articles < args.days:
        parser.error("need at least one day and outlet, and an article a day")
    if args.dsn:
        conninfo_to_dict(args.dsn)
    began = time.monotonic()
    print(f"soak: {args.days} days, {args.outlets} outlets, {args.articles} articles, "
          f"seed {args.seed}; load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="newsingest-soak-work-") as work,
        warehouse_database(args.dsn) as dsn,
    ):
        report = soak(dsn, days=args.days, seed=args.seed, outlets=args.outlets,
                      articles=args.articles, workdir=Path(work),
                      say=lambda text: print(text, flush=True))  # fmt: skip
        print(f"wall: {time.monotonic() - began:.0f} s", flush=True)
        print_report(report)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
