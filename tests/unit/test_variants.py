"""Tests of newsingest.variants, the labelled near-duplicate generator."""

from __future__ import annotations

import random
from collections import Counter

from newsingest.variants import NEGATIVE_KINDS, POSITIVE_KINDS, generate, paragraphs, sentences

rng = random.Random(11)
WORDS = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
         for _ in range(4000)]  # fmt: skip


def article() -> str:
    """Eight paragraphs of two capitalised sentences each."""
    return "\n".join(
        " ".join(
            " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(2)
        )
        for _ in range(8)
    )


TEXTS = [article() for _ in range(100)]


def test_same_seed_same_set_and_other_seed_differs() -> None:
    assert generate(TEXTS, seed=1) == generate(TEXTS, seed=1)
    assert generate(TEXTS, seed=1) != generate(TEXTS, seed=2)


def test_every_kind_is_generated_and_labelled() -> None:
    docs = generate(TEXTS, seed=5, variants_per_story=6)
    kinds = Counter(d.kind for d in docs)
    assert set(POSITIVE_KINDS) <= set(kinds)
    assert set(NEGATIVE_KINDS) <= set(kinds)
    by_id = {d.doc_id: d for d in docs}
    assert len(by_id) == len(docs)
    for doc in docs:
        if doc.kind in POSITIVE_KINDS:
            original = by_id[doc.source]
            assert original.kind == "original" and doc.story == original.story
            assert doc.site != "wire"
        if doc.kind in NEGATIVE_KINDS:
            assert not any(d.story == doc.story for d in docs if d is not doc)
        if doc.kind == "stitched":
            assert by_id[doc.secondary].story != doc.story
            assert by_id[doc.secondary].published_at <= doc.published_at


FOOTER_SITES = {f"site{i:02d}" for i in range(0, 40, 2)}


def test_rewrites_do_what_their_name_says() -> None:
    docs = generate(TEXTS, seed=9, variants_per_story=13)
    by_id = {d.doc_id: d for d in docs}

    def body(doc_id: str) -> str:
        # Strip a site footer: only the story text is compared.
        lines = paragraphs(by_id[doc_id].text)
        if by_id[doc_id].site in FOOTER_SITES:
            lines = lines[:-3]
        return "\n".join(lines)

    for doc in docs:
        if doc.kind not in POSITIVE_KINDS:
            continue
        original = body(doc.source)
        text = body(doc.doc_id)
        if doc.kind == "truncated":
            assert len(text) < len(original)
            assert original.startswith(text.split(" ")[0])
        elif doc.kind == "dateline":
            assert ") — " in text.split("\n")[0]
        elif doc.kind == "junk":
            assert text.startswith(original)
        elif doc.kind == "reordered":
            assert sorted(paragraphs(text)) == sorted(paragraphs(original))
        elif doc.kind == "spin30":
            changed = sum(a != b for a, b in zip(text.split(), original.split(), strict=False))
            assert changed >= 0.2 * len(original.split())
        elif doc.kind == "dropped":
            assert len(sentences(text)) < len(sentences(original))


def test_too_few_texts_is_a_clear_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="too few texts"):
        generate(TEXTS[:12], seed=1, variants_per_story=13)


def test_negatives_never_reuse_a_text() -> None:
    docs = generate(TEXTS, seed=3)
    negatives = [d for d in docs if d.kind in NEGATIVE_KINDS]
    first_sentences = [sentences(d.text)[0] for d in negatives]
    assert len(first_sentences) == len(set(first_sentences))
