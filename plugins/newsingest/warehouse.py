"""The warehouse: connections and every statement the pipeline runs against PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from newsingest.records import (
    Article,
    DedupDoc,
    DedupResult,
    FeedCounts,
    FeedEntry,
    FeedSource,
    FetchAttempt,
    FetchedPage,
    dedup_site,
    from_json,
    storable,
    to_json,
)
from newsingest.timings import StageTiming

if TYPE_CHECKING:
    from newsingest.feed_health import Alert

LOGGER = logging.getLogger(__name__)

Connection = psycopg.Connection[dict[str, Any]]


class WarehouseError(RuntimeError):
    """The warehouse is unreachable or refused a statement; the message says which."""


@contextmanager
def connect(dsn: str) -> Iterator[Connection]:
    """Open a connection (dict rows), commit on success, roll back on error.

    Args:
        dsn: libpq connection string or URI.

    Yields:
        The connection.
    """
    with _open(dsn) as conn:
        yield conn


def _open(dsn: str) -> Connection:
    """A new connection (dict rows, never preparing), or WarehouseError saying why not."""
    if not dsn:
        raise WarehouseError(
            "no warehouse configured: set NEWSINGEST_DSN, the Airflow connection "
            "news_warehouse, or run `newsingest db start`"
        )
    try:
        # prepare_threshold=None: never prepare on the server. A generic plan made while a
        # table is small (a sequential scan of news.dedup_postings early in a first load)
        # was reused for every later row and made the load quadratic (see docs/adr/0006).
        return psycopg.connect(
            dsn, row_factory=dict_row, application_name="newsingest", prepare_threshold=None
        )
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse: {exc}".strip()) from exc


class RunInProgressError(WarehouseError):
    """Another process is running the same day; the message names it."""


def _lock_key(kind: str, run_key: str) -> str:
    return f"newsingest:{kind}:{run_key}"


class RunLock:
    """The advisory lock of one run, held by a connection of its own (see run_lock).

    A session's advisory locks end with it: when the server ends the lock's
    connection (a terminated backend, a restart) the run no longer holds its
    day. confirm() notices and takes the lock again before the next stage, so
    that a run never goes on unlocked beside another run of the same day.
    """

    def __init__(self, dsn: str, run_key: str) -> None:
        self.dsn = dsn
        self.run_key = run_key
        self._key = _lock_key("run", run_key)
        self._conn: Connection | None = None

    def acquire(self) -> None:
        """Take the lock on a new connection, or fail at once if another session holds it.

        Raises:
            RunInProgressError: another session holds the lock (its pid, application, start).
            WarehouseError: the warehouse cannot be reached.
        """
        conn = _open(self.dsn)
        conn.autocommit = True
        try:
            got = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS got", (self._key,)
            ).fetchone()
            if not (got and got["got"]):
                raise RunInProgressError(_holder_message(conn, self._key, self.run_key))
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def confirm(self) -> None:
        """Make sure the run still holds its lock; take it again if its connection was lost.

        Raises:
            RunInProgressError: the connection was lost and another session took the lock
                meanwhile (another run of the day is in progress).
            WarehouseError: the warehouse cannot be reached to take the lock again.
        """
        conn = self._conn
        if conn is not None and not conn.broken and not conn.closed:
            try:
                conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                cause = str(exc).strip()
        else:
            cause = "the connection is closed"
        LOGGER.warning(
            "run %s: the connection holding the run's lock was lost (%s); taking the lock again",
            self.run_key,
            cause,
        )
        self._close()
        self.acquire()

    def release(self) -> None:
        """Give the lock up (a lost connection already took it with its session)."""
        conn = self._conn
        if conn is None:
            return
        try:
            if not conn.broken and not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self._key,))
        except psycopg.OperationalError as exc:
            # The session ended while unlocking, which releases its locks just the same.
            LOGGER.debug("run %s: lock connection lost while unlocking: %s", self.run_key, exc)
        finally:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@contextmanager
def run_lock(dsn: str, run_key: str) -> Iterator[RunLock]:
    """Hold the advisory lock of a run for the block, or fail at once if another holds it.

    Two `newsingest run` of one day would otherwise race on the same staged
    rows; the second is told who holds the day instead. Call the yielded
    lock's confirm() before each stage: it takes the lock again when the
    server ended its connection.

    Raises:
        RunInProgressError: another session holds the lock (its pid, application and start).
    """
    lock = RunLock(dsn, run_key)
    lock.acquire()
    _HELD_RUNS.add(run_key)
    try:
        yield lock
    finally:
        _HELD_RUNS.discard(run_key)
        lock.release()


# Runs whose lock this process holds (run_lock): its own stages need not wait for it.
_HELD_RUNS: set[str] = set()


@contextmanager
def run_shared(dsn: str, run_key: str) -> Iterator[None]:
    """Hold the run's lock shared for a stage: wait while a whole run of the day (run_lock)
    is in progress elsewhere, and keep one from starting while the stage works.

    Stages of one DAG run share the lock with each other; `newsingest run` of the same
    day waits for none of them but refuses to start (RunInProgressError) while one works.
    """
    if run_key in _HELD_RUNS:
        yield
        return
    with connect(dsn) as conn:
        conn.autocommit = True
        key = _lock_key("run", run_key)
        conn.execute("SELECT pg_advisory_lock_shared(hashtextextended(%s, 0))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock_shared(hashtextextended(%s, 0))", (key,))


def _holder_message(conn: Connection, key: str, run_key: str) -> str:
    """One line naming the session that holds a run's lock."""
    row = conn.execute(
        """
        SELECT a.pid, a.application_name, a.client_addr, a.backend_start
        FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.granted
          AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)
        LIMIT 1
        """,
        (key,),
    ).fetchone()
    who = (
        f"backend pid {row['pid']} ({row['application_name'] or 'unnamed'}"
        f"{', from ' + str(row['client_addr']) if row['client_addr'] else ''}, connected since "
        f"{row['backend_start']:%Y-%m-%d %H:%M:%S %Z})"
        if row
        else "another session"
    )
    return (
        f"run {run_key} is already in progress in {who}: wait for it to finish, "
        "then run it again if needed (a rerun of a day is safe)"
    )


def lock_stage(conn: Connection, run_key: str, stage: str) -> None:
    """Wait for the stage of a run to be free, and hold it until the transaction ends.

    The deduplicate and load stages read, decide, then write: two of them on
    one run at once (a retried task beside a manual run) would decide twice.
    """
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_lock_key(stage, run_key),)
    )


def dsn_to_uri(dsn: str) -> str:
    """A postgresql:// URI for any libpq DSN (Airflow connections are given as URIs)."""
    params = conninfo_to_dict(dsn)
    user = quote(str(params.get("user", "")), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = str(params.get("host", "localhost"))
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{auth}{host}{port}/{quote(str(params.get('dbname', '')), safe='')}"


# -- feeds ---------------------------------------------------------------


def upsert_feeds(conn: Connection, sources: Iterable[FeedSource]) -> None:
    """Mirror registry entries into news.feeds."""
    conn.cursor().executemany(
        """
        INSERT INTO news.feeds (feed_name, url, kind, outlet, language)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (feed_name) DO UPDATE SET url = EXCLUDED.url, kind = EXCLUDED.kind,
            outlet = EXCLUDED.outlet, language = EXCLUDED.language, updated_at = now()
        """,
        [(s.name, s.url, s.kind, s.outlet, s.language) for s in sources],
    )


def feed_state(conn: Connection, feed_name: str) -> dict[str, Any]:
    """The fetch state of a feed (empty dict when never fetched)."""
    row = conn.execute(
        "SELECT * FROM news.feed_state WHERE feed_name = %s", (feed_name,)
    ).fetchone()
    return dict(row) if row else {}


def save_feed_state(
    conn: Connection,
    feed_name: str,
    *,
    run_key: str,
    success: bool,
    etag: str | None = None,
    last_modified: str | None = None,
    discovered_url: str | None = None,
    error_class: str | None = None,
    error: str | None = None,
) -> None:
    """Record a feed attempt: validators and success time, or the error streak.

    A failure adds to the streak once per run, however often that run is retried.
    """
    conn.execute(
        """
        INSERT INTO news.feed_state AS s (feed_name, etag, last_modified, discovered_url,
            last_attempt_at, last_success_at, error_streak, last_error_class, last_error,
            last_run_key)
        VALUES (%(f)s, %(etag)s, %(lm)s, %(disc)s, now(), CASE WHEN %(ok)s THEN now() END,
            CASE WHEN %(ok)s THEN 0 ELSE 1 END, %(ec)s, %(err)s, %(run)s)
        ON CONFLICT (feed_name) DO UPDATE SET
            etag = CASE WHEN %(ok)s THEN coalesce(EXCLUDED.etag, s.etag) ELSE s.etag END,
            last_modified = CASE WHEN %(ok)s THEN coalesce(EXCLUDED.last_modified,
                s.last_modified) ELSE s.last_modified END,
            discovered_url = coalesce(EXCLUDED.discovered_url, s.discovered_url),
            last_attempt_at = now(),
            last_success_at = CASE WHEN %(ok)s THEN now() ELSE s.last_success_at END,
            error_streak = CASE WHEN %(ok)s THEN 0
                WHEN s.last_run_key = %(run)s THEN greatest(s.error_streak, 1)
                ELSE s.error_streak + 1 END,
            last_run_key = %(run)s,
            last_error_class = CASE WHEN %(ok)s THEN s.last_error_class
                ELSE EXCLUDED.last_error_class END,
            last_error = CASE WHEN %(ok)s THEN s.last_error ELSE EXCLUDED.last_error END
        """,
        {"f": feed_name, "etag": etag, "lm": last_modified, "disc": discovered_url,
         "ok": success, "ec": error_class, "err": error, "run": run_key},
    )  # fmt: skip


def feed_ran(conn: Connection, run_key: str, feed_name: str) -> bool:
    """Whether this run already recorded the feed (so this is a rerun of it)."""
    row = conn.execute(
        "SELECT 1 FROM news.ingest_runs WHERE run_key = %s AND feed_name = %s",
        (run_key, feed_name),
    ).fetchone()
    return row is not None


def log_attempts(
    conn: Connection, run_key: str, feed_name: str, attempts: Sequence[FetchAttempt]
) -> None:
    """Append fetch attempts to news.fetch_log."""
    conn.cursor().executemany(
        """
        INSERT INTO news.fetch_log (run_key, feed_name, target, url, final_url, status, bytes,
            elapsed_ms, attempt, error_class, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        [
            (run_key, feed_name, a.target, a.url, a.final_url, a.status, a.bytes, a.elapsed_ms,
             a.attempt, a.error_class, a.error)
            for a in attempts
        ],
    )  # fmt: skip


# -- staging -------------------------------------------------------------


def loaded_by_other_runs(conn: Connection, urls: Sequence[str], run_key: str) -> set[str]:
    """URLs another run already loaded or judged (skipped pages are not fetched daily either).

    This run's own pages are fetched again, so that rerunning a day redoes it.
    """
    rows = conn.execute(
        """
        SELECT canonical_url AS url FROM news.articles
        WHERE canonical_url = ANY(%(urls)s) AND first_run_key <> %(run)s
        UNION
        SELECT url FROM news.staged_articles WHERE url = ANY(%(urls)s) AND run_key <> %(run)s
        """,
        {"urls": list(urls), "run": run_key},
    ).fetchall()
    return {r["url"] for r in rows}


def loaded_fetch_times(conn: Connection, urls: Sequence[str]) -> dict[str, datetime]:
    """When the loaded article at each of these canonical URLs was last fetched.

    A feed that marks refetch_updated compares these with its entries' update
    times; URLs with no loaded article are absent.
    """
    rows = conn.execute(
        "SELECT canonical_url, fetched_at FROM news.articles WHERE canonical_url = ANY(%s)",
        (list(urls),),
    ).fetchall()
    return {r["canonical_url"]: r["fetched_at"] for r in rows}


def claim_pages(conn: Connection, run_key: str, urls: Sequence[str], feed_name: str) -> set[str]:
    """Claim page URLs of a run for a feed; returns those another feed of the run holds.

    Feeds fetched at once (mapped tasks on several workers) each claim first, in
    one statement: a URL two feeds link is fetched by one of them. Commit at
    once (a transaction of its own) so that the other feeds see the claim.
    """
    conn.execute(
        "INSERT INTO news.page_claims (run_key, url, feed_name) "
        "SELECT %s, unnest(%s::text[]), %s ON CONFLICT (run_key, url) DO NOTHING",
        (run_key, sorted(set(urls)), feed_name),
    )
    rows = conn.execute(
        "SELECT url FROM news.page_claims WHERE run_key = %s AND url = ANY(%s) AND feed_name <> %s",
        (run_key, list(urls), feed_name),
    ).fetchall()
    return {r["url"] for r in rows}


def pages_of_run(conn: Connection, run_key: str, urls: Sequence[str]) -> set[str]:
    """Which of these page URLs the run has staged (an earlier attempt of it fetched them)."""
    rows = conn.execute(
        "SELECT url FROM news.raw_pages WHERE run_key = %s AND url = ANY(%s)",
        (run_key, list(urls)),
    ).fetchall()
    return {r["url"] for r in rows}


def count_feed_pages(conn: Connection, run_key: str, feed_name: str) -> int:
    """How many pages the run has staged for the feed."""
    row = conn.execute(
        "SELECT count(*) AS n FROM news.raw_pages WHERE run_key = %s AND feed_name = %s",
        (run_key, feed_name),
    ).fetchone()
    return int(row["n"]) if row else 0


def release_claims(conn: Connection, run_key: str, feed_name: str) -> int:
    """Give up the feed's claims of the run on URLs the run has no staged page of.

    Returns:
        How many claims were released.
    """
    return conn.execute(
        """
        DELETE FROM news.page_claims c WHERE c.run_key = %s AND c.feed_name = %s
          AND NOT EXISTS (SELECT 1 FROM news.raw_pages p
                          WHERE p.run_key = c.run_key AND p.url = c.url)
        """,
        (run_key, feed_name),
    ).rowcount


def feeds_by_name(conn: Connection) -> dict[str, dict[str, Any]]:
    """The news.feeds rows keyed by feed name."""
    return {r["feed_name"]: dict(r) for r in conn.execute("SELECT * FROM news.feeds").fetchall()}


def stage_pages(conn: Connection, run_key: str, pages: Iterable[FetchedPage]) -> int:
    """Store downloaded pages (compressed) for the extraction task; returns the count.

    A page this run already staged with the same bytes (a rerun of the day)
    keeps its stored body: only what the fetch itself says is updated.
    """
    pages = list(pages)
    digests = {p.url: hashlib.sha256(p.body).digest() for p in pages}
    stored = {
        r["url"]: bytes(r["body_sha256"])
        for r in conn.execute(
            "SELECT url, body_sha256 FROM news.raw_pages WHERE run_key = %s AND url = ANY(%s) "
            "AND body_sha256 IS NOT NULL",
            (run_key, list(digests)),
        ).fetchall()
    }
    changed = [p for p in pages if stored.get(p.url) != digests[p.url]]
    same = [p for p in pages if stored.get(p.url) == digests[p.url]]
    conn.cursor().executemany(
        """
        INSERT INTO news.raw_pages (run_key, url, feed_name, requested_url, final_url, status,
            content_type, charset, fetched_at, entry, body_gz, body_sha256, etag, last_modified,
            refetch)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (run_key, url) DO UPDATE SET feed_name = EXCLUDED.feed_name,
            requested_url = EXCLUDED.requested_url, final_url = EXCLUDED.final_url,
            status = EXCLUDED.status, content_type = EXCLUDED.content_type,
            charset = EXCLUDED.charset, fetched_at = EXCLUDED.fetched_at,
            entry = EXCLUDED.entry, body_gz = EXCLUDED.body_gz,
            body_sha256 = EXCLUDED.body_sha256, etag = EXCLUDED.etag,
            last_modified = EXCLUDED.last_modified, refetch = EXCLUDED.refetch
        """,
        [
            (run_key, p.url, p.feed_name, *_page_fields(p), Jsonb(to_json(p.entry)),
             # Level 1: a third of level 6's CPU for pages read once by the extract task.
             gzip.compress(p.body, 1), digests[p.url], storable(p.etag),
             storable(p.last_modified), p.refetch)
            for p in changed
        ],
    )  # fmt: skip
    conn.cursor().executemany(
        """
        UPDATE news.raw_pages SET feed_name = %s, requested_url = %s, final_url = %s,
            status = %s, content_type = %s, charset = %s, fetched_at = %s, entry = %s,
            etag = %s, last_modified = %s, refetch = %s
        WHERE run_key = %s AND url = %s
        """,
        [
            (p.feed_name, *_page_fields(p), Jsonb(to_json(p.entry)), storable(p.etag),
             storable(p.last_modified), p.refetch, run_key, p.url)
            for p in same
        ],
    )  # fmt: skip
    return len(pages)


def _page_fields(p: FetchedPage) -> tuple[Any, ...]:
    """requested_url, final_url, status, content_type, charset, fetched_at of a page row."""
    return (storable(p.requested_url), storable(p.final_url), p.status, storable(p.content_type),
            p.charset and storable(p.charset), p.fetched_at)  # fmt: skip


def staged_pages(
    conn: Connection,
    run_key: str,
    *,
    shard: int = 0,
    shards: int = 1,
    unless_extracted_by: str | None = None,
) -> Iterator[FetchedPage]:
    """Pages staged by a run, decompressed, in URL order, read through a server-side cursor.

    Args:
        conn: a connection whose transaction stays open while the pages are read.
        run_key: the run.
        shard: which part of the pages (by a hash of the URL) ...
        shards: ... of how many parts.
        unless_extracted_by: an extractor version: leave out the pages whose staged
            article that version made from the same bytes (a rerun of an unchanged day).
    """
    unchanged = (
        "AND NOT EXISTS (SELECT 1 FROM news.staged_articles s WHERE s.run_key = p.run_key "
        "AND s.url = p.url AND s.source_sha256 = p.body_sha256 "
        "AND s.extractor_version = %(version)s)"
        if unless_extracted_by
        else ""
    )
    with conn.cursor(name="staged_pages") as cursor:
        cursor.itersize = 100
        cursor.execute(
            "SELECT * FROM news.raw_pages p WHERE run_key = %(run)s "
            f"AND abs(hashtextextended(url, 0)) %% %(shards)s = %(shard)s {unchanged} ORDER BY url",
            {"run": run_key, "shard": shard, "shards": shards, "version": unless_extracted_by},
        )
        for row in cursor:
            yield FetchedPage(
                feed_name=row["feed_name"],
                url=row["url"],
                requested_url=row["requested_url"],
                final_url=row["final_url"],
                status=row["status"],
                content_type=row["content_type"],
                charset=row["charset"],
                fetched_at=row["fetched_at"],
                body=gzip.decompress(row["body_gz"]),
                entry=from_json(FeedEntry, row["entry"]),
                etag=row["etag"] or "",
                last_modified=row["last_modified"] or "",
                refetch=row["refetch"],
            )


def count_staged_pages(conn: Connection, run_key: str, *, shard: int = 0, shards: int = 1) -> int:
    """How many pages a run staged (in one shard of them)."""
    row = conn.execute(
        "SELECT count(*) AS n FROM news.raw_pages WHERE run_key = %s "
        "AND abs(hashtextextended(url, 0)) %% %s = %s",
        (run_key, shards, shard),
    ).fetchone()
    return int(row["n"]) if row else 0


def stage_articles(conn: Connection, run_key: str, articles: Iterable[tuple[str, Article]]) -> None:
    """Store extraction results ((page URL, article) pairs) keyed by their staged page.

    Each row notes the digest of the page it was made from and the extractor's
    version, so that a rerun of an unchanged day does not extract it again.
    """
    conn.cursor().executemany(
        """
        INSERT INTO news.staged_articles (run_key, url, feed_name, skipped_reason, record,
            source_sha256, extractor_version)
        VALUES (%(run)s, %(url)s, %(feed)s, %(skipped)s, %(record)s,
            (SELECT body_sha256 FROM news.raw_pages WHERE run_key = %(run)s AND url = %(url)s),
            %(version)s)
        ON CONFLICT (run_key, url) DO UPDATE SET feed_name = EXCLUDED.feed_name,
            skipped_reason = EXCLUDED.skipped_reason, record = EXCLUDED.record, dedup = NULL,
            source_sha256 = EXCLUDED.source_sha256, extractor_version = EXCLUDED.extractor_version
        """,
        [
            {"run": run_key, "url": url, "feed": a.feed_name, "skipped": a.skipped_reason,
             "record": Jsonb(to_json(a)), "version": a.extractor_version}
            for url, a in articles
        ],
    )  # fmt: skip


def staged_canonical_urls(conn: Connection, run_key: str) -> list[tuple[str, str]]:
    """(page URL, canonical URL) of a run's loadable (not skipped) articles, in page URL order."""
    rows = conn.execute(
        "SELECT url, record ->> 'canonical_url' AS canonical_url FROM news.staged_articles "
        "WHERE run_key = %s AND skipped_reason IS NULL ORDER BY url",
        (run_key,),
    )
    return [(r["url"], r["canonical_url"]) for r in rows]


def staged_dedup_docs(conn: Connection, run_key: str, pages: Collection[str]) -> Iterator[DedupDoc]:
    """What near-duplicate search needs of these staged pages' articles, streamed through
    a server-side cursor of conn's transaction (close it before conn runs anything else).

    Only those fields are read: the whole records of a large day would not fit in a
    task's memory, nor would a large day's texts read at once.
    """
    with conn.cursor(name="dedup_docs") as cursor:
        cursor.execute(
            """
            SELECT record ->> 'canonical_url' AS canonical_url, record ->> 'body' AS body,
                   record ->> 'published_at' AS published_at, record ->> 'content_hash' AS digest,
                   record ->> 'outlet' AS outlet, record ->> 'site_name' AS site_name
            FROM news.staged_articles WHERE run_key = %s AND url = ANY(%s) ORDER BY url
            """,
            (run_key, list(pages)),
        )
        while rows := cursor.fetchmany(LOAD_CHUNK):
            for r in rows:
                yield DedupDoc(
                    doc_id=r["canonical_url"], text=r["body"] or "",
                    published_at=(datetime.fromisoformat(r["published_at"])
                                  if r["published_at"] else None),
                    site=dedup_site(r["outlet"] or "", r["site_name"] or ""),
                    content_hash=r["digest"] or "",
                )  # fmt: skip


def staged_bodies(
    conn: Connection, run_key: str, pages: Mapping[str, str], doc_ids: Sequence[str]
) -> dict[str, str]:
    """The article texts of staged pages, by canonical URL.

    Args:
        conn: a connection no other thread uses.
        run_key: the run.
        pages: the page URL staged for each canonical URL.
        doc_ids: the canonical URLs wanted.
    """
    rows = conn.execute(
        "SELECT record ->> 'canonical_url' AS canonical_url, record ->> 'body' AS body "
        "FROM news.staged_articles WHERE run_key = %s AND url = ANY(%s)",
        (run_key, [pages[doc_id] for doc_id in doc_ids]),
    )
    return {r["canonical_url"]: r["body"] or "" for r in rows}


# -- deduplication state ---------------------------------------------------


def existing_urls(conn: Connection, canonical_urls: Sequence[str]) -> set[str]:
    """Which of these canonical URLs are already in news.articles."""
    rows = conn.execute(
        "SELECT canonical_url FROM news.articles WHERE canonical_url = ANY(%s)",
        (list(canonical_urls),),
    ).fetchall()
    return {r["canonical_url"] for r in rows}


def known_hashes(conn: Connection, hashes: Sequence[str]) -> dict[str, tuple[str, str]]:
    """For each content hash already loaded: (earliest article with it, its cluster key)."""
    rows = conn.execute(
        """
        SELECT DISTINCT ON (content_hash) content_hash, canonical_url, cluster_id
        FROM news.articles WHERE content_hash = ANY(%s)
        ORDER BY content_hash, published_at NULLS LAST, article_id
        """,
        (list(hashes),),
    ).fetchall()
    return {r["content_hash"]: (r["canonical_url"], f"cluster:{r['cluster_id']}") for r in rows}


def save_dedup(
    conn: Connection,
    run_key: str,
    results: Iterable[tuple[str, DedupResult]],
    *,
    undecided_only: bool = False,
) -> None:
    """Attach dedup decisions to staged articles ((page url, result) pairs).

    Args:
        conn: the deduplicate stage's connection.
        run_key: the run.
        results: (page URL, decision) pairs.
        undecided_only: leave a page that already has a decision as it is.
    """
    begin_decisions(conn)
    add_decisions(conn, results)
    apply_decisions(conn, run_key, undecided_only=undecided_only)


def begin_decisions(conn: Connection) -> None:
    """Open the transaction's table of decisions that add_decisions fills (dropped at commit)."""
    conn.execute("DROP TABLE IF EXISTS dedup_decisions")
    conn.execute("CREATE TEMP TABLE dedup_decisions (url text, dedup jsonb) ON COMMIT DROP")


def add_decisions(conn: Connection, results: Iterable[tuple[str, DedupResult]]) -> None:
    """COPY (page url, decision) pairs into the decisions table (a chunk at a time: a large
    day's decisions need not be held together)."""
    with conn.cursor().copy("COPY dedup_decisions (url, dedup) FROM STDIN") as copy:
        for url, result in results:
            copy.write_row((url, Jsonb(to_json(result))))


def apply_decisions(conn: Connection, run_key: str, *, undecided_only: bool = False) -> None:
    """Attach the decisions copied so far to the run's staged pages, in one UPDATE.

    Args:
        conn: the connection that copied them.
        run_key: the run.
        undecided_only: leave a page that already has a decision as it is.
    """
    # COPY and one UPDATE: an UPDATE per page cost about 0.3 ms of the server's time each.
    condition = " AND s.dedup IS NULL" if undecided_only else ""
    conn.execute(
        "UPDATE news.staged_articles s SET dedup = d.dedup FROM dedup_decisions d "
        f"WHERE s.run_key = %s AND s.url = d.url{condition}",
        (run_key,),
    )


# -- load ------------------------------------------------------------------

ARTICLE_COLUMNS = (
    "canonical_url", "url", "feed_name", "outlet", "site_name", "title", "authors",
    "published_at", "published_at_source", "fetched_at", "language", "body", "description",
    "tags", "image_url", "wire_agencies", "wire_evidence", "content_hash", "extractor_version",
    "language_detected", "language_disagrees", "extraction_method", "extraction_confidence",
    "extraction_low_confidence",
)  # fmt: skip

# Which member of a story cluster is its canonical article: wire-credited copies first,
# then the earliest published.
CANONICAL_ORDER = "(wire_agencies = '{}'), published_at NULLS LAST, article_id"


def _article_values(article: Article) -> list[Any]:
    """Column values of an article in ARTICLE_COLUMNS order."""
    return [
        list(v) if isinstance(v, tuple) else v
        for v in (getattr(article, c) for c in ARTICLE_COLUMNS)
    ]


@dataclass(slots=True)
class _Staged:
    """What the load decides on for one staged article, before reading its content.

    The decision comes without the founder's samples and sketch, and the article
    without its text: the load keeps these for the whole day, and reads the
    content later in chunks.
    """

    page_url: str
    canonical_url: str
    article_url: str
    feed_name: str
    result: DedupResult
    refetch: bool
    loaded_id: int | None
    loaded_url: str | None
    loaded_run: str | None
    loaded_cluster: int | None


@dataclass(slots=True)
class LoadOutcome:
    """What a load did: rows inserted, rows updated, clashes recorded."""

    inserted: int = 0
    updated: int = 0
    clashes: int = 0


# Staged articles read, COPYed and handed on at a time: memory does not grow with the day.
LOAD_CHUNK = 1000

Inserted = Callable[[Sequence[tuple[Article, DedupResult]]], None]


def load_run(conn: Connection, run_key: str, on_inserted: Inserted | None = None) -> LoadOutcome:
    """Load the run's deduplicated articles into news.articles and refresh their clusters.

    Set-based: one read of the staged decisions joined with the articles
    holding their canonical URLs, ids allocated in one call, the rows' content
    streamed in chunks into a temporary table, then inserted and updated by
    one statement each, so the cost per article does not grow with the
    warehouse and memory does not grow with the article texts of the day.

    Nothing another run loaded changes unless the page is that story fetched
    again on purpose (raw_pages.refetch): a page whose canonical URL an
    earlier run loaded, or that another page of this run took first (in page
    URL order), is recorded in news.url_clashes instead. A rerun of the run
    updates its own rows, which keep their cluster, so it changes nothing.

    Args:
        conn: an open connection (one transaction).
        run_key: the run whose staged articles to load.
        on_inserted: called with each chunk of new articles and their full decisions
            (samples and sketch included), in page URL order, in the load's transaction.

    Returns:
        How many rows were inserted, updated and refused.
    """
    staged = _staged_for_load(conn, run_key)
    outcome = LoadOutcome()
    inserts: list[_Staged] = []
    updates: list[_Staged] = []
    clashes: list[tuple[str, str, str, int | None, str, str]] = []
    claimed: dict[str, str] = {}  # canonical URL -> page URL of this run that took it
    for item in staged:
        canonical = item.canonical_url
        if canonical in claimed:
            clashes.append((item.page_url, item.feed_name, canonical, item.loaded_id,
                            claimed[canonical], "same_run"))  # fmt: skip
            continue
        claimed[canonical] = item.page_url
        if item.loaded_id is None:
            inserts.append(item)
        elif _may_update(item, run_key):
            updates.append(item)
        else:
            clashes.append((item.page_url, item.feed_name, canonical, item.loaded_id, "",
                            "loaded_earlier"))  # fmt: skip
    ids = _allocate(conn, "news.articles", "article_id", len(inserts))
    by_canonical = {i.canonical_url: (i.loaded_id, i.loaded_cluster) for i in updates}
    by_canonical.update(
        (i.canonical_url, (new_id, None)) for i, new_id in zip(inserts, ids, strict=True)
    )
    clusters = _cluster_ids(conn, inserts, by_canonical)
    references = _article_ids(
        conn,
        {ref for i in inserts for ref in (i.result.duplicate_of, i.result.secondary_of) if ref}
        - by_canonical.keys(),
    )
    references.update({url: pair[0] for url, pair in by_canonical.items() if pair[0] is not None})
    # The columns of each page's row besides its content, by page URL.
    decided: dict[str, tuple[Any, ...]] = {
        i.page_url: (new_id, clusters[i.canonical_url],
                     references.get(i.result.duplicate_of or ""),
                     references.get(i.result.secondary_of or ""), i.result.similarity,
                     i.result.relation, True)
        for i, new_id in zip(inserts, ids, strict=True)
    }  # fmt: skip
    decided.update(
        (i.page_url, (i.loaded_id, i.loaded_cluster, None, None, 1.0, "original", False))
        for i in updates
    )
    del staged, claimed
    _create_load_table(conn)
    for chunk in _staged_content(conn, run_key, decided.keys()):
        _copy_load_rows(conn, [(decided[url], article) for url, article, _ in chunk])
        if on_inserted is not None:
            new = [(article, result) for url, article, result in chunk if decided[url][-1]]
            if new:
                on_inserted(new)
    conn.execute("ANALYZE load_articles")
    columns = ", ".join(ARTICLE_COLUMNS)
    # Each new row is inserted knowing whether it is its cluster's canonical article:
    # setting the flag afterwards would rewrite every new row and recompute its
    # full-text vector (a stored generated column), about as costly as the insert.
    conn.execute(
        f"""
        WITH canonical AS (
            SELECT DISTINCT ON (cluster_id) cluster_id, article_id FROM (
                SELECT cluster_id, article_id, wire_agencies, published_at FROM load_articles
                UNION ALL
                SELECT a.cluster_id, a.article_id, a.wire_agencies, a.published_at
                FROM news.articles a
                WHERE a.cluster_id IN (SELECT cluster_id FROM load_articles WHERE is_new)
                  AND a.article_id NOT IN (SELECT article_id FROM load_articles)
            ) AS members ORDER BY cluster_id, {CANONICAL_ORDER}
        )
        INSERT INTO news.articles (article_id, {columns}, cluster_id, duplicate_of,
            secondary_of, similarity, dup_relation, is_canonical, first_run_key, last_run_key)
        OVERRIDING SYSTEM VALUE
        SELECT t.article_id, {", ".join(f"t.{c}" for c in ARTICLE_COLUMNS)}, t.cluster_id,
            t.duplicate_of, t.secondary_of, t.similarity, t.dup_relation,
            t.article_id = c.article_id, %(run)s, %(run)s
        FROM load_articles t JOIN canonical c USING (cluster_id) WHERE t.is_new
        """,
        {"run": run_key},
    )
    if updates:
        # Decisions stay as first loaded: only the content of a story fetched again changes,
        # and a row whose content did not change (a rerun of an unchanged day) is left as it is.
        assignments = ", ".join(f"{c} = t.{c}" for c in ARTICLE_COLUMNS if c != "canonical_url")
        content = [c for c in ARTICLE_COLUMNS if c not in {"canonical_url", "fetched_at"}]
        outcome.updated = conn.execute(
            f"UPDATE news.articles a SET {assignments}, last_run_key = %(run)s, "
            "updated_at = now() FROM load_articles t "
            "WHERE a.article_id = t.article_id AND NOT t.is_new "
            f"AND ({', '.join(f'a.{c}' for c in content)}, a.last_run_key) IS DISTINCT FROM "
            f"({', '.join(f't.{c}' for c in content)}, %(run)s)",
            {"run": run_key},
        ).rowcount
    _record_clashes(conn, run_key, clashes)
    outcome.clashes = len(clashes)
    outcome.inserted = len(inserts)
    refresh_clusters(
        conn, {*clusters.values(), *(i.loaded_cluster for i in updates if i.loaded_cluster)}
    )
    return outcome


def _staged_for_load(conn: Connection, run_key: str) -> list[_Staged]:
    """The run's loadable staged decisions in page URL order, with what holds their
    canonical URL (the articles' texts and the founders' fingerprints left out)."""
    rows = conn.execute(
        """
        SELECT s.url AS page_url, s.record ->> 'canonical_url' AS canonical_url,
               s.record ->> 'url' AS article_url, s.record ->> 'feed_name' AS feed_name,
               s.dedup - 'samples' - 'sketch' AS dedup, coalesce(p.refetch, false) AS refetch,
               a.article_id, a.url AS loaded_url, a.first_run_key, a.cluster_id
        FROM news.staged_articles s
        LEFT JOIN news.raw_pages p ON p.run_key = s.run_key AND p.url = s.url
        LEFT JOIN news.articles a ON a.canonical_url = s.record ->> 'canonical_url'
        WHERE s.run_key = %s AND s.skipped_reason IS NULL AND s.dedup IS NOT NULL
        ORDER BY s.url
        """,
        (run_key,),
    )
    return [
        _Staged(
            page_url=r["page_url"],
            canonical_url=r["canonical_url"],
            article_url=r["article_url"],
            feed_name=r["feed_name"],
            result=from_json(DedupResult, r["dedup"]),
            refetch=r["refetch"],
            loaded_id=r["article_id"],
            loaded_url=r["loaded_url"],
            loaded_run=r["first_run_key"],
            loaded_cluster=r["cluster_id"],
        )
        for r in rows
    ]


def _staged_content(
    conn: Connection, run_key: str, pages: Collection[str]
) -> Iterator[list[tuple[str, Article, DedupResult]]]:
    """The articles and full decisions of these staged pages, in chunks of LOAD_CHUNK
    (page URL order), through a server-side cursor of the load's transaction."""
    with conn.cursor(name="load_content") as cursor:
        cursor.execute(
            "SELECT url, record, dedup FROM news.staged_articles WHERE run_key = %s "
            "AND skipped_reason IS NULL AND dedup IS NOT NULL ORDER BY url",
            (run_key,),
        )
        while rows := cursor.fetchmany(LOAD_CHUNK):
            yield [
                (r["url"], from_json(Article, r["record"]), from_json(DedupResult, r["dedup"]))
                for r in rows
                if r["url"] in pages  # the pages not refused as clashes
            ]


def _may_update(item: _Staged, run_key: str) -> bool:
    """Whether a staged page may replace the loaded article holding its canonical URL.

    Only the same story may: this run's own page again (a rerun), or a page
    its feed says was updated and that was fetched again for that reason.
    """
    same_story = item.loaded_url == item.article_url or item.page_url == item.canonical_url
    return same_story and (item.loaded_run == run_key or item.refetch)


def _allocate(conn: Connection, table: str, column: str, count: int) -> list[int]:
    """count new values of an identity column, in one round trip."""
    if not count:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) AS id FROM generate_series(1, %s)",
        (table, column, count),
    ).fetchall()
    return [int(r["id"]) for r in rows]


def _cluster_ids(
    conn: Connection, inserts: Sequence[_Staged], batch: dict[str, tuple[int | None, int | None]]
) -> dict[str, int]:
    """The cluster of each new article, opening clusters for new stories in one statement.

    A decision names a stored cluster ("cluster:<id>"), or the canonical URL
    of its founder: an article of this load (followed to its own cluster), a
    loaded article, or the article itself (a new story).
    """
    keys = {i.canonical_url: i.result.cluster_key for i in inserts}
    founders = {url: _founder_key(url, keys) for url in keys}
    loaded = _article_clusters(
        conn,
        {k for k in founders.values() if not k.startswith("cluster:") and k not in keys}
        - batch.keys(),
    )
    loaded.update({url: c for url, (_, c) in batch.items() if c is not None})
    new_stories = sorted(
        {k for k in founders.values() if not k.startswith("cluster:") and k not in loaded}
    )
    opened = dict(
        zip(
            new_stories,
            _allocate(conn, "news.story_clusters", "cluster_id", len(new_stories)),
            strict=True,
        )
    )
    if opened:
        conn.execute(
            "INSERT INTO news.story_clusters (cluster_id) OVERRIDING SYSTEM VALUE "
            "SELECT unnest(%s::bigint[])",
            (list(opened.values()),),
        )
    return {
        url: int(key.removeprefix("cluster:"))
        if key.startswith("cluster:")
        else loaded.get(key) or opened[key]
        for url, key in founders.items()
    }


def _founder_key(url: str, keys: dict[str, str]) -> str:
    """Follow a copy of a copy within one load to its founder's cluster key."""
    key, seen = keys[url], {url}
    while key in keys and key not in seen:
        seen.add(key)
        key = keys[key]
    return key


def _article_clusters(conn: Connection, canonical_urls: set[str]) -> dict[str, int]:
    """Cluster of each loaded article among these canonical URLs."""
    if not canonical_urls:
        return {}
    rows = conn.execute(
        "SELECT canonical_url, cluster_id FROM news.articles WHERE canonical_url = ANY(%s)",
        (sorted(canonical_urls),),
    ).fetchall()
    return {r["canonical_url"]: int(r["cluster_id"]) for r in rows}


def _article_ids(conn: Connection, canonical_urls: set[str]) -> dict[str, int]:
    """Id of each loaded article among these canonical URLs."""
    if not canonical_urls:
        return {}
    rows = conn.execute(
        "SELECT canonical_url, article_id FROM news.articles WHERE canonical_url = ANY(%s)",
        (sorted(canonical_urls),),
    ).fetchall()
    return {r["canonical_url"]: int(r["article_id"]) for r in rows}


_LOAD_COLUMNS = (
    f"article_id, {', '.join(ARTICLE_COLUMNS)}, cluster_id, duplicate_of, secondary_of, "
    "similarity, dup_relation"
)


def _create_load_table(conn: Connection) -> None:
    """A temporary table shaped like news.articles' columns, for the rows to load."""
    conn.execute("DROP TABLE IF EXISTS load_articles")
    conn.execute(
        f"CREATE TEMP TABLE load_articles ON COMMIT DROP AS SELECT {_LOAD_COLUMNS}, "
        "true AS is_new FROM news.articles WITH NO DATA"
    )


def _copy_load_rows(conn: Connection, rows: Sequence[tuple[tuple[Any, ...], Article]]) -> None:
    """COPY rows to load into load_articles.

    Each is (article id, cluster id, duplicate of, secondary of, similarity,
    relation, is new) with the article.
    """
    with conn.cursor().copy(f"COPY load_articles ({_LOAD_COLUMNS}, is_new) FROM STDIN") as copy:
        for (article_id, *decision, is_new), article in rows:
            copy.write_row((article_id, *_article_values(article), *decision, is_new))


def _record_clashes(
    conn: Connection, run_key: str, clashes: Sequence[tuple[str, str, str, int | None, str, str]]
) -> None:
    """Replace the run's recorded URL clashes with these."""
    conn.execute("DELETE FROM news.url_clashes WHERE run_key = %s", (run_key,))
    if clashes:
        conn.cursor().executemany(
            "INSERT INTO news.url_clashes (run_key, page_url, feed_name, canonical_url, "
            "article_id, other_page_url, reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(run_key, *clash) for clash in clashes],
        )
    for page_url, _, canonical, _, other, reason in clashes:
        LOGGER.warning(
            "not loaded: page %s has canonical URL %s, %s", page_url, canonical,
            f"taken by {other} in this run" if reason == "same_run" else "loaded by an earlier run",
        )  # fmt: skip


def refresh_clusters(conn: Connection, cluster_ids: Iterable[int]) -> None:
    """Recompute statistics and the canonical article of the given clusters."""
    ids = sorted(set(cluster_ids))
    if not ids:
        return
    conn.execute(
        f"""
        WITH ranked AS (
            SELECT article_id, cluster_id,
                   row_number() OVER (PARTITION BY cluster_id ORDER BY {CANONICAL_ORDER}) AS rank
            FROM news.articles WHERE cluster_id = ANY(%(ids)s)
        ), stats AS (
            SELECT a.cluster_id, count(*) AS members, min(a.published_at) AS first_published,
                   array_agg(DISTINCT a.outlet ORDER BY a.outlet)
                       FILTER (WHERE a.outlet <> '') AS outlets,
                   (SELECT array_agg(DISTINCT g ORDER BY g) FROM news.articles b,
                        unnest(b.wire_agencies) g WHERE b.cluster_id = a.cluster_id) AS agencies
            FROM news.articles a WHERE a.cluster_id = ANY(%(ids)s) GROUP BY a.cluster_id
        )
        UPDATE news.story_clusters c SET
            canonical_article_id = r.article_id, member_count = s.members,
            first_published_at = s.first_published, outlets = coalesce(s.outlets, '{{}}'),
            agencies = coalesce(s.agencies, '{{}}'), updated_at = now()
        FROM ranked r JOIN stats s USING (cluster_id)
        WHERE c.cluster_id = r.cluster_id AND r.rank = 1
          AND (c.canonical_article_id, c.member_count, c.first_published_at, c.outlets,
               c.agencies) IS DISTINCT FROM (r.article_id, s.members, s.first_published,
               coalesce(s.outlets, '{{}}'), coalesce(s.agencies, '{{}}'))
        """,
        {"ids": ids},
    )
    conn.execute(
        """
        UPDATE news.articles a SET is_canonical = (a.article_id = c.canonical_article_id)
        FROM news.story_clusters c
        WHERE a.cluster_id = c.cluster_id AND c.cluster_id = ANY(%s)
          AND a.is_canonical IS DISTINCT FROM (a.article_id = c.canonical_article_id)
        """,
        (ids,),
    )


# -- run records -------------------------------------------------------------


def record_fetch_counts(
    conn: Connection, run_key: str, logical_date: Any, dag_run_id: str, counts: FeedCounts
) -> None:
    """Write the fetch stage's counts for one feed of a run (replacing a rerun's)."""
    conn.execute(
        """
        INSERT INTO news.ingest_runs (run_key, feed_name, logical_date, dag_run_id, entries,
            fetched, not_modified, skipped_known, failed, feed_failed, failures)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (run_key, feed_name) DO UPDATE SET dag_run_id = EXCLUDED.dag_run_id,
            entries = EXCLUDED.entries, fetched = EXCLUDED.fetched,
            not_modified = EXCLUDED.not_modified, skipped_known = EXCLUDED.skipped_known,
            failed = EXCLUDED.failed, feed_failed = EXCLUDED.feed_failed,
            failures = EXCLUDED.failures, updated_at = now()
        """,
        (run_key, counts.feed_name, logical_date, dag_run_id, counts.entries, counts.fetched,
         counts.not_modified, counts.skipped_known, counts.failed, counts.feed_failed,
         Jsonb(counts.failures)),
    )  # fmt: skip


def record_stage_counts(conn: Connection, run_key: str) -> None:
    """Recompute extracted/skipped/new/duplicates per feed of a run from staged and loaded rows."""
    conn.execute(
        """
        UPDATE news.ingest_runs r SET
            extracted = (SELECT count(*) FROM news.staged_articles s WHERE s.run_key = r.run_key
                         AND s.feed_name = r.feed_name AND s.skipped_reason IS NULL),
            skipped = (SELECT count(*) FROM news.staged_articles s WHERE s.run_key = r.run_key
                       AND s.feed_name = r.feed_name AND s.skipped_reason IS NOT NULL),
            new_articles = (SELECT count(*) FROM news.articles a WHERE a.first_run_key = r.run_key
                            AND a.feed_name = r.feed_name AND a.dup_relation = 'original'),
            duplicates = (SELECT count(*) FROM news.articles a WHERE a.first_run_key = r.run_key
                          AND a.feed_name = r.feed_name AND a.dup_relation <> 'original'),
            clashes = (SELECT count(*) FROM news.url_clashes c WHERE c.run_key = r.run_key
                       AND c.feed_name = r.feed_name),
            updated_at = now()
        WHERE r.run_key = %s
        """,
        (run_key,),
    )


def record_timing(conn: Connection, run_key: str, timing: StageTiming) -> None:
    """Record (or replace, for a rerun) how long one stage or part of a run took."""
    conn.execute(
        """
        INSERT INTO news.stage_timings (run_key, stage, part, started_at, finished_at, wall_s,
            cpu_s, items, worker)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (run_key, stage, part) DO UPDATE SET started_at = EXCLUDED.started_at,
            finished_at = EXCLUDED.finished_at, wall_s = EXCLUDED.wall_s, cpu_s = EXCLUDED.cpu_s,
            items = EXCLUDED.items, worker = EXCLUDED.worker
        """,
        (run_key, timing.stage, timing.part, timing.started_at, timing.finished_at,
         timing.wall_s, timing.cpu_s, timing.items, timing.worker),
    )  # fmt: skip


def report_stage_timings(conn: Connection, day: date) -> list[dict[str, Any]]:
    """Per run of a logical date and stage: parts, items, wall (all parts, slowest), CPU."""
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT t.run_key, t.stage, count(*) AS parts, sum(t.items) AS items,
                   sum(t.wall_s) AS wall_s, max(t.wall_s) AS slowest_s, sum(t.cpu_s) AS cpu_s
            FROM news.stage_timings t
            WHERE t.run_key IN (SELECT run_key FROM news.ingest_runs WHERE logical_date = %s)
            GROUP BY t.run_key, t.stage ORDER BY t.run_key, min(t.started_at)
            """,
            (day,),
        ).fetchall()
    ]


def run_checks(conn: Connection, run_key: str, future_skew_hours: int) -> dict[str, int]:
    """Figures the run's quality checks compare with their bounds."""
    row = conn.execute(
        """
        SELECT
          (SELECT count(*) FROM news.ingest_runs WHERE run_key = %(run)s) AS feeds,
          (SELECT count(*) FROM news.ingest_runs WHERE run_key = %(run)s AND feed_failed)
              AS failed_feeds,
          (SELECT count(*) FROM news.articles WHERE last_run_key = %(run)s
              AND btrim(body) = '') AS empty_bodies,
          (SELECT count(*) FROM news.articles WHERE last_run_key = %(run)s
              AND published_at > fetched_at + make_interval(hours => %(skew)s)) AS future_dates,
          (SELECT count(*) FROM news.articles a WHERE last_run_key = %(run)s
              AND NOT EXISTS (SELECT 1 FROM news.story_clusters c
                              WHERE c.cluster_id = a.cluster_id)) AS unclustered,
          (SELECT count(*) FROM news.articles WHERE first_run_key = %(run)s) AS new_articles,
          (SELECT count(*) FROM news.articles WHERE first_run_key = %(run)s
              AND dup_relation <> 'original') AS new_duplicates
        """,
        {"run": run_key, "skew": future_skew_hours},
    ).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def run_rows(conn: Connection, run_key: str) -> list[dict[str, Any]]:
    """The news.ingest_runs rows of a run, by feed name."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM news.ingest_runs WHERE run_key = %s ORDER BY feed_name", (run_key,)
        ).fetchall()
    ]


def run_totals(conn: Connection, run_key: str) -> dict[str, Any]:
    """Warehouse-wide figures for a run's summary: clusters touched and failure classes."""
    row = conn.execute(
        """
        SELECT count(DISTINCT cluster_id) AS clusters,
               count(*) FILTER (WHERE dup_relation <> 'original') AS duplicates
        FROM news.articles WHERE first_run_key = %s
        """,
        (run_key,),
    ).fetchone()
    failures = conn.execute(
        """
        SELECT error_class, count(*) AS n FROM news.fetch_log
        WHERE run_key = %s AND error_class IS NOT NULL AND error_class <> 'not_modified'
          -- a missing robots.txt (4xx) means "no rules", not a failure
          AND NOT (target = 'robots' AND error_class = 'http_4xx')
          AND attempt_id IN (SELECT max(attempt_id) FROM news.fetch_log WHERE run_key = %s
                             GROUP BY target, url)
        GROUP BY error_class ORDER BY error_class
        """,
        (run_key, run_key),
    ).fetchall()
    totals = dict(row) if row else {}
    totals["failures"] = {r["error_class"]: r["n"] for r in failures}
    return totals


# -- reporting and maintenance ----------------------------------------------------


def report_feeds(conn: Connection, day: date) -> list[dict[str, Any]]:
    """Per feed counts of the runs of a logical date (news.daily_feed_stats)."""
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT feed_name, outlet, sum(fetched) AS fetched, sum(new_articles) AS new,
                   sum(duplicates) AS duplicates, sum(failed) AS failed,
                   bool_or(feed_failed) AS feed_failed
            FROM news.daily_feed_stats WHERE logical_date = %s
            GROUP BY feed_name, outlet ORDER BY feed_name
            """,
            (day,),
        ).fetchall()
    ]


def report_top_stories(
    conn: Connection, day: date, limit: int, *, earlier: bool = False
) -> list[dict[str, Any]]:
    """Story clusters with an article published that UTC day, widest spread first.

    Args:
        conn: warehouse connection.
        day: the UTC day.
        limit: how many clusters.
        earlier: False for the stories first published that day, True for those first
            published before it that gained articles that day.

    Returns:
        Rows of news.story_spread with day_articles, the cluster's articles of that day.
    """
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT s.cluster_id, s.outlet_count, s.member_count, s.first_outlet,
                   s.first_published_at, s.agencies, s.title, d.day_articles
            FROM news.story_spread s
            JOIN (SELECT a.cluster_id, count(*) AS day_articles FROM news.articles a
                  WHERE (coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'UTC')::date = %s
                  GROUP BY a.cluster_id) d ON d.cluster_id = s.cluster_id
            WHERE coalesce(s.first_day < %s, false) = %s
            ORDER BY s.outlet_count DESC, s.member_count DESC, s.first_published_at, s.cluster_id
            LIMIT %s
            """,
            (day, day, earlier, limit),
        ).fetchall()
    ]


def report_copy_outlets(conn: Connection, day: date, min_share: float) -> list[dict[str, Any]]:
    """Outlets whose articles that day are mostly copies of stories first published elsewhere."""
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT outlet, articles, rewritten_copies, exact_copies, attributed_copies, copy_share
            FROM news.daily_outlet_copies WHERE day = %s AND copy_share >= %s
            ORDER BY copy_share DESC, articles DESC, outlet
            """,
            (day, min_share),
        ).fetchall()
    ]


def feed_health(conn: Connection, day: date, weeks: int) -> list[dict[str, Any]]:
    """Each feed with a dated run on day, against its own last weeks (news.feed_health_at)."""
    return [
        dict(r)
        for r in conn.execute("SELECT * FROM news.feed_health_at(%s, %s)", (day, weeks)).fetchall()
    ]


def record_alerts(conn: Connection, run_key: str, day: date, alerts: Sequence[Alert]) -> None:
    """Replace the run's rows in news.alerts with alerts (feed_name, kind, message, figures)."""
    conn.execute("DELETE FROM news.alerts WHERE run_key = %s", (run_key,))
    for alert in alerts:
        conn.execute(
            """
            INSERT INTO news.alerts (run_key, feed_name, kind, day, message, figures)
            VALUES (%s, %s, %s, %s, %s, %s)
            """,
            (run_key, alert.feed_name, alert.kind, day, alert.message, Jsonb(alert.figures)),
        )


def report_alerts(conn: Connection, day: date) -> list[dict[str, Any]]:
    """The alerts of the runs of a logical date, by feed."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT feed_name, kind, message FROM news.alerts WHERE day = %s "
            "ORDER BY feed_name, kind",
            (day,),
        ).fetchall()
    ]


def report_low_confidence(conn: Connection, day: date) -> list[dict[str, Any]]:
    """Outlets with low-confidence extractions that UTC day (news.daily_outlet_extraction)."""
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT outlet, articles, low_confidence, mean_confidence, language_disagreements
            FROM news.daily_outlet_extraction WHERE day = %s AND low_confidence > 0
            ORDER BY low_confidence DESC, articles DESC, outlet
            """,
            (day,),
        ).fetchall()
    ]


def prune_staging(conn: Connection, before: datetime) -> dict[str, int]:
    """Delete staged pages and extraction records older than a cut-off.

    Returns:
        Rows deleted per table.
    """
    pages = conn.execute("DELETE FROM news.raw_pages WHERE fetched_at < %s", (before,)).rowcount
    staged = conn.execute(
        """
        DELETE FROM news.staged_articles s WHERE NOT EXISTS (
            SELECT 1 FROM news.raw_pages p WHERE p.run_key = s.run_key AND p.url = s.url)
        """
    ).rowcount
    claims = conn.execute("DELETE FROM news.page_claims WHERE claimed_at < %s", (before,)).rowcount
    return {"raw_pages": pages, "staged_articles": staged, "page_claims": claims}


def refresh_all_clusters(conn: Connection) -> int:
    """Recompute the statistics of every story cluster; returns how many."""
    ids = [r["cluster_id"] for r in conn.execute("SELECT cluster_id FROM news.story_clusters")]
    refresh_clusters(conn, ids)
    return len(ids)


BIG_TABLES = ("articles", "story_clusters", "fetch_log", "raw_pages", "staged_articles",
              "dedup_postings", "dedup_founders")  # fmt: skip


def vacuum_analyze(dsn: str) -> list[str]:
    """VACUUM (ANALYZE) the big tables (outside a transaction, as PostgreSQL requires)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in BIG_TABLES:
            conn.execute(f"VACUUM (ANALYZE) news.{table}")
    return [f"news.{t}" for t in BIG_TABLES]


def schema_comments(conn: Connection) -> list[dict[str, Any]]:
    """Tables and views of schema news with their columns, types and comments, by name."""
    rows = conn.execute(
        """
        SELECT c.relname AS name, c.relkind AS kind,
               obj_description(c.oid, 'pg_class') AS comment,
               a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS column_type,
               col_description(c.oid, a.attnum) AS column_comment
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'news'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'v')
        ORDER BY c.relname, a.attnum
        """
    ).fetchall()
    relations: dict[str, dict[str, Any]] = {}
    for row in rows:
        relation = relations.setdefault(
            row["name"],
            {"name": row["name"], "kind": row["kind"], "comment": row["comment"], "columns": []},
        )
        relation["columns"].append(
            {"name": row["column_name"], "type": row["column_type"],
             "comment": row["column_comment"]}
        )  # fmt: skip
    return list(relations.values())
