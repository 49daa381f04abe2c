"""Clustering a run's new articles against the near-duplicate state in the warehouse.

The lookups run on a database thread while this one hashes, fingerprints
and assigns: the batch goes through in chunks, in processing order, so that
the database reads one chunk's state while another is computed. First, the
founder counts of all the batch's lines are read at once (site-free
boilerplate is decided on the whole batch). A chunk's lookups are the stored
site counts of its lines, the postings of its new keys (founder ids), then
the few founders, with their verification sketches, that one of its
documents shares enough keys with (read ahead of the queue: its assignment
waits for them). The decisions do not depend on the chunk size: each shingle's
stored state is read once, before the first document holding it is
assigned (tested). The texts are held a chunk at a time: the batch is read
once to hash its lines, then each chunk's texts are read again to be
fingerprinted, so that a large day's texts never sit in memory together.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeAlias, TypeVar

import numpy as np

from newsingest import warehouse
from newsingest.dedup import assign, boilerplate, fingerprints, store, verify
from newsingest.dedup.assign import StoredFounder, StoredState
from newsingest.dedup.boilerplate import Bodies
from newsingest.dedup.shingle_table import I64, absent, distinct, run_starts
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings

LOGGER = logging.getLogger(__name__)

# Documents in the first lookup; each next one is twice as large, up to
# CHUNK_MAX. A small first chunk gets the database going early; later ones
# are large enough for the probes of one lookup to share index pages, and
# small enough that assigning the last one, which waits for its lookups, is
# short. bench/dedup_throughput.py, 1M founders, PostgreSQL's default 128 MB
# of shared buffers, best of three runs (they vary by about 50): 1,000 then
# up to 2,000 docs 1,843 docs/s; 500 up to 2,000 1,813; 250 up to 2,000
# 1,776; 500 up to 4,000 1,761; 500 up to 8,000 1,739; 500 up to 1,000
# 1,740; equal chunks of 1,000 1,770. At 100,000 founders: 1,951 against
# 1,919 for 500 up to 4,000.
CHUNK = 1000
CHUNK_MAX = 2000

Timer = Callable[[str], AbstractContextManager[None]]
# A document's line hashes (4 bytes each: a list of Python ints took 40).
Lines: TypeAlias = "array[int]"
T = TypeVar("T")


def reindex_stale(conn: warehouse.Connection, settings: Settings, since: datetime | None) -> None:
    """Fingerprint founders again after an algorithm change, never mixing versions."""
    stale = store.stale_founders(conn, fingerprints.ALGORITHM)
    if not stale:
        return
    founders = store.reset_dedup_index(conn, since)
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
    index = assign.Index(df_cap=settings.dedup_df_cap)
    hashes = assign.batch_line_hashes(docs)
    keys = {k for doc in docs for k in assign.site_line_keys(doc, hashes.get(doc.doc_id))}
    index.site_lines.update(store.site_line_counts(conn, keys))
    # The founders are distinct stories: their lines are counted anew, all at once.
    index.boilerplate = boilerplate.batch_boilerplate(
        docs, hashes, {}, settings.dedup_boilerplate_contexts
    )
    for doc in docs:
        text = assign.strip_boilerplate(doc, index, settings, hashes.get(doc.doc_id))
        store.store_founder(
            conn,
            doc.doc_id,
            published_at=doc.published_at,
            samples=fingerprints.keys(text).tolist(),
            algorithm=fingerprints.ALGORITHM,
            df_cap=settings.dedup_df_cap,
            sketch=verify.sketch(text).to_bytes(),
        )
    store.add_founder_lines(conn, (hashes[doc.doc_id] for doc in docs))


def _kept(texts: Mapping[str, str], doc_ids: Sequence[str]) -> dict[str, str]:
    """Bodies read from texts kept in memory."""
    return {doc_id: texts[doc_id] for doc_id in doc_ids}


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


class _LookupThread:
    """The one thread that runs the lookups on the connection: in order, urgent ones first.

    A chunk's founders are read once its assignment is next: that read must
    not queue behind the postings lookups of every later chunk.
    """

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._futures: list[Future[Any]] = []
        self._thread = threading.Thread(target=self._run, name="dedup-lookup", daemon=True)
        self._thread.start()

    def submit(self, call: Callable[[], T], *, urgent: bool = False) -> Future[T]:
        """Queue a call; its future holds the result or the exception raised."""
        future: Future[T] = Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to whoever waits on the future
                    future.set_exception(error)

        self._futures.append(future)
        self._queue.put((0 if urgent else 1, next(self._order), run))
        return future

    def _run(self) -> None:
        while (item := self._queue.get())[2] is not None:
            item[2]()

    def close(self) -> None:
        """Cancel the queued calls, let the running one finish, and end the thread."""
        for future in self._futures:
            future.cancel()
        self._queue.put((-1, next(self._order), None))
        self._thread.join()


@dataclass(frozen=True, slots=True)
class _SiteLines:
    """The batch's (site, line hash) pairs as codes (site number << 32 | line hash): how
    many of its documents hold each, and the pairs first met in each chunk."""

    sites: list[str]
    codes: I64  # sorted, distinct
    held: I64  # documents of the batch holding each pair
    first_met: list[I64]  # per chunk, the pairs met in no earlier chunk

    @classmethod
    def count(cls, chunks: list[list[DedupDoc]], hashes: Mapping[str, Lines]) -> _SiteLines:
        """Count the pairs of the chunks' documents (each document's distinct pairs)."""
        numbers: dict[str, int] = {}
        parts, chunk_of = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for number, docs in enumerate(chunks):
            for doc in docs:
                if not doc.site:
                    continue
                site = numbers.setdefault(doc.site, len(numbers))
                found = np.asarray(hashes[doc.doc_id], np.int64)
                parts.append((site << 32) | distinct(found[found != assign.BLANK]))
                chunk_of.append(np.full(parts[-1].size, number, np.int64))
        every, chunk = np.concatenate(parts), np.concatenate(chunk_of)
        # Stable: each pair's first occurrence is in its earliest chunk.
        order = np.argsort(every, kind="stable")
        every, chunk = every[order], chunk[order]
        starts = np.flatnonzero(run_starts(every))
        codes, first = every[starts], chunk[starts]
        by_chunk = np.argsort(first, kind="stable")
        ends = np.searchsorted(first[by_chunk], np.arange(1, len(chunks)))
        return cls(
            sites=list(numbers),
            codes=codes,
            held=np.diff(starts, append=every.size),
            first_met=np.split(codes[by_chunk], ends),
        )

    def boilerplate(
        self, conn: warehouse.Connection, chunk: int, limit: int
    ) -> dict[tuple[str, int], int]:
        """Read the stored counts of the pairs first met in a chunk: those that reach limit
        with the batch's own, with their counts (strip_boilerplate strips no other)."""
        wanted = self.first_met[chunk]
        pairs = [(self.sites[code >> 32], code & 0xFFFFFFFF) for code in wanted.tolist()]
        stored = store.site_line_counts(conn, pairs)
        totals = self.held[np.searchsorted(self.codes, wanted)]
        totals += np.fromiter((stored.get(pair, 0) for pair in pairs), np.int64, len(pairs))
        return {pairs[at]: int(totals[at]) for at in np.flatnonzero(totals >= limit).tolist()}


@dataclass(slots=True)
class _Chunk:
    """Documents going through together, with their samples and pending lookups."""

    docs: list[DedupDoc]
    samples: dict[str, I64]
    stored: Future[StoredState]
    wanted: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    founders: Future[dict[int, StoredFounder]] = field(default_factory=Future)


@dataclass(slots=True)
class _Run:
    """One batch's clustering: chunks fingerprinted, looked up, then assigned, in order.

    A chunk's stored state is applied once its lookup is back and the earlier
    chunks' have been, its founders are then read, and it is assigned once
    they are and the earlier chunks are: meanwhile this thread goes on with
    whatever else is ready, fingerprinting the next chunks first of all.
    """

    conn: warehouse.Connection
    db: _LookupThread
    index: assign.Index
    settings: Settings
    timer: Timer
    read: Callable[[I64], dict[int, StoredFounder]]
    bodies: Bodies
    looking_up: deque[_Chunk] = field(default_factory=deque)
    reading: deque[_Chunk] = field(default_factory=deque)
    results: deque[list[DedupResult]] = field(default_factory=deque)

    def run(
        self, chunks: list[list[DedupDoc]], hashes: dict[str, Lines]
    ) -> Iterator[list[DedupResult]]:
        """Cluster the chunks (documents without their texts), yielding each chunk's
        results once it is assigned. Each chunk's line hashes are let go once it is
        fingerprinted."""
        batch = [doc for docs in chunks for doc in docs]
        # Site-free boilerplate is decided on the whole batch and the stored
        # founders' lines at once, before any document is fingerprinted: asked for
        # first, so that it does not wait behind the chunks' site-line lookups.
        lines = {h for doc in batch for h in hashes[doc.doc_id]} - {assign.BLANK}
        stored = self.db.submit(partial(store.line_founders, self.conn, lines))
        line_counts = self._count_lines(chunks, hashes)
        with self.timer("wait_line_founders"):
            founders = stored.result()
        with self.timer("boilerplate"):
            self.index.boilerplate = boilerplate.batch_boilerplate(
                batch, hashes, founders, self.settings.dedup_boilerplate_contexts, self.bodies
            )
        del batch, lines, founders
        table = self.index.table
        for docs, counts in zip(chunks, line_counts, strict=True):
            with self.timer("wait_line_counts"):
                self.index.site_lines.update(counts.result())
            with self.timer("read_texts"):
                texts = self.bodies([d.doc_id for d in docs])
            with self.timer("fingerprint"):
                full = [replace(d, text=texts[d.doc_id]) for d in docs]
                samples = assign.fingerprint(full, self.index, self.settings, hashes)
                del full, texts
                for doc in docs:
                    del hashes[doc.doc_id]
                chunk_shingles = distinct(np.concatenate([table.keys[:0], *samples.values()]))
                # The table holds every shingle looked up so far: the new ones are looked up
                # and get their rows now (growing the table at every step would copy it each time).
                shingles = absent(chunk_shingles, table.keys)
                table.register(shingles)
            lookup = partial(store.seed_index, self.conn, shingles,
                             df_cap=self.settings.dedup_df_cap)  # fmt: skip
            self.looking_up.append(_Chunk(docs, samples, self.db.submit(lookup)))
            self._advance(wait=False)
            yield from self._decided()
        self._advance(wait=True)
        yield from self._decided()

    def _decided(self) -> Iterator[list[DedupResult]]:
        """The results assigned since the last call, one list per chunk."""
        while self.results:
            yield self.results.popleft()

    def _count_lines(
        self, chunks: list[list[DedupDoc]], hashes: dict[str, Lines]
    ) -> list[Future[dict[tuple[str, int], int]]]:
        """Count the batch's (site, line) pairs, asking for each chunk's new ones' stored
        counts at once: each lookup gives the pairs that are boilerplate, with their counts.

        A pair already asked for is not asked again (counts add up). Counted as int64
        codes, site number and line hash: a Counter of every pair of a large day took
        more memory than its founders' fingerprints.
        """
        with self.timer("line_counts"):
            lines = _SiteLines.count(chunks, hashes)
        limit = self.settings.dedup_boilerplate_docs
        return [
            self.db.submit(partial(lines.boilerplate, self.conn, number, limit))
            for number in range(len(chunks))
        ]

    def _advance(self, *, wait: bool) -> None:
        """Take every step that is ready; with wait, wait for them until all chunks are assigned."""
        while self.looking_up or self.reading:
            if self.reading and self.reading[0].founders.done():
                self._assign(self.reading.popleft())
            elif self.looking_up and self.looking_up[0].stored.done():
                self._seed(self.looking_up.popleft())
            elif wait and self.reading:
                with self.timer("wait_founders"):
                    futures.wait([self.reading[0].founders])
            elif wait:
                with self.timer("wait_lookups"):
                    futures.wait([self.looking_up[0].stored])
            else:
                return

    def _seed(self, chunk: _Chunk) -> None:
        """Apply a chunk's stored state and ask for the founders its documents may meet."""
        with self.timer("seed"):
            assign.seed(self.index, chunk.stored.result())
            chunk.wanted = assign.unread_founders(
                chunk.docs, chunk.samples, self.index, self.settings
            )
        if chunk.wanted.size:
            chunk.founders = self.db.submit(partial(self.read, chunk.wanted), urgent=True)
        else:
            chunk.founders.set_result({})
        self.reading.append(chunk)

    def _assign(self, chunk: _Chunk) -> None:
        assign.admit(self.index, chunk.wanted, chunk.founders.result())
        with self.timer("assign"):
            self.results.append(
                assign.assign_in_order(chunk.docs, chunk.samples, self.index, self.settings)
            )
        # Founders keep their sketches in the index; the copies' are no longer needed.
        for doc in chunk.docs:
            del self.index.sketches[doc.doc_id]


def _hashed(
    fresh: Iterable[DedupDoc], keep: bool
) -> tuple[list[DedupDoc], dict[str, Lines], dict[str, int], dict[str, str]]:
    """Read the batch once: each document without its text, its line hashes, its
    text's length, and (keep) its text."""
    docs, hashes, lengths, texts = [], {}, {}, {}
    for doc in fresh:
        hashes[doc.doc_id] = array("I", assign.line_hashes(doc.text))
        lengths[doc.doc_id] = len(doc.text)
        if keep:
            texts[doc.doc_id] = doc.text
        docs.append(replace(doc, text=""))
    return docs, hashes, lengths, texts


def cluster_batch(
    conn: warehouse.Connection,
    fresh: Iterable[DedupDoc],
    settings: Settings,
    *,
    bodies: Bodies | None = None,
    timer: Timer = _untimed,
    chunk: int = CHUNK,
) -> list[DedupResult]:
    """clustered() as one list: one result per document, in processing order."""
    return [
        result
        for results in clustered(conn, fresh, settings, bodies=bodies, timer=timer, chunk=chunk)
        for result in results
    ]


def clustered(
    conn: warehouse.Connection,
    fresh: Iterable[DedupDoc],
    settings: Settings,
    *,
    bodies: Bodies | None = None,
    timer: Timer = _untimed,
    chunk: int = CHUNK,
) -> Iterator[list[DedupResult]]:
    """Cluster new documents against the near-duplicate state in the warehouse.

    Reads only the state the batch needs: site-line counts of its lines,
    frequencies and postings of its shingles, and the founders within the
    window of its dates that its documents share enough with.

    Args:
        conn: open warehouse connection (used by one thread at a time).
        fresh: documents not yet in the warehouse, one per canonical URL: read once,
            before any lookup (it may stream from another connection).
        settings: thresholds and window.
        bodies: reads the texts of documents by doc id, a chunk at a time (not on
            conn); None: the texts read from fresh are kept in memory.
        timer: wraps each phase; bench/dedup_throughput.py times them with it.
        chunk: documents in the first lookup (the results do not depend on it).

    Yields:
        The results of each chunk once it is assigned (one per document, in processing
        order): a caller that stores them as they come holds none of a large day's.
    """
    with timer("line_hashes"):
        docs, hashes, lengths, texts = _hashed(fresh, keep=bodies is None)
    if bodies is None:
        bodies = partial(_kept, texts)
    dates = [d.published_at for d in docs if d.published_at]
    window = timedelta(days=settings.dedup_window_days)
    since = min(dates) - window if dates else None
    until = max(dates) + window if dates else None
    with timer("stale_check"):
        reindex_stale(conn, settings, since)
    index = assign.Index(df_cap=settings.dedup_df_cap)
    with timer("known_hashes"):
        index.hashes.update(warehouse.known_hashes(conn, sorted({d.content_hash for d in docs})))
    ordered = assign.processing_order(docs, lengths)
    del docs, lengths
    read = partial(store.stored_founders, conn, algorithm=fingerprints.ALGORITHM,
                   since=since, until=until)  # fmt: skip
    db = _LookupThread()
    try:
        yield from _Run(conn, db, index, settings, timer, read, bodies).run(
            _chunks(ordered, chunk), hashes
        )
    finally:
        # On an error, queued lookups are dropped and the running one finishes
        # before the connection is given back.
        db.close()
