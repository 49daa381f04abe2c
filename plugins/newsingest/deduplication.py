"""Story deduplication: exact copies by normalised content hash, keyed to the first original."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from newsingest.records import Article, DedupResult

LOGGER = logging.getLogger(__name__)

ALGORITHM_VERSION = "exact-1"
_LATEST = datetime.max.replace(tzinfo=UTC)


def processing_order(articles: Iterable[Article]) -> list[Article]:
    """Earliest published first (undated last), then by URL: input order never matters."""
    return sorted(articles, key=lambda a: (a.published_at or _LATEST, a.canonical_url))


def deduplicate(
    articles: Iterable[Article], known_by_hash: Mapping[str, DedupResult]
) -> list[DedupResult]:
    """Decide, for each new article, whether it copies an article already seen.

    Args:
        articles: loadable articles not yet in the warehouse.
        known_by_hash: for each content hash already in the warehouse, the
            earliest article with it (as a DedupResult of that article).

    Returns:
        One result per article, in processing order.
    """
    seen: dict[str, DedupResult] = dict(known_by_hash)
    results: list[DedupResult] = []
    for article in processing_order(articles):
        match = seen.get(article.content_hash)
        if match is not None and match.canonical_url != article.canonical_url:
            result = DedupResult(
                canonical_url=article.canonical_url,
                cluster_key=match.cluster_key,
                duplicate_of=match.canonical_url,
                similarity=1.0,
                relation="exact",
            )
        else:
            result = DedupResult(
                canonical_url=article.canonical_url, cluster_key=article.canonical_url
            )
            seen.setdefault(article.content_hash, result)
        results.append(result)
    return results
