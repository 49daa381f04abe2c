"""Story clustering: exact copies by content hash, rewrites in two stages.

Each cluster has one founder, the article that opened it; new articles are
compared with founders only, so clusters never chain through intermediate
rewrites. Candidates are the founders sharing a few sampled word 3-grams with
an article; each is then verified on the texts by sentence alignment
(newsingest.dedup.verify), quotes and boilerplate (per site, and site-free:
newsingest.dedup.boilerplate) left out. The same code runs on an empty index
(`newsingest dedup`) and on an index seeded from the warehouse (the DAG).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from newsingest.dedup import boilerplate, fingerprints, verify
from newsingest.dedup.shingle_table import I64, ShingleTable, absent, distinct, present, run_starts
from newsingest.dedup.verify import Sketch
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings

LOGGER = logging.getLogger(__name__)

ALGORITHM_VERSION = fingerprints.ALGORITHM
_LATEST = datetime.max.replace(tzinfo=UTC)
# Fewer keys than this: a short text (a headline and a lead), candidate on one shared key.
SHORT_KEYS = 8


@dataclass(frozen=True, slots=True)
class Founder:
    """A cluster's founding article as the index knows it."""

    key: str
    cluster_key: str
    size: int  # informative samples when it was indexed
    published_at: datetime | None
    sketch: Sketch = verify.EMPTY  # what verification compares


# A stored founder that was read and is outside the window or of another
# fingerprint version: in the table's postings, never compared.
OUTSIDE = Founder("", "", 0, None)


def _no_ints() -> I64:
    return np.empty(0, np.int64)


@dataclass(slots=True)
class Index:
    """The slice of near-duplicate state a batch needs: founders, postings and frequencies.

    The shingle table counts, per shingle, the founders containing it;
    shingles in df_cap founders or more are boilerplate or stock phrases:
    they neither count in a comparison nor get posted for more founders.
    Stored founders enter the table by id (as postings name them) and are
    read only when a document of the batch shares enough with them.
    """

    df_cap: int
    table: ShingleTable = field(init=False)
    # Founders by table number; None: a stored founder not read yet.
    numbered: list[Founder | None] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)  # table number by founder key
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)
    site_lines: Counter[tuple[str, int]] = field(default_factory=Counter)
    # Lines that are boilerplate whatever their site (boilerplate.batch_boilerplate).
    boilerplate: frozenset[int] = frozenset()
    sketches: dict[str, Sketch] = field(default_factory=dict)  # the batch's, by doc id
    # Stored founder ids in order, their table numbers, and the id of each number (-1: batch).
    _stored_ids: I64 = field(init=False, repr=False, default_factory=_no_ints)
    _stored_numbers: I64 = field(init=False, repr=False, default_factory=_no_ints)
    _ids_by_number: I64 = field(init=False, repr=False, default_factory=_no_ints)

    def __post_init__(self) -> None:
        self.table = ShingleTable(self.df_cap)

    def number(self, founder: Founder) -> int:
        """The founder's number in the table (given on first sight)."""
        number = self.numbers.get(founder.key)
        if number is None:
            number = self.numbers[founder.key] = len(self.numbered)
            self.numbered.append(founder)
        return number

    def founder(self, key: str) -> Founder | None:
        """The founder known by this key, if the index holds it."""
        number = self.numbers.get(key)
        return None if number is None else self.numbered[number]

    def stored_numbers(self, founder_ids: I64) -> I64:
        """Table numbers of stored founders by id; ids new to the index get numbers, unread."""
        new = absent(distinct(founder_ids), self._stored_ids)
        if new.size:
            first = len(self.numbered)
            self.numbered.extend([None] * new.size)
            batch = np.full(first - self._ids_by_number.size, -1, np.int64)
            self._ids_by_number = np.concatenate([self._ids_by_number, batch, new])
            ids = np.concatenate([self._stored_ids, new])
            numbers = np.concatenate([self._stored_numbers, np.arange(first, first + new.size)])
            order = np.argsort(ids, kind="stable")
            self._stored_ids, self._stored_numbers = ids[order], numbers[order]
        found: I64 = self._stored_numbers[np.searchsorted(self._stored_ids, founder_ids)]
        return found

    def stored_ids(self, numbers: I64) -> I64:
        """Stored founder ids of table numbers (stored founders only)."""
        found: I64 = self._ids_by_number[numbers]
        return found


def processing_order(
    docs: Iterable[DedupDoc], lengths: Mapping[str, int] | None = None
) -> list[DedupDoc]:
    """Earliest published first, then by id; undated ones last, longest first.

    Input order never matters. Among undated documents (a text-only batch),
    the fullest text founds its story: a truncated or partial copy then
    finds its sentences in the founder.

    Args:
        docs: the documents.
        lengths: their texts' lengths by doc id, when the documents no longer hold them.
    """

    def length(doc: DedupDoc) -> int:
        return len(doc.text) if lengths is None else lengths[doc.doc_id]

    return sorted(
        docs,
        key=lambda d: (d.published_at or _LATEST, 0 if d.published_at else -length(d), d.doc_id),
    )


def line_hash(line: str) -> int:
    """Stable hash of a whitespace- and case-normalised line."""
    return zlib.crc32(" ".join(line.split()).casefold().encode("utf-8"))


# line_hash of a blank line, so line_hashes' mark of one. A real line hashing
# to 0 (one in 2**32) is taken for blank: never counted as boilerplate.
BLANK = boilerplate.BLANK


def line_hashes(text: str) -> list[int]:
    """line_hash of each line of text.splitlines() (BLANK for blank lines).

    The whole text is case-folded at once, and only lines with other spacing
    than single spaces are split and joined again (most have none).
    """
    hashes = []
    for raw in text.casefold().splitlines():
        # isprintable: no whitespace but " " (tabs, no-break spaces are not printable).
        single = raw.isprintable() and "  " not in raw and raw[:1] != " " and raw[-1:] != " "
        hashes.append(zlib.crc32((raw if single else " ".join(raw.split())).encode("utf-8")))
    return hashes


def batch_line_hashes(docs: Iterable[DedupDoc]) -> dict[str, Sequence[int]]:
    """line_hashes of each document."""
    return {doc.doc_id: line_hashes(doc.text) for doc in docs}


def site_line_keys(doc: DedupDoc, hashes: Sequence[int] | None = None) -> set[tuple[str, int]]:
    """The distinct (site, line hash) pairs of a document's non-blank lines (none without a site).

    Args:
        doc: the document.
        hashes: its line_hashes, when already computed.
    """
    if not doc.site:
        return set()
    return {
        (doc.site, h) for h in (line_hashes(doc.text) if hashes is None else hashes) if h != BLANK
    }


def count_batch_lines(
    docs: Iterable[DedupDoc], index: Index, hashes: Mapping[str, Sequence[int]]
) -> set[tuple[str, int]]:
    """Add the batch's own documents to the per-site line counts.

    Returns:
        The distinct (site, line hash) pairs counted, whose stored counts the batch needs.
    """
    counted: set[tuple[str, int]] = set()
    for doc in docs:
        keys = site_line_keys(doc, hashes.get(doc.doc_id))
        index.site_lines.update(keys)
        counted |= keys
    return counted


@dataclass(frozen=True, slots=True)
class StoredFounder:
    """A founder as the warehouse stores it."""

    canonical_url: str
    size: int
    published_at: datetime | None
    cluster_id: int | None
    sketch: bytes = b""  # verify.Sketch.to_bytes()


@dataclass(frozen=True, slots=True)
class StoredState:
    """Stored state of some shingles: frequencies, and the founders posted for them (by id)."""

    shingles: I64  # shingles with stored founders
    counts: I64  # how many founders hold each
    posted: I64  # shingle of each posting
    posted_by: I64  # stored founder id of each posting


def seed(index: Index, state: StoredState) -> None:
    """Load stored state into an index: frequencies, then postings (founders unread).

    Call it once per shingle: counts add up (batch founders may already be counted).
    """
    index.table.add_counts(state.shingles, state.counts)
    if state.posted.size:
        index.table.post(state.posted, index.stored_numbers(state.posted_by))


def unread_founders(
    docs: Sequence[DedupDoc], samples: Mapping[str, I64], index: Index, settings: Settings
) -> I64:
    """Ids of the stored founders, not read yet, that these documents may be compared with.

    A document is compared with the founders that share dedup_min_shared of
    its informative samples. Counted here on the frequencies as they stand:
    they only grow while the batch is assigned, so the founders returned
    include every one a decision will look at (and some it will not).
    """
    table = index.table
    flat = np.concatenate([_no_ints(), *(samples[d.doc_id] for d in docs)])
    owner = np.repeat(np.arange(len(docs)), [samples[d.doc_id].size for d in docs])
    # Searched in sorted order (far fewer cache misses); shingles not in the table have no postings.
    order = np.argsort(flat)
    flat, owner = flat[order], owner[order]
    known = present(flat, table.keys)
    rows, owner = table.rows(flat[known]), owner[known]
    keep = (table.df[rows] < index.df_cap) & (table.posted[rows] > 0)
    posted = table.founders_of(rows[keep])
    hit = posted >= 0
    # (document, founder) pairs as one int64 each, counted by sorting.
    pairs = np.repeat(owner[keep], hit.sum(axis=1)) * len(index.numbered) + posted[hit]
    pairs.sort()
    starts = np.flatnonzero(run_starts(pairs))
    shared = np.diff(starts, append=pairs.size)
    needed = np.array([min_shared(samples[d.doc_id].size, settings) for d in docs], np.int64)
    enough = shared >= needed[pairs[starts] // max(1, len(index.numbered))]
    numbers = distinct(pairs[starts][enough] % max(1, len(index.numbered)))
    unread = [n for n in numbers.tolist() if index.numbered[n] is None]
    return index.stored_ids(np.array(unread, dtype=np.int64))


def admit(index: Index, founder_ids: I64, founders: Mapping[int, StoredFounder]) -> None:
    """Record stored founders read for these ids; ids not among them are OUTSIDE the comparison."""
    for number, founder_id in zip(
        index.stored_numbers(founder_ids).tolist(), founder_ids.tolist(), strict=True
    ):
        stored = founders.get(founder_id)
        if stored is None:
            index.numbered[number] = OUTSIDE
            continue
        key, cluster = stored.canonical_url, stored.cluster_id
        cluster_key = f"cluster:{cluster}" if cluster is not None else key
        index.numbered[number] = Founder(
            key, cluster_key, stored.size, stored.published_at, verify.decode(stored.sketch)
        )
        index.numbers[key] = number


def strip_boilerplate(
    doc: DedupDoc, index: Index, settings: Settings, hashes: Sequence[int] | None = None
) -> str:
    """Drop boilerplate lines: those of the index's site-free set, those its site repeats.

    Args:
        doc: the document.
        index: per-site line counts and site-free boilerplate.
        settings: the per-site boilerplate threshold.
        hashes: the document's line_hashes, when already computed.
    """
    limit, counts, common = settings.dedup_boilerplate_docs, index.site_lines.get, index.boilerplate
    hashes = line_hashes(doc.text) if hashes is None else hashes
    site = doc.site
    dropped = [
        h != BLANK and (h in common or (bool(site) and counts((site, h), 0) >= limit))
        for h in hashes
    ]
    if not any(dropped):
        return doc.text
    lines = doc.text.splitlines()
    return "\n".join(line for line, drop in zip(lines, dropped, strict=True) if not drop)


def _within_window(a: datetime | None, b: datetime | None, settings: Settings) -> bool:
    """Whether two publication times are close enough to be copies (unknown: yes)."""
    if a is None or b is None:
        return True
    return abs(a - b) <= timedelta(days=settings.dedup_window_days)


def min_shared(keys: int, settings: Settings) -> int:
    """Samples a document must share with a founder to make it a candidate.

    A document of fewer than SHORT_KEYS keys (a headline and a lead) needs
    one: verification then decides on its sentences.
    """
    return 1 if keys < SHORT_KEYS else settings.dedup_min_shared


def _candidates(
    doc: DedupDoc, keys: int, informative: I64, index: Index, settings: Settings
) -> list[Founder]:
    """Founders sharing enough samples with a document, most shared first (stage 1).

    Args:
        doc: the document.
        keys: how many keys its fingerprint holds.
        informative: table rows of its informative samples.
        index: founders and postings.
        settings: candidate thresholds and window.
    """
    posted = index.table.founders_of(informative)
    hits = np.sort(posted[posted >= 0])
    needed = min_shared(keys, settings)
    if hits.size < needed:
        return []
    starts = np.flatnonzero(run_starts(hits))
    numbers, shared = hits[starts], np.diff(starts, append=hits.size)
    enough = shared >= needed
    size = max(1, informative.size)
    scored: list[tuple[int, str, Founder]] = []
    for number, count in zip(numbers[enough].tolist(), shared[enough].tolist(), strict=True):
        founder = index.numbered[number]
        if founder is None:  # unread_founders reads every founder a decision meets
            found_id = int(index.stored_ids(np.array([number]))[0])
            raise RuntimeError(f"stored founder {found_id} was compared before it was read")
        if founder is OUTSIDE or founder.key == doc.doc_id:
            continue
        if not _within_window(doc.published_at, founder.published_at, settings):
            continue
        if count / max(1, min(size, founder.size)) >= settings.dedup_near_threshold:
            scored.append((-count, founder.key, founder))
    scored.sort(key=lambda item: item[:2])
    return [founder for _, _, founder in scored[: settings.dedup_candidates]]


def _in_order(
    doc: DedupDoc, founder: Founder, alignment: verify.Alignment, settings: Settings
) -> bool:
    """Whether text aligned well into either text may still be the story both are about.

    Aligned only after the start of the document, or far into the founder,
    it is a stitched page's second story. Dates tell the founder came first
    (a stitched page copies stories already out), so a dated copy may keep
    any part of it; without them the founder may be that stitched page.
    """
    if doc.published_at is not None and founder.published_at is not None:
        return True
    return (
        alignment.start <= settings.dedup_max_offset
        and alignment.offset <= settings.dedup_max_founder_offset
    )


def _decide(
    doc: DedupDoc, keys: int, informative: I64, index: Index, settings: Settings
) -> DedupResult | None:
    """Match one document against the founders; None when it opens a new story.

    Candidates are verified by sentence alignment; the document joins the
    one whose alignment covers most. Another candidate, of another cluster,
    aligned with enough of the rest of the text is the page's second story
    (stitched); when both verify, the page joins the one it starts with.

    Args:
        doc: the document.
        keys: how many keys its fingerprint holds.
        informative: table rows of its informative samples.
        index: founders and postings.
        settings: thresholds and window.
    """
    found = _candidates(doc, keys, informative, index, settings)
    if not found:
        return None
    own = index.sketches.get(doc.doc_id, verify.EMPTY)
    aligned = [
        (verify.align(own, founder.sketch, settings.dedup_sentence_share), founder)
        for founder in found
    ]
    verified = [
        (a, f)
        for a, f in aligned
        if a.share >= settings.dedup_verify_share and _in_order(doc, f, a, settings)
    ]
    if not verified:
        return None
    # The closest wording wins: a copy finds more of its words in its source than in a report
    # of the same event that verified too.
    best_alignment, best = max(verified, key=lambda item: item[0].found)
    secondary: tuple[verify.Alignment, Founder] | None = None
    extra_best, rest = 0, ~best_alignment.aligned
    for alignment, other in aligned:
        if other.cluster_key == best.cluster_key:
            continue
        extra = verify.explained(own, alignment.aligned & rest)
        share = extra / max(1, min(own.size, other.sketch.size))
        if share >= settings.dedup_secondary_share and extra > extra_best:
            secondary, extra_best = (alignment, other), extra
    if secondary is not None and secondary[0].start < best_alignment.start:
        # Two stories on one page: the page belongs to the one it starts with.
        secondary, (best_alignment, best) = (best_alignment, best), secondary
    return DedupResult(
        canonical_url=doc.doc_id,
        cluster_key=best.cluster_key,
        duplicate_of=best.key,
        similarity=round(min(1.0, best_alignment.share), 4),
        relation="stitched" if secondary else "near",
        secondary_of=secondary[1].key if secondary else None,
    )


def fingerprint(
    docs: Iterable[DedupDoc],
    index: Index,
    settings: Settings,
    hashes: Mapping[str, Sequence[int]],
) -> dict[str, I64]:
    """Fingerprint and sketch documents, each stripped of boilerplate.

    Args:
        docs: documents whose lines the index counts (stored and batch counts).
        index: per-site line counts and site-free boilerplate; gets the documents' sketches.
        settings: the boilerplate threshold.
        hashes: batch_line_hashes of the documents.

    Returns:
        Sampled shingles per doc id.
    """
    samples = {}
    for d in docs:
        text = strip_boilerplate(d, index, settings, hashes.get(d.doc_id))
        samples[d.doc_id] = fingerprints.keys(text)
        index.sketches[d.doc_id] = verify.sketch(text)
    return samples


def fingerprint_batch(docs: Iterable[DedupDoc], index: Index, settings: Settings) -> dict[str, I64]:
    """Count a batch's lines, find its boilerplate, then fingerprint it.

    The index holds any stored line counts; its site-free boilerplate is
    found on the batch alone (stored lines already in it stay).

    Returns:
        Sampled shingles per doc id.
    """
    # Boilerplate is judged on the first holders of a line, grouped greedily: in
    # processing order, as the DAG's clustering gives them, so that input order never matters.
    batch = processing_order(docs)
    hashes = batch_line_hashes(batch)
    count_batch_lines(batch, index, hashes)
    index.boilerplate |= boilerplate.batch_boilerplate(
        batch, hashes, {}, settings.dedup_boilerplate_contexts
    )
    return fingerprint(batch, index, settings, hashes)


def assign(
    docs: Iterable[DedupDoc],
    samples: Mapping[str, I64],
    index: Index,
    settings: Settings,
) -> list[DedupResult]:
    """Assign every document to a story cluster, in processing order.

    Args:
        docs: the batch (new articles only).
        samples: fingerprints from fingerprint_batch.
        index: near-duplicate state (empty or seeded); the batch's founders are added.
        settings: thresholds and window.

    Returns:
        One result per document, in processing order.
    """
    return assign_in_order(processing_order(docs), samples, index, settings)


def assign_in_order(
    ordered: Sequence[DedupDoc],
    samples: Mapping[str, I64],
    index: Index,
    settings: Settings,
) -> list[DedupResult]:
    """assign() on documents already in processing order (they need not hold their texts)."""
    if not ordered:
        return []
    table = index.table
    flat = np.concatenate([np.empty(0, np.int64), *(samples[d.doc_id] for d in ordered)])
    # Rows of every sample at once, looked up in sorted order: one search per
    # document hops about the table and waits on memory far longer.
    order = np.argsort(flat, kind="stable")
    table.register(flat[order])
    found = np.empty_like(order)
    found[order] = table.rows(flat[order])
    ends = np.cumsum([samples[d.doc_id].size for d in ordered])
    doc_rows = dict(zip((d.doc_id for d in ordered), np.split(found, ends[:-1]), strict=True))
    results: list[DedupResult] = []
    for doc in ordered:
        exact = index.hashes.get(doc.content_hash) if doc.content_hash else None
        if exact is not None and exact[0] != doc.doc_id:
            results.append(
                DedupResult(
                    canonical_url=doc.doc_id,
                    cluster_key=exact[1],
                    duplicate_of=exact[0],
                    relation="exact",
                )
            )
            continue
        rows = doc_rows[doc.doc_id]
        informative = rows[table.df[rows] < index.df_cap]
        result = _decide(doc, rows.size, informative, index, settings)
        if result is None:
            own = index.sketches.get(doc.doc_id, verify.EMPTY)
            result = DedupResult(
                canonical_url=doc.doc_id,
                cluster_key=doc.doc_id,
                samples=fingerprints.keys_to_text(samples[doc.doc_id]),
                sketch=own.to_text(),
            )
            number = index.number(
                Founder(doc.doc_id, doc.doc_id, int(informative.size), doc.published_at, own)
            )
            table.add_founder(number, rows, informative)
        if doc.content_hash:
            index.hashes.setdefault(doc.content_hash, (doc.doc_id, result.cluster_key))
        results.append(result)
    return results


def deduplicate(docs: Iterable[DedupDoc], index: Index, settings: Settings) -> list[DedupResult]:
    """Fingerprint and assign a batch against an index (what `newsingest dedup` runs).

    Args:
        docs: the batch.
        index: near-duplicate state, updated with the batch's founders.
        settings: thresholds and window.

    Returns:
        One result per document, in processing order.
    """
    batch = list(docs)
    return assign(batch, fingerprint_batch(batch, index, settings), index, settings)
