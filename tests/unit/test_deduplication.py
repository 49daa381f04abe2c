"""Tests of newsingest.deduplication (exact layer)."""

from __future__ import annotations

from datetime import UTC, datetime

from newsingest.deduplication import deduplicate
from newsingest.extraction import content_hash
from newsingest.records import Article, DedupResult


def article(url: str, body: str, day: int | None) -> Article:
    return Article(
        url=url,
        canonical_url=url,
        feed_name="f",
        body=body,
        content_hash=content_hash(body),
        published_at=datetime(2022, 1, day, tzinfo=UTC) if day else None,
    )


WIRE = "GENEVA (AFP) - Talks ended without a breakthrough, officials said on Friday."


def test_exact_copies_join_the_earliest_original() -> None:
    batch = [
        article("https://b.example/copy", WIRE.upper().replace("-", "  -  "), 21),
        article("https://a.example/wire", WIRE, 20),
        article("https://c.example/other", "Something else entirely happened today.", 21),
    ]
    results = {r.canonical_url: r for r in deduplicate(batch, {})}
    assert results["https://a.example/wire"].relation == "original"
    copy = results["https://b.example/copy"]
    assert copy.relation == "exact"
    assert copy.duplicate_of == "https://a.example/wire"
    assert copy.cluster_key == "https://a.example/wire"
    assert results["https://c.example/other"].relation == "original"


def test_input_order_does_not_matter() -> None:
    batch = [article(f"https://x{i}.example/a", WIRE, 22 - i) for i in range(3)]
    forward = deduplicate(batch, {})
    backward = deduplicate(list(reversed(batch)), {})
    assert forward == backward
    assert [r.relation for r in forward] == ["original", "exact", "exact"]


def test_match_against_warehouse_history() -> None:
    known = {
        content_hash(WIRE): DedupResult(
            canonical_url="https://old.example/wire", cluster_key="cluster:7"
        )
    }
    (result,) = deduplicate([article("https://new.example/copy", WIRE, 21)], known)
    assert result.cluster_key == "cluster:7"
    assert result.duplicate_of == "https://old.example/wire"


def test_quote_marks_and_spacing_do_not_change_the_hash() -> None:
    assert content_hash("He said «yes»  today.") == content_hash('He said "yes" today.')
    assert content_hash("a b") != content_hash("a c")
