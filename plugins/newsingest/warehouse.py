"""The warehouse: connections and every statement the pipeline runs against PostgreSQL."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from newsingest.records import (
    Article,
    DedupResult,
    FeedCounts,
    FeedEntry,
    FeedSource,
    FetchAttempt,
    FetchedPage,
    from_json,
    to_json,
)

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
    if not dsn:
        raise WarehouseError(
            "no warehouse configured: set NEWSINGEST_DSN, the Airflow connection "
            "news_warehouse, or run `newsingest db start`"
        )
    try:
        conn = psycopg.connect(dsn, row_factory=dict_row, application_name="newsingest")
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse: {exc}".strip()) from exc
    with conn:
        yield conn


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


def staged_by_other_feeds(
    conn: Connection, run_key: str, urls: Sequence[str], feed_name: str
) -> set[str]:
    """URLs another feed already staged in this run (cross-feed duplicate entries)."""
    rows = conn.execute(
        "SELECT url FROM news.raw_pages WHERE run_key = %s AND url = ANY(%s) AND feed_name <> %s",
        (run_key, list(urls), feed_name),
    ).fetchall()
    return {r["url"] for r in rows}


def feeds_by_name(conn: Connection) -> dict[str, dict[str, Any]]:
    """The news.feeds rows keyed by feed name."""
    return {r["feed_name"]: dict(r) for r in conn.execute("SELECT * FROM news.feeds").fetchall()}


def stage_pages(conn: Connection, run_key: str, pages: Iterable[FetchedPage]) -> int:
    """Store downloaded pages (compressed) for the extraction task; returns the count."""
    rows = [
        (run_key, p.url, p.feed_name, p.requested_url, p.final_url, p.status, p.content_type,
         p.charset, p.fetched_at, Jsonb(to_json(p.entry)), gzip.compress(p.body, 6))
        for p in pages
    ]  # fmt: skip
    conn.cursor().executemany(
        """
        INSERT INTO news.raw_pages (run_key, url, feed_name, requested_url, final_url, status,
            content_type, charset, fetched_at, entry, body_gz)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (run_key, url) DO UPDATE SET feed_name = EXCLUDED.feed_name,
            requested_url = EXCLUDED.requested_url, final_url = EXCLUDED.final_url,
            status = EXCLUDED.status, content_type = EXCLUDED.content_type,
            charset = EXCLUDED.charset, fetched_at = EXCLUDED.fetched_at,
            entry = EXCLUDED.entry, body_gz = EXCLUDED.body_gz
        """,
        rows,
    )
    return len(rows)


def staged_pages(conn: Connection, run_key: str) -> Iterator[FetchedPage]:
    """Pages staged by a run, decompressed, in URL order."""
    with conn.cursor(name="staged_pages") as cursor:
        cursor.execute("SELECT * FROM news.raw_pages WHERE run_key = %s ORDER BY url", (run_key,))
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
            )


def stage_articles(conn: Connection, run_key: str, articles: Iterable[Article]) -> None:
    """Store extraction results keyed by the page URL they came from."""
    conn.cursor().executemany(
        """
        INSERT INTO news.staged_articles (run_key, url, feed_name, skipped_reason, record)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (run_key, url) DO UPDATE SET feed_name = EXCLUDED.feed_name,
            skipped_reason = EXCLUDED.skipped_reason, record = EXCLUDED.record, dedup = NULL
        """,
        [(run_key, a.url, a.feed_name, a.skipped_reason, Jsonb(to_json(a))) for a in articles],
    )


def staged_articles(conn: Connection, run_key: str) -> list[Article]:
    """Loadable (not skipped) articles extracted by a run."""
    rows = conn.execute(
        "SELECT record FROM news.staged_articles WHERE run_key = %s AND skipped_reason IS NULL "
        "ORDER BY url",
        (run_key,),
    ).fetchall()
    return [from_json(Article, r["record"]) for r in rows]


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


def save_dedup(conn: Connection, run_key: str, results: Sequence[tuple[str, DedupResult]]) -> None:
    """Attach dedup decisions to staged articles ((page url, result) pairs)."""
    conn.cursor().executemany(
        "UPDATE news.staged_articles SET dedup = %s WHERE run_key = %s AND url = %s",
        [(Jsonb(to_json(result)), run_key, url) for url, result in results],
    )


# -- load ------------------------------------------------------------------

ARTICLE_COLUMNS = (
    "canonical_url", "url", "feed_name", "outlet", "site_name", "title", "authors",
    "published_at", "published_at_source", "fetched_at", "language", "body", "description",
    "tags", "image_url", "wire_agencies", "wire_evidence", "content_hash", "extractor_version",
    "language_detected", "language_disagrees", "extraction_method", "extraction_confidence",
    "extraction_low_confidence",
)  # fmt: skip


def _article_values(article: Article) -> list[Any]:
    """Column values of an article in ARTICLE_COLUMNS order."""
    return [
        list(v) if isinstance(v, tuple) else v
        for v in (getattr(article, c) for c in ARTICLE_COLUMNS)
    ]


def load_run(conn: Connection, run_key: str) -> list[tuple[Article, DedupResult]]:
    """Upsert the run's deduplicated articles into news.articles and refresh their clusters.

    Articles already present keep their cluster assignment (so reruns change
    nothing); new originals open a cluster; duplicates join their match's.

    Args:
        conn: an open connection (one transaction).
        run_key: the run whose staged articles to load.

    Returns:
        The articles inserted by this call (not those updated), with their decisions.
    """
    rows = conn.execute(
        "SELECT record, dedup FROM news.staged_articles WHERE run_key = %s "
        "AND skipped_reason IS NULL AND dedup IS NOT NULL",
        (run_key,),
    ).fetchall()
    staged = [(from_json(Article, r["record"]), from_json(DedupResult, r["dedup"])) for r in rows]
    # Originals before the duplicates that point at them.
    staged.sort(key=lambda pair: pair[1].relation != "original")
    columns = ", ".join(ARTICLE_COLUMNS)
    placeholders = ", ".join(["%s"] * len(ARTICLE_COLUMNS))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ARTICLE_COLUMNS if c != "canonical_url")
    clusters: dict[str, int] = {}
    touched: set[int] = set()
    inserted: list[tuple[Article, DedupResult]] = []
    for article, result in staged:
        existing = conn.execute(
            "SELECT article_id, cluster_id FROM news.articles WHERE canonical_url = %s",
            (article.canonical_url,),
        ).fetchone()
        if existing:
            conn.execute(
                f"INSERT INTO news.articles ({columns}, cluster_id, first_run_key, last_run_key) "
                f"VALUES ({placeholders}, %s, %s, %s) ON CONFLICT (canonical_url) DO UPDATE SET "
                f"{updates}, last_run_key = EXCLUDED.last_run_key, updated_at = now()",
                [*_article_values(article), existing["cluster_id"], run_key, run_key],
            )
            touched.add(existing["cluster_id"])
            clusters[article.canonical_url] = existing["cluster_id"]
            continue
        cluster_id = _resolve_cluster(conn, result, clusters)
        conn.execute(
            f"INSERT INTO news.articles ({columns}, cluster_id, duplicate_of, secondary_of, "
            f"similarity, dup_relation, first_run_key, last_run_key) "
            f"VALUES ({placeholders}, %s, %s, %s, %s, %s, %s, %s)",
            [*_article_values(article), cluster_id, _article_id(conn, result.duplicate_of),
             _article_id(conn, result.secondary_of), result.similarity, result.relation,
             run_key, run_key],
        )  # fmt: skip
        clusters[article.canonical_url] = cluster_id
        touched.add(cluster_id)
        inserted.append((article, result))
    refresh_clusters(conn, touched)
    return inserted


def _article_id(conn: Connection, canonical_url: str | None) -> int | None:
    """The id of a loaded article, None when absent or not given."""
    if not canonical_url:
        return None
    row = conn.execute(
        "SELECT article_id FROM news.articles WHERE canonical_url = %s", (canonical_url,)
    ).fetchone()
    return int(row["article_id"]) if row else None


def _resolve_cluster(conn: Connection, result: DedupResult, clusters: dict[str, int]) -> int:
    """The cluster id for a dedup decision, opening a cluster for a new original."""
    key = result.cluster_key
    if key.startswith("cluster:"):
        return int(key.removeprefix("cluster:"))
    if key in clusters:
        return clusters[key]
    row = conn.execute(
        "SELECT cluster_id FROM news.articles WHERE canonical_url = %s", (key,)
    ).fetchone()
    if row:
        return int(row["cluster_id"])
    created = conn.execute(
        "INSERT INTO news.story_clusters DEFAULT VALUES RETURNING cluster_id"
    ).fetchone()
    assert created is not None
    return int(created["cluster_id"])


def refresh_clusters(conn: Connection, cluster_ids: Iterable[int]) -> None:
    """Recompute statistics and the canonical article of the given clusters."""
    ids = sorted(set(cluster_ids))
    if not ids:
        return
    conn.execute(
        """
        WITH ranked AS (
            SELECT article_id, cluster_id,
                   row_number() OVER (PARTITION BY cluster_id
                       ORDER BY (wire_agencies = '{}'), published_at NULLS LAST, article_id) AS rank
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
            first_published_at = s.first_published, outlets = coalesce(s.outlets, '{}'),
            agencies = coalesce(s.agencies, '{}'), updated_at = now()
        FROM ranked r JOIN stats s USING (cluster_id)
        WHERE c.cluster_id = r.cluster_id AND r.rank = 1
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
            updated_at = now()
        WHERE r.run_key = %s
        """,
        (run_key,),
    )


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


def report_top_stories(conn: Connection, day: date, limit: int) -> list[dict[str, Any]]:
    """Story clusters with an article published that UTC day, widest spread first."""
    return [
        dict(r)
        for r in conn.execute(
            """
            SELECT s.cluster_id, s.outlet_count, s.member_count, s.first_outlet,
                   s.first_published_at, s.agencies, s.title
            FROM news.story_spread s
            WHERE EXISTS (
                SELECT 1 FROM news.articles a WHERE a.cluster_id = s.cluster_id
                AND (coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'UTC')::date = %s)
            ORDER BY s.outlet_count DESC, s.member_count DESC, s.first_published_at, s.cluster_id
            LIMIT %s
            """,
            (day, limit),
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
    return {"raw_pages": pages, "staged_articles": staged}


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
