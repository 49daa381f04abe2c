"""The pipeline stages wired to the warehouse: what each DAG task and `newsingest run` call."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from newsingest import parallel, warehouse
from newsingest.addresses import redacted
from newsingest.charsets import decode_html
from newsingest.dedup import assign, batch, fingerprints, store, verify
from newsingest.downloads import Fetcher, FetchOutcome
from newsingest.extraction import EXTRACTOR_VERSION, extract_page
from newsingest.feeds import FeedParseError, ParsedFeed, discover_feed_urls, parse_feed
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
)
from newsingest.registry import load_registry
from newsingest.report import table
from newsingest.settings import Settings
from newsingest.timings import Stopwatch
from newsingest.urls import MAX_URL_BYTES, canonical_url, too_long

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CHILD_SITEMAPS = 20


class CheckError(RuntimeError):
    """A data-quality check of the run failed; the message names the numbers."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Identity of one ingest run: its logical date, or the DAG run id when it has none.

    A dated run takes feed entries published up to the end of its day (and
    undated ones), so a backfill of past days loads what daily runs did.
    """

    run_key: str
    logical_date: date | None
    dag_run_id: str

    @classmethod
    def make(cls, logical_date: date | None, dag_run_id: str) -> RunInfo:
        """Build the run identity; runs of the same logical date share a key (idempotence)."""
        key = logical_date.isoformat() if logical_date else dag_run_id
        return cls(run_key=key, logical_date=logical_date, dag_run_id=dag_run_id)

    @property
    def cutoff(self) -> datetime | None:
        """Entries published at or after this instant belong to later runs."""
        if self.logical_date is None:
            return None
        return datetime.combine(self.logical_date + timedelta(days=1), time.min, tzinfo=UTC)


def prepare(dsn: str, registry: Path, feeds: Sequence[str] | None = None) -> list[FeedSource]:
    """Read the registry, mirror it into news.feeds, and return the feeds to fetch.

    Args:
        dsn: warehouse connection string.
        registry: the feed registry file.
        feeds: optional subset of feed names.

    Returns:
        The feed sources, in registry order.
    """
    sources = load_registry(registry)
    if feeds:
        unknown = set(feeds) - {s.name for s in sources}
        if unknown:
            raise ValueError(f"feeds not in {registry}: {sorted(unknown)}")
        sources = [s for s in sources if s.name in set(feeds)]
    with warehouse.connect(dsn) as conn:
        warehouse.upsert_feeds(conn, sources)
    LOGGER.info("registry %s: %d feeds", registry, len(sources))
    return sources


def _conditional_headers(state: dict[str, Any], *, rerun: bool) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the stored validators.

    None for a rerun of a day: it refetches that day's own pages, where a 304
    would skip them and zero the day's counts.
    """
    if rerun:
        return {}
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def _fetch_document(
    fetcher: Fetcher, source: FeedSource, headers: dict[str, str], state: dict[str, Any],
    attempts: list[FetchAttempt],
) -> tuple[FetchOutcome, ParsedFeed | None, str | None]:  # fmt: skip
    """Fetch and parse the feed, discovering it from a homepage when needed.

    Returns:
        (outcome, parsed feed or None on 304, discovered feed URL or None).
    """
    url = state.get("discovered_url") or source.url
    outcome = fetcher.fetch(url, target="feed", headers=headers)
    attempts.extend(outcome.attempts)
    response = outcome.response
    if response is None or response.status == 304:
        return outcome, None, None
    is_html = "html" in response.content_type or response.body[:512].lstrip().lower().startswith(
        (b"<!doctype html", b"<html")
    )
    if not is_html:
        parsed = parse_feed(
            response.body,
            source=source,
            base_url=response.final_url,
            content_type=response.headers.get("Content-Type", ""),
        )
        return outcome, parsed, None
    html, _ = decode_html(response.body, response.charset)
    for candidate in discover_feed_urls(html, response.final_url):
        found = fetcher.fetch(candidate, target="feed")
        attempts.extend(found.attempts)
        if found.response is None or "html" in found.response.content_type:
            continue
        try:
            parsed = parse_feed(found.response.body, source=source, base_url=candidate)
        except FeedParseError:
            continue
        LOGGER.info("feed %s: discovered %s on %s", source.name, candidate, url)
        return found, parsed, candidate
    raise FeedParseError(f"{url} is an HTML page and no feed was found on it")


def _select(
    entries: list[FeedEntry], source: FeedSource, settings: Settings, cutoff: datetime | None
) -> list[FeedEntry]:
    """Apply the run's cut-off, the registry's URL patterns and the page cap (newest first)."""
    kept = [
        e
        for e in entries
        if (not source.include or any(re.search(p, e.url) for p in source.include))
        and not any(re.search(p, e.url) for p in source.exclude)
        and (cutoff is None or e.published_at is None or e.published_at < cutoff)
    ]
    cap = source.max_pages or settings.max_pages_per_feed
    oldest = datetime.min.replace(tzinfo=UTC)
    kept.sort(key=lambda e: e.published_at or oldest, reverse=True)
    return kept[:cap]


def _left_out_by_cutoff(entries: Sequence[FeedEntry], cutoff: datetime | None) -> bool:
    """True when the run's cut-off left out entries of the document (later days' stories).

    The feed's validators must then not be stored: a later day's run would get a 304
    for the same document and never take those entries (a backfill fetches one
    unchanged document for every day).
    """
    return cutoff is not None and any(
        e.published_at is not None and e.published_at >= cutoff for e in entries
    )


def _expand_sitemaps(
    fetcher: Fetcher,
    source: FeedSource,
    parsed: ParsedFeed,
    counts: FeedCounts,
    attempts: list[FetchAttempt],
) -> None:
    """Add the entries of a sitemap index's child sitemaps to parsed."""
    for child in parsed.child_sitemaps[:MAX_CHILD_SITEMAPS]:
        sub = fetcher.fetch(child, target="feed")
        attempts.extend(sub.attempts)
        if sub.response is None:
            counts.fail(sub.error_class or "connection")
            continue
        try:
            parsed.entries += parse_feed(sub.response.body, source=source, base_url=child).entries
        except FeedParseError as exc:
            counts.fail("parse_error")
            LOGGER.warning("feed %s: child sitemap %s: %s", source.name, child, exc)


def _updated_since_fetch(
    entries: Mapping[str, FeedEntry], fetched: Mapping[str, datetime]
) -> set[str]:
    """Loaded URLs whose feed entry says the story was updated after we last fetched it."""
    return {
        url
        for url, fetched_at in fetched.items()
        if (updated := entries[url].updated_at) is not None and updated > fetched_at
    }


def _fetch_pages(
    fetcher: Fetcher,
    *,
    dsn: str,
    run: RunInfo,
    source: FeedSource,
    entries: list[FeedEntry],
    counts: FeedCounts,
    attempts: list[FetchAttempt],
) -> list[FetchedPage]:
    """Download the pages of entries not yet loaded (or updated since), counting outcomes."""
    by_url: dict[str, FeedEntry] = {}
    for entry in reversed(entries):
        url = canonical_url(entry.url)
        if too_long(entry.url) or too_long(url):
            _refuse_long_url(entry.url, source.name, counts, attempts)
        else:
            by_url[url] = entry
    with warehouse.connect(dsn) as conn:
        known = warehouse.loaded_by_other_runs(conn, list(by_url), run.run_key)
        if source.refetch_updated and known:
            fetched = warehouse.loaded_fetch_times(conn, sorted(known))
            updated = _updated_since_fetch(by_url, fetched)
            if updated:
                LOGGER.info("feed %s: refetching %d updated stories", source.name, len(updated))
            known -= updated
        else:
            updated = set()
    with warehouse.connect(dsn) as conn:
        taken = warehouse.claim_pages(conn, run.run_key, sorted(set(by_url) - known), source.name)
        todo = [(url, e) for url, e in by_url.items() if url not in known | taken]
        held = warehouse.pages_of_run(conn, run.run_key, [url for url, _ in todo])
    counts.skipped_known = len(known | taken)
    pages: list[FetchedPage] = []
    results = fetcher.fetch_many([e.url for _, e in todo])
    for (url, entry), result in zip(todo, results, strict=True):
        attempts.extend(result.attempts)
        if result.response is None and url in held:
            # An earlier attempt of this run fetched it: that copy stays the run's page.
            LOGGER.warning("page %s: %s: %s; the copy this run fetched earlier stays staged",
                           entry.url, result.error_class, result.error)  # fmt: skip
            continue
        if result.response is None:
            counts.fail(result.error_class or "connection")
            LOGGER.warning("page %s: %s: %s", redacted(entry.url), result.error_class, result.error)
            continue
        pages.append(
            FetchedPage(
                feed_name=source.name,
                url=url,
                requested_url=entry.url,
                final_url=result.response.final_url,
                status=result.response.status,
                content_type=result.response.content_type,
                charset=result.response.charset,
                fetched_at=datetime.now(UTC),
                body=result.response.body,
                entry=entry,
                refetch=url in updated,
            )
        )
    return pages


def _refuse_long_url(
    url: str, feed_name: str, counts: FeedCounts, attempts: list[FetchAttempt]
) -> None:
    """Record a feed link too long to be an article URL as a bad_url failure, unfetched."""
    error = f"URL of {len(url)} characters is longer than an article URL may be"
    counts.fail("bad_url")
    attempts.append(
        FetchAttempt(target="page", url=url[:MAX_URL_BYTES], error_class="bad_url", error=error)
    )
    LOGGER.warning("feed %s: page %s...: bad_url: %s", feed_name, redacted(url)[:200], error)


def _fetch_feed(dsn: str, settings: Settings, run: RunInfo, source: FeedSource) -> FeedCounts:
    """The fetch stage of one feed (see fetch_feed)."""
    counts = FeedCounts(feed_name=source.name)
    attempts: list[FetchAttempt] = []
    pages: list[FetchedPage] = []
    with warehouse.connect(dsn) as conn:
        state = warehouse.feed_state(conn, source.name)
        rerun = warehouse.feed_ran(conn, run.run_key, source.name)
    outcome, parsed, discovered = FetchOutcome(url=source.url), None, None
    error: tuple[str, str] | None = None
    with Fetcher(settings) as fetcher:
        try:
            outcome, parsed, discovered = _fetch_document(
                fetcher, source, _conditional_headers(state, rerun=rerun), state, attempts
            )
            if outcome.response is None:
                error = (outcome.error_class or "connection", outcome.error)
            if error is None and parsed is None:
                counts.not_modified = 1
            if parsed is not None:
                _expand_sitemaps(fetcher, source, parsed, counts, attempts)
                entries = _select(parsed.entries, source, settings, run.cutoff)
                counts.entries = len(entries)
                pages = _fetch_pages(
                    fetcher,
                    dsn=dsn,
                    run=run,
                    source=source,
                    entries=entries,
                    counts=counts,
                    attempts=attempts,
                )
        except FeedParseError as exc:
            error = ("parse_error", str(exc))
            attempts.append(_feed_attempt(source, *error))
        except Exception as exc:  # a bug or an unforeseen input must not cost the other feeds
            LOGGER.exception("feed %s: unexpected %s", source.name, type(exc).__name__)
            error, parsed, pages = ("internal_error", f"{type(exc).__name__}: {exc}"), None, []
            attempts.append(_feed_attempt(source, *error))
    if error is not None:
        counts.feed_failed = True
        counts.fail(error[0])
        LOGGER.error("feed %s failed: %s: %s", source.name, error[0], error[1])
    headers = outcome.response.headers if outcome.response else {}
    if parsed is not None and _left_out_by_cutoff(parsed.entries, run.cutoff):
        headers = {}  # keep the stored validators (None leaves them as they are)
    with warehouse.connect(dsn) as conn:
        warehouse.log_attempts(conn, run.run_key, source.name, attempts)
        warehouse.stage_pages(conn, run.run_key, pages)
        # The feed's pages the run holds: those fetched now, and those an earlier attempt
        # of the run (one stopped by a fault) staged that this one could not fetch again.
        counts.fetched = warehouse.count_feed_pages(conn, run.run_key, source.name)
        # Claims it holds no page for (failed now, or left by a dead attempt whose rerun
        # failed the feed) must not keep a later feed linking the same URL from fetching it.
        warehouse.release_claims(conn, run.run_key, source.name)
        warehouse.save_feed_state(
            conn,
            source.name,
            run_key=run.run_key,
            success=error is None,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            discovered_url=discovered,
            error_class=error[0] if error else None,
            error=error[1][:1000] if error else None,
        )
        warehouse.record_fetch_counts(conn, run.run_key, run.logical_date, run.dag_run_id, counts)
    LOGGER.info("%s", feed_summary_line(counts))
    return counts


def _feed_attempt(source: FeedSource, error_class: str, error: str) -> FetchAttempt:
    """The fetch-log row of a feed whose document could not be used."""
    return FetchAttempt(target="feed", url=source.url, error_class=error_class, error=error[:500])


def feed_summary_line(counts: FeedCounts) -> str:
    """The one-line per-feed summary an operator reads at the end of a task log."""
    failures = ", ".join(f"{k}={v}" for k, v in sorted(counts.failures.items())) or "none"
    status = "FAILED" if counts.feed_failed else "ok"
    return (
        f"feed {counts.feed_name}: {status} entries={counts.entries} fetched={counts.fetched} "
        f"not_modified={counts.not_modified} known={counts.skipped_known} "
        f"failed={counts.failed} ({failures})"
    )


def _extract(
    dsn: str,
    settings: Settings,
    run: RunInfo,
    *,
    shard: int = 0,
    shards: int = 1,
    processes: int = 1,
) -> dict[str, int]:
    """The extract stage (see extract)."""
    counts = {"extracted": 0, "skipped": 0, "unchanged": 0}
    with warehouse.connect(dsn) as reader, warehouse.connect(dsn) as writer:
        feeds = warehouse.feeds_by_name(reader)
        staged = warehouse.count_staged_pages(reader, run.run_key, shard=shard, shards=shards)
        jobs = (
            (page, feeds.get(page.feed_name, {}).get("outlet", ""),
             feeds.get(page.feed_name, {}).get("language", ""))
            for page in warehouse.staged_pages(reader, run.run_key, shard=shard, shards=shards,
                                               unless_extracted_by=EXTRACTOR_VERSION)
        )  # fmt: skip
        # A pool pays for its start-up only with a chunk for each worker.
        processes = max(1, min(processes, -(-staged // settings.extract_chunk_pages)))
        seen = 0
        for chunk in parallel.map_chunks(
            _extract_chunk,
            jobs,
            processes=processes,
            chunk_size=settings.extract_chunk_pages,
            initializer=_use_settings,
            initargs=(settings,),
        ):
            warehouse.stage_articles(writer, run.run_key, chunk)
            writer.commit()
            seen += len(chunk)
            skipped = sum(1 for _, a in chunk if a.skipped_reason)
            counts["skipped"] += skipped
            counts["extracted"] += len(chunk) - skipped
        counts["unchanged"] = staged - seen
        warehouse.record_stage_counts(writer, run.run_key)
    return counts


_WORKER_SETTINGS: list[Settings] = []


def _use_settings(settings: Settings) -> None:
    """Worker initialiser: the settings every page of the worker is extracted with."""
    _WORKER_SETTINGS[:] = [settings]


def _extract_chunk(jobs: list[tuple[FetchedPage, str, str]]) -> list[tuple[str, Article]]:
    """Extract a chunk of (page, outlet, language) jobs; (page URL, article) pairs."""
    settings = _WORKER_SETTINGS[0]
    results = []
    for page, outlet, language in jobs:
        article = extract_page(page, settings, outlet=outlet, language=language)
        if article.skipped_reason:
            LOGGER.info("skipped %s: %s", page.url, article.skipped_reason)
        results.append((page.url, article))
    return results


def _dedup_doc(article: Article) -> DedupDoc:
    """The near-duplicate view of an article (as warehouse.staged_dedup_docs reads it)."""
    return DedupDoc(
        doc_id=article.canonical_url,
        text=article.body,
        published_at=article.published_at,
        site=dedup_site(article.outlet, article.site_name),
        content_hash=article.content_hash,
    )


def _deduplicate(dsn: str, settings: Settings, run: RunInfo) -> dict[str, int]:
    """The deduplicate stage (see deduplicate)."""
    # A second connection streams the staged texts, reads them again a chunk at a time
    # and copies each chunk's decisions while the first one's thread looks up the
    # clustering's state: a large day's texts and decisions are never held together.
    with warehouse.connect(dsn) as conn, warehouse.connect(dsn) as writer:
        warehouse.lock_stage(conn, run.run_key, "deduplicate")
        pages: dict[str, list[str]] = {}
        for url, doc_id in warehouse.staged_canonical_urls(writer, run.run_key):
            pages.setdefault(doc_id, []).append(url)
        existing = warehouse.existing_urls(conn, sorted(pages))
        # The first page (in URL order) of a canonical URL is the one the load keeps.
        first = {doc_id: urls[0] for doc_id, urls in pages.items() if doc_id not in existing}
        warehouse.begin_decisions(writer)
        decided = copies = 0
        for results in batch.clustered(
            conn,
            warehouse.staged_dedup_docs(writer, run.run_key, first.values()),
            settings,
            bodies=partial(warehouse.staged_bodies, writer, run.run_key, first),
        ):
            warehouse.add_decisions(
                writer, ((url, r) for r in results for url in pages[r.canonical_url])
            )
            copies += sum(1 for r in results if r.relation != "original")
            decided += len(results)
        warehouse.apply_decisions(writer, run.run_key)
        # A loaded article keeps its decision (the load never changes one): a page of it
        # that already has a staged decision keeps it too; one staged anew gets a mark.
        warehouse.save_dedup(
            writer,
            run.run_key,
            [(url, DedupResult(canonical_url=doc_id, cluster_key=doc_id))
             for doc_id in existing for url in pages[doc_id]],
            undecided_only=True,
        )  # fmt: skip
    return {"new": decided - copies, "duplicates": copies, "known": len(existing)}


def _load(dsn: str, settings: Settings, run: RunInfo) -> dict[str, int]:
    """The load stage (see load)."""
    with warehouse.connect(dsn) as conn:
        warehouse.lock_stage(conn, run.run_key, "load")
        outcome = warehouse.load_run(conn, run.run_key, partial(_index_new, conn, settings))
        warehouse.record_stage_counts(conn, run.run_key)
    return {"loaded": outcome.inserted, "updated": outcome.updated, "clashes": outcome.clashes}


def _index_new(
    conn: warehouse.Connection, settings: Settings, inserted: Sequence[tuple[Article, DedupResult]]
) -> None:
    """Index a chunk of newly loaded articles: the site lines of each, and the founders'
    fingerprints, sketches and lines (in load order: a shingle's postings are capped)."""
    docs = [(_dedup_doc(article), result) for article, result in inserted]
    store.add_articles_site_lines(
        conn, ((doc.site, [h for _, h in assign.site_line_keys(doc)]) for doc, _ in docs)
    )
    stored = store.store_founders(
        conn,
        [store.NewFounder(doc.doc_id, doc.published_at,
                          fingerprints.keys_from_text(result.samples).tolist(),
                          verify.decode(result.sketch).to_bytes())
         for doc, result in docs if result.relation == "original"],
        algorithm=fingerprints.ALGORITHM,
        df_cap=settings.dedup_df_cap,
    )  # fmt: skip
    # Counted once per founder: a founder already stored (a rerun) is not.
    store.add_founder_lines(
        conn, [assign.line_hashes(doc.text) for doc, _ in docs if doc.doc_id in stored]
    )


def _check(dsn: str, settings: Settings, run: RunInfo) -> dict[str, Any]:
    """The checks (see check)."""
    with warehouse.connect(dsn) as conn:
        figures = warehouse.run_checks(conn, run.run_key, settings.max_future_skew_hours)
    problems = []
    feeds = figures["feeds"] or 1
    share = figures["failed_feeds"] / feeds
    if share > settings.max_failed_feed_share:
        problems.append(
            f"{figures['failed_feeds']} of {figures['feeds']} feeds failed ({share:.0%} > "
            f"allowed {settings.max_failed_feed_share:.0%})"
        )
    new = figures["new_articles"]
    if new and figures["new_duplicates"] / new > settings.max_duplicate_share:
        problems.append(
            f"{figures['new_duplicates']} of {new} new articles are duplicates "
            f"({figures['new_duplicates'] / new:.0%} > allowed {settings.max_duplicate_share:.0%})"
        )
    for key, text in (
        ("empty_bodies", "articles with an empty body"),
        ("future_dates", "articles published in the future"),
        ("unclustered", "articles without a story cluster"),
    ):
        if figures[key]:
            problems.append(f"{figures[key]} {text}")
    if problems:
        raise CheckError(f"run {run.run_key}: " + "; ".join(problems))
    return figures


def _timed(
    dsn: str, run: RunInfo, stage: str, part: str, *, work: Callable[[], T],
    items: Callable[[T], int],
) -> T:  # fmt: skip
    """Run one stage, log its timing and record it in news.stage_timings (even when it fails)."""
    watch = Stopwatch(stage, part)
    result: T | None = None
    try:
        with watch, warehouse.run_shared(dsn, run.run_key):
            result = work()
        watch.timing.items = items(result)
        return result
    finally:
        LOGGER.info("%s", watch.timing.line(run.run_key))
        try:
            with warehouse.connect(dsn) as conn:
                warehouse.record_timing(conn, run.run_key, watch.timing)
        except warehouse.WarehouseError as exc:  # the stage's own error matters more
            LOGGER.warning("could not record the timing of stage %s: %s", stage, exc)


def fetch_feed(dsn: str, settings: Settings, run: RunInfo, source: FeedSource) -> FeedCounts:
    """Fetch one feed and its new article pages, and stage the pages in the warehouse.

    Never raises for a broken feed or page: failures are counted by error
    class, logged in news.fetch_log and news.feed_state, and the run goes on.
    The stage's timing is recorded per feed.

    Args:
        dsn: warehouse connection string.
        settings: limits and politeness.
        run: the run identity.
        source: the registry entry.

    Returns:
        The feed's counts for this run.
    """
    return _timed(
        dsn, run, "fetch", source.name,
        work=lambda: _fetch_feed(dsn, settings, run, source), items=lambda c: c.fetched,
    )  # fmt: skip


def extract(
    dsn: str,
    settings: Settings,
    run: RunInfo,
    *,
    shard: int = 0,
    shards: int = 1,
    processes: int = 1,
) -> dict[str, int]:
    """Extract the pages staged by the run (or one shard of them) and stage the articles.

    Pages stream from news.raw_pages in chunks of settings.extract_chunk_pages,
    each chunk's articles are staged in a transaction of their own, so memory
    does not grow with the day. A page whose staged article this extractor
    version made from the same bytes (a rerun of an unchanged day) is left
    as it is.

    Args:
        dsn: warehouse connection string.
        settings: quality gates and chunk size.
        run: the run identity.
        shard: which part of the pages (by a hash of the URL) this call extracts ...
        shards: ... of how many (the DAG maps one task per shard).
        processes: worker processes (1: extract in this process).

    Returns:
        {"extracted": n, "skipped": n, "unchanged": pages left as they were}.
    """
    return _timed(
        dsn, run, "extract", f"{shard + 1}/{shards}" if shards > 1 else "",
        work=lambda: _extract(dsn, settings, run, shard=shard, shards=shards,
                              processes=processes),
        items=lambda c: c["extracted"] + c["skipped"],
    )  # fmt: skip


def deduplicate(dsn: str, settings: Settings, run: RunInfo) -> dict[str, int]:
    """Decide the story cluster of every new staged article of the run.

    Articles already in the warehouse keep their assignment, so a rerun of
    the same day decides nothing anew.

    Returns:
        {"new": originals, "duplicates": copies, "known": already loaded}.
    """
    return _timed(
        dsn, run, "deduplicate", "", work=lambda: _deduplicate(dsn, settings, run),
        items=lambda c: c["new"] + c["duplicates"],
    )  # fmt: skip


def load(dsn: str, settings: Settings, run: RunInfo) -> dict[str, int]:
    """Load the run's articles, index new cluster founders, refresh story clusters.

    Returns:
        {"loaded": articles new to the warehouse, "updated": rows of this run or refetched
        stories replaced, "clashes": pages refused because their canonical URL is taken}.
    """
    return _timed(
        dsn, run, "load", "", work=lambda: _load(dsn, settings, run),
        items=lambda c: c["loaded"] + c["updated"],
    )  # fmt: skip


def check(dsn: str, settings: Settings, run: RunInfo) -> dict[str, Any]:
    """Data-quality checks of the run; raises CheckError naming the numbers.

    Returns:
        The measured figures.
    """
    return _timed(dsn, run, "check", "", work=lambda: _check(dsn, settings, run), items=lambda _: 0)


def summary(dsn: str, run: RunInfo) -> str:
    """A printable table of the run, one line per feed, then totals and failures by class."""
    with warehouse.connect(dsn) as conn:
        rows = warehouse.run_rows(conn, run.run_key)
        totals = warehouse.run_totals(conn, run.run_key)
    feeds = [
        (
            r["feed_name"],
            "FAILED" if r["feed_failed"] else "ok",
            r["entries"],
            r["fetched"],
            r["not_modified"],
            r["skipped_known"],
            r["new_articles"],
            r["duplicates"],
            f"{r['failed']} ({', '.join(f'{k}={v}' for k, v in sorted(r['failures'].items()))})"
            if r["failed"]
            else "0",
        )
        for r in rows
    ]
    headers = ("feed", "status", "entries", "fetched", "not mod.", "known", "new", "dups", "failed")
    failures = ", ".join(f"{k}: {v}" for k, v in totals["failures"].items()) or "none"
    return (
        f"run {run.run_key}\n{table(headers, feeds)}\n"
        f"feeds: {len(rows)}  pages fetched: {sum(r['fetched'] for r in rows)}  "
        f"articles loaded: {sum(r['new_articles'] + r['duplicates'] for r in rows)}  "
        f"duplicates: {totals.get('duplicates', 0)}  story clusters: {totals.get('clusters', 0)}\n"
        f"failures by class: {failures}"
    )


def run_all(
    dsn: str, settings: Settings, run: RunInfo, registry: Path, feeds: Sequence[str] | None = None
) -> str:
    """Run every stage in-process, as the DAG does, and return the summary (for debugging).

    Returns:
        The printable summary.

    Raises:
        warehouse.RunInProgressError: another process is running the same day, or took the
            day while the server had ended the connection holding this run's lock.
    """
    load_registry(registry)  # a broken registry is reported before the warehouse is reached
    with warehouse.run_lock(dsn, run.run_key) as lock:
        # One feed after another: a page two feeds link goes to the first in registry order.
        # Before each stage the lock is confirmed: the server may have ended its connection.
        processes = settings.extract_processes or parallel.default_processes()
        stages: list[Callable[[], object]] = [
            *(partial(fetch_feed, dsn, settings, run, s) for s in prepare(dsn, registry, feeds)),
            partial(extract, dsn, settings, run, processes=processes),
            partial(deduplicate, dsn, settings, run),
            partial(load, dsn, settings, run),
            partial(check, dsn, settings, run),
        ]
        for stage in stages:
            lock.confirm()
            stage()
        return summary(dsn, run)
