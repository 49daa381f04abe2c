"""Story clustering: exact copies by content hash, rewrites by sampled-shingle containment.

Each cluster has one founder, the article that opened it; new articles are
compared with founders only, so clusters never chain through intermediate
rewrites. The same code runs on an empty index (`newsingest dedup`) and on an
index seeded from the warehouse (the DAG).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from newsingest import fingerprints
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings

LOGGER = logging.getLogger(__name__)

ALGORITHM_VERSION = fingerprints.ALGORITHM
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Founder:
    """A cluster's founding article as the index knows it."""

    key: str
    cluster_key: str
    size: int  # informative samples when it was indexed
    published_at: datetime | None


@dataclass(slots=True)
class Index:
    """The slice of near-duplicate state a batch needs: founders, postings and frequencies.

    df counts, per shingle, the founders containing it; shingles in more than
    df_cap founders are boilerplate or stock phrases and are neither posted
    nor counted.
    """

    df_cap: int
    df: Counter[int] = field(default_factory=Counter)
    postings: dict[int, list[str]] = field(default_factory=dict)
    founders: dict[str, Founder] = field(default_factory=dict)
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)
    site_lines: Counter[tuple[str, int]] = field(default_factory=Counter)

    def informative(self, samples: Iterable[int]) -> list[int]:
        """The samples that still discriminate (seen in at most df_cap founders)."""
        return [s for s in samples if self.df[s] < self.df_cap]

    def add_founder(self, founder: Founder, samples: Iterable[int]) -> None:
        """Index a new founder: post its informative samples and count them."""
        self.founders[founder.key] = founder
        for shingle in samples:
            if self.df[shingle] < self.df_cap:
                self.postings.setdefault(shingle, []).append(founder.key)
            self.df[shingle] += 1


def processing_order(docs: Iterable[DedupDoc]) -> list[DedupDoc]:
    """Earliest published first (undated last), then by id: input order never matters."""
    return sorted(docs, key=lambda d: (d.published_at or _LATEST, d.doc_id))


def line_hash(line: str) -> int:
    """Stable hash of a whitespace- and case-normalised line."""
    return zlib.crc32(" ".join(line.split()).casefold().encode("utf-8"))


def site_line_keys(doc: DedupDoc) -> set[tuple[str, int]]:
    """The distinct (site, line hash) pairs of a document (none without a site)."""
    if not doc.site:
        return set()
    return {(doc.site, line_hash(line)) for line in doc.text.splitlines() if line.strip()}


def count_site_lines(docs: Iterable[DedupDoc], index: Index) -> None:
    """Count, per site, the documents each line appears in (boilerplate detection)."""
    for doc in docs:
        index.site_lines.update(site_line_keys(doc))


def seed(index: Index, df: dict[int, int], postings: Iterable[dict[str, object]]) -> None:
    """Load stored state into an index: frequencies, then founders and their postings.

    Args:
        index: the (empty) index of this batch.
        df: founders per shingle, from the warehouse.
        postings: rows with shingle, canonical_url, size, published_at, cluster_id.
    """
    index.df.update(df)
    for row in postings:
        key = str(row["canonical_url"])
        if key not in index.founders:
            cluster = row["cluster_id"]
            index.founders[key] = Founder(
                key=key,
                cluster_key=f"cluster:{cluster}" if cluster is not None else key,
                size=int(row["size"]),  # type: ignore[call-overload]
                published_at=row["published_at"],  # type: ignore[arg-type]
            )
        index.postings.setdefault(int(row["shingle"]), []).append(key)  # type: ignore[call-overload]


def strip_boilerplate(doc: DedupDoc, index: Index, settings: Settings) -> str:
    """Drop lines its site repeats across many documents (footers, prompts, disclaimers)."""
    if not doc.site:
        return doc.text
    limit = settings.dedup_boilerplate_docs
    return "\n".join(
        line
        for line in doc.text.splitlines()
        if index.site_lines[doc.site, line_hash(line)] < limit
    )


def _within_window(a: datetime | None, b: datetime | None, settings: Settings) -> bool:
    """Whether two publication times are close enough to be copies (unknown: yes)."""
    if a is None or b is None:
        return True
    return abs(a - b) <= timedelta(days=settings.dedup_window_days)


def _decide(
    doc: DedupDoc, samples: list[int], index: Index, settings: Settings
) -> DedupResult | None:
    """Match one document against the founders; None when it opens a new story."""
    matched: dict[str, set[int]] = {}
    for shingle in samples:
        for key in index.postings.get(shingle, ()):
            matched.setdefault(key, set()).add(shingle)
    size = max(1, len(samples))
    scored: list[tuple[float, int, Founder]] = []
    for key, found in matched.items():
        founder = index.founders[key]
        if key == doc.doc_id or len(found) < settings.dedup_min_shared:
            continue
        if not _within_window(doc.published_at, founder.published_at, settings):
            continue
        containment = len(found) / max(1, min(size, founder.size))
        if containment >= settings.dedup_near_threshold:
            scored.append((containment, len(found), founder))
    if not scored:
        return None
    scored.sort(key=lambda item: (-item[1], -item[0], item[2].key))
    similarity, _, best = scored[0]
    # A stitched page: besides its main story, it holds much of another
    # story's text that the main story does not explain.
    secondary = None
    for _, _, other in scored[1:]:
        extra = matched[other.key] - matched[best.key]
        if (
            other.cluster_key != best.cluster_key
            and len(extra) >= settings.dedup_min_shared
            and len(extra) / max(1, min(size, other.size)) >= settings.dedup_secondary_share
        ):
            secondary = other
            break
    return DedupResult(
        canonical_url=doc.doc_id,
        cluster_key=best.cluster_key,
        duplicate_of=best.key,
        similarity=round(min(1.0, similarity), 4),
        relation="stitched" if secondary else "near",
        secondary_of=secondary.key if secondary else None,
    )


def fingerprint_batch(
    docs: Iterable[DedupDoc], index: Index, settings: Settings
) -> dict[str, frozenset[int]]:
    """Fingerprint a batch after counting its lines and stripping each site's boilerplate.

    Args:
        docs: the batch.
        index: state holding per-site line counts (seeded from history or empty).
        settings: the boilerplate threshold.

    Returns:
        Sampled shingles per doc id.
    """
    batch = list(docs)
    count_site_lines(batch, index)
    return {d.doc_id: fingerprints.sample(strip_boilerplate(d, index, settings)) for d in batch}


def assign(
    docs: Iterable[DedupDoc],
    samples: dict[str, frozenset[int]],
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
    results: list[DedupResult] = []
    for doc in processing_order(docs):
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
        sampled = samples[doc.doc_id]
        informative = index.informative(sampled)
        result = _decide(doc, informative, index, settings)
        if result is None:
            result = DedupResult(
                canonical_url=doc.doc_id, cluster_key=doc.doc_id, samples=tuple(sorted(sampled))
            )
            index.add_founder(
                Founder(doc.doc_id, doc.doc_id, len(informative), doc.published_at), sampled
            )
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
