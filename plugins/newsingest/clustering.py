"""Clustering a run's new articles against the near-duplicate state in the warehouse.

The lookups run on a database thread while this one fingerprints and
assigns: the batch goes through in chunks, in processing order, so that the
database reads one chunk's state while the previous chunk is computed. The
decisions do not depend on the chunk size: each shingle's stored state is
read once, before the first document holding it is assigned (tested).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

import numpy as np

from newsingest import dedup_store, deduplication, fingerprints, warehouse
from newsingest.deduplication import StoredState
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings
from newsingest.shingle_table import I64, absent, distinct

LOGGER = logging.getLogger(__name__)

# Documents in the first lookup; each next one is twice as large, up to
# CHUNK_MAX. A small first chunk gets the database going early; large ones
# let the probes of one lookup share index pages. bench/dedup_throughput.py,
# 1M founders, PostgreSQL's default 128 MB of shared buffers: these 1,370
# docs/s; equal chunks of 500 docs 1,130/s, 1,000 docs 1,160/s, 2,500 docs
# 1,210/s; shrinking the last chunks too (a shorter tail) 1,367/s.
CHUNK = 500
CHUNK_MAX = 4000

Timer = Callable[[str], AbstractContextManager[None]]


def reindex_stale(conn: warehouse.Connection, settings: Settings, since: datetime | None) -> None:
    """Fingerprint founders again after an algorithm change, never mixing versions."""
    stale = dedup_store.stale_founders(conn, fingerprints.ALGORITHM)
    if not stale:
        return
    founders = dedup_store.reset_dedup_index(conn, since)
    LOGGER.warning(
        "fingerprint algorithm is now %s: re-indexing %d founders (%d stored with another)",
        fingerprints.ALGORITHM,
        len(founders),
        stale,
    )
    docs = [
        DedupDoc(
            doc_id=row["canonical_url"],
            text=row["body"],
            published_at=row["published_at"],
            site=row["outlet"] or row["site_name"],
        )
        for row in founders
    ]
    # Stored counts only, read in one lookup: the founders are already counted in them.
    index = deduplication.Index(df_cap=settings.dedup_df_cap)
    hashes = deduplication.batch_line_hashes(docs)
    keys = {k for doc in docs for k in deduplication.site_line_keys(doc, hashes.get(doc.doc_id))}
    index.site_lines.update(dedup_store.site_line_counts(conn, keys))
    for doc in docs:
        text = deduplication.strip_boilerplate(doc, index, settings, hashes.get(doc.doc_id))
        dedup_store.store_founder(
            conn,
            doc.doc_id,
            published_at=doc.published_at,
            samples=fingerprints.sample_array(text).tolist(),
            algorithm=fingerprints.ALGORITHM,
            df_cap=settings.dedup_df_cap,
        )


def _untimed(phase: str) -> AbstractContextManager[None]:
    """No timing (benchmarks pass a timer that records each phase)."""
    return nullcontext()


def _chunks(ordered: list[DedupDoc], first: int) -> list[list[DedupDoc]]:
    """The batch cut in chunks of first, 2 * first, 4 * first... documents (at most CHUNK_MAX)."""
    chunks, start, size = [], 0, max(1, first)
    while start < len(ordered):
        chunks.append(ordered[start : start + size])
        start, size = start + size, min(max(CHUNK_MAX, first), size * 2)
    return chunks


def cluster_batch(
    conn: warehouse.Connection,
    fresh: Sequence[DedupDoc],
    settings: Settings,
    *,
    timer: Timer = _untimed,
    chunk: int = CHUNK,
) -> list[DedupResult]:
    """Cluster new documents against the near-duplicate state in the warehouse.

    Reads only the state the batch needs: site-line counts of its lines, and
    frequencies and founders of its shingles within the window of its dates.

    Args:
        conn: open warehouse connection (used by one thread at a time).
        fresh: documents not yet in the warehouse, one per canonical URL.
        settings: thresholds and window.
        timer: wraps each phase; bench/dedup_throughput.py times them with it.
        chunk: documents in the first lookup (the results do not depend on it).

    Returns:
        One result per document, in processing order.
    """
    dates = [d.published_at for d in fresh if d.published_at]
    window = timedelta(days=settings.dedup_window_days)
    since = min(dates) - window if dates else None
    until = max(dates) + window if dates else None
    with timer("stale_check"):
        reindex_stale(conn, settings, since)
    index = deduplication.Index(df_cap=settings.dedup_df_cap)
    with timer("known_hashes"):
        index.hashes.update(warehouse.known_hashes(conn, sorted({d.content_hash for d in fresh})))
    ordered = deduplication.processing_order(fresh)
    chunks = _chunks(ordered, chunk)
    db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup-lookup")
    try:
        # Each chunk's stored line counts are asked for as soon as its lines are hashed;
        # a (site, line) pair already asked for is not asked again (counts add up).
        hashes: dict[str, list[int]] = {}
        asked: set[tuple[str, int]] = set()
        line_counts = []
        for docs in chunks:
            with timer("line_hashes"):
                hashes.update(deduplication.batch_line_hashes(docs))
                keys = deduplication.count_batch_lines(docs, index, hashes) - asked
                asked |= keys
            line_counts.append(db.submit(dedup_store.site_line_counts, conn, keys))
        looked_up = np.empty(0, np.int64)
        lookups: list[tuple[list[DedupDoc], dict[str, I64], Future[StoredState]]] = []
        for docs, counts in zip(chunks, line_counts, strict=True):
            with timer("wait_line_counts"):
                index.site_lines.update(counts.result())
            with timer("fingerprint"):
                samples = deduplication.fingerprint(docs, index, settings, hashes)
                chunk_shingles = distinct(np.concatenate([looked_up[:0], *samples.values()]))
                shingles = absent(chunk_shingles, looked_up)
                # Two sorted runs: the stable sort merges them in linear time.
                looked_up = np.sort(np.concatenate([looked_up, shingles]), kind="stable")
            lookup = db.submit(
                dedup_store.seed_index, conn, shingles, algorithm=fingerprints.ALGORITHM,
                df_cap=settings.dedup_df_cap, since=since, until=until,
            )  # fmt: skip
            lookups.append((docs, samples, lookup))
        with timer("register"):
            # Every row at once: growing the table chunk by chunk copies it each time.
            index.table.register(looked_up)
        results: list[DedupResult] = []
        for docs, samples, lookup in lookups:
            with timer("wait_lookups"):
                stored = lookup.result()
            with timer("seed"):
                deduplication.seed(index, stored)
            with timer("assign"):
                results.extend(deduplication.assign(docs, samples, index, settings))
    finally:
        # On an error, queued lookups are dropped and the running one finishes
        # before the connection is given back.
        db.shutdown(wait=True, cancel_futures=True)
    return results
