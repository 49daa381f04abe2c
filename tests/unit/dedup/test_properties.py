"""Properties of story clustering (hypothesis), through the API `newsingest dedup` uses:
JSONL documents {id, text, published_at?} in, one row per document out.

The order of documents with equal dates (or none) does not change any row, and clustering
the same batch again, in this process or a fresh one, gives the same rows. Batches are
copies of a few stories: whole, cut to overlapping windows of sentences, reworded, with
footers shared across stories (so that the site-free boilerplate pass has lines to judge).
Examples are derandomised (the "ci" profile of tests/conftest.py).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from newsingest.dedup import assign
from newsingest.dedup.jsonl import cluster, read_docs
from newsingest.settings import Settings, load_settings

SETTINGS = load_settings({})
FOOTERS = [
    "Sign up for the morning briefing and get the day's news in your inbox.",
    "Copyright 2024 Harbour Media Group. Reproduction without permission is prohibited.",
    "Follow our live coverage of the regional elections on the website.",
]
DATES = ["2024-03-01T09:00:00Z", "2024-03-01T12:00:00Z", "2024-03-02T09:00:00Z"]


def _story(rng: random.Random, sentences: int) -> list[str]:
    """Sentences of invented words: stories share no shingle by chance."""
    return [
        " ".join(f"w{rng.randrange(20_000)}" for _ in range(rng.randint(8, 16))) + "."
        for _ in range(sentences)
    ]


def _reword(rng: random.Random, line: str) -> str:
    return " ".join(f"x{rng.randrange(99)}" if rng.random() < 0.15 else w for w in line.split())


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """JSONL documents: copies of a few stories, some sharing footers and dates."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    stories = [_story(rng, draw(st.integers(6, 14))) for _ in range(draw(st.integers(1, 4)))]
    dated = draw(st.booleans())
    ids = draw(
        st.lists(
            st.text("abcdefgh0123", min_size=1, max_size=4), min_size=2, max_size=14, unique=True
        )
    )
    docs = []
    for doc_id in ids:
        story = draw(st.sampled_from(stories))
        start = draw(st.integers(0, len(story) - 3))
        end = draw(st.integers(start + 3, len(story)))
        lines = story[start:end]
        if draw(st.booleans()):  # a rewrite: about one word in seven changed
            lines = [_reword(rng, line) for line in lines]
        lines += draw(st.lists(st.sampled_from(FOOTERS), unique=True, max_size=2))
        doc: dict[str, Any] = {"id": doc_id, "text": "\n".join(lines)}
        if dated:
            doc["published_at"] = draw(st.sampled_from(DATES))
        docs.append(doc)
    return docs


def _rows(docs: list[dict[str, Any]], settings: Settings = SETTINGS) -> dict[str, dict[str, Any]]:
    """Cluster the documents as `newsingest dedup` does; rows by id."""
    rows = cluster(read_docs(json.dumps(d) for d in docs), settings)
    return {row["id"]: row for row in rows}


def _partition(rows: dict[str, dict[str, Any]]) -> set[frozenset[str]]:
    clusters: dict[int, set[str]] = {}
    for doc_id, row in rows.items():
        clusters.setdefault(row["cluster_id"], set()).add(doc_id)
    return {frozenset(ids) for ids in clusters.values()}


@settings(max_examples=200)
@given(batches(), st.randoms(use_true_random=False))
def test_the_order_of_a_batch_changes_no_row(
    docs: list[dict[str, Any]], rng: random.Random
) -> None:
    before = _rows(docs)
    shuffled = docs[:]
    rng.shuffle(shuffled)
    after = _rows(shuffled)
    assert _partition(after) == _partition(before)
    assert after == before


@settings(max_examples=100)
@given(batches())
def test_clustering_a_batch_again_changes_nothing(docs: list[dict[str, Any]]) -> None:
    first = _rows(docs)
    assert _rows(docs) == first
    assert _rows([dict(d) for d in docs]) == first


def test_a_fresh_process_with_another_hash_seed_gives_the_same_rows(tmp_path: Path) -> None:
    # Set and dict order of strings changes with PYTHONHASHSEED; decisions must not.
    rng = random.Random(11)
    stories = [_story(rng, 12) for _ in range(3)]
    docs = []
    for n in range(24):
        story = stories[n % 3]
        start = rng.randrange(0, 6)
        text = "\n".join(story[start : start + rng.randint(4, 6)] + FOOTERS[: n % 3])
        docs.append({"id": f"doc{n}", "text": text, "published_at": DATES[n % 2]})
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs))
    outputs = []
    for seed in ("1", "2"):
        target = tmp_path / f"rows{seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "newsingest.cli", "dedup", "--input", str(source),
             "--output", str(target)],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        outputs.append(target.read_text())
    assert outputs[0] == outputs[1]
    assert len({json.loads(line)["cluster_id"] for line in outputs[0].splitlines()}) >= 3


def test_site_free_boilerplate_does_not_depend_on_input_order() -> None:
    # Found by the property above. A line is boilerplate beside 4 unrelated texts, and
    # relatedness is not transitive: a~b and b~c, not a~c. Grouped greedily in input order,
    # (a, c, b, d, e) made 4 groups and (a, b, c, d, e) 3, so the footer was boilerplate in
    # one order only, and a rewrite joined its story in one order only.
    rng = random.Random(5)
    story, other, third = _story(rng, 7), _story(rng, 3), _story(rng, 3)
    footer = FOOTERS[0]
    texts = {
        "a": story[0:3],
        "b": story[2:5],
        "c": story[4:7],
        "d": other,
        "e": third,
    }
    docs = read_docs(
        json.dumps({"id": k, "text": "\n".join([*v, footer])}) for k, v in texts.items()
    )
    found = set()
    for order in itertools.permutations(docs):
        index = assign.Index(df_cap=SETTINGS.dedup_df_cap)
        assign.fingerprint_batch(order, index, SETTINGS)
        found.add(index.boilerplate)
    assert len(found) == 1
