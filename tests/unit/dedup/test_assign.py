"""Tests of newsingest.dedup.assign on small hand-made stories."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest

from newsingest.dedup.assign import (
    BLANK,
    Founder,
    Index,
    StoredFounder,
    StoredState,
    admit,
    assign,
    deduplicate,
    fingerprint_batch,
    line_hash,
    line_hashes,
    seed,
    unread_founders,
)
from newsingest.dedup.fingerprints import content_hash, keys_from_text
from newsingest.dedup.shingle_table import I64
from newsingest.dedup.verify import Sketch, decode
from newsingest.records import DedupDoc
from newsingest.settings import Settings

SETTINGS = Settings()
rng = random.Random(7)
VOCAB = [f"w{i}" for i in range(3000)]


def story(words: int = 400) -> str:
    """A synthetic article: paragraphs of random words (unrelated stories share little)."""
    tokens = [rng.choice(VOCAB) for _ in range(words)]
    return "\n".join(" ".join(tokens[i : i + 40]) + "." for i in range(0, words, 40))


def doc(doc_id: str, text: str, day: int = 21, site: str = "") -> DedupDoc:
    return DedupDoc(
        doc_id=doc_id,
        text=text,
        published_at=datetime(2022, 1, day, tzinfo=UTC),
        site=site,
        content_hash=content_hash(text),
    )


def run(*docs: DedupDoc, index: Index | None = None) -> dict[str, object]:
    index = index or Index(df_cap=SETTINGS.dedup_df_cap)
    return {r.canonical_url: r for r in deduplicate(docs, index, SETTINGS)}


def spin(text: str, share: float) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(VOCAB) + "x"
    return " ".join(words)


def test_exact_copy_joins_the_earliest_original() -> None:
    wire = story()
    results = run(doc("b/copy", wire.upper(), day=22), doc("a/wire", wire, day=20))
    assert results["a/wire"].relation == "original"
    assert results["b/copy"].relation == "exact"
    assert results["b/copy"].duplicate_of == "a/wire"
    assert results["b/copy"].cluster_key == "a/wire"


def test_rewrites_link_and_unrelated_stories_do_not() -> None:
    wire = story()
    paragraphs = wire.split("\n")
    results = run(
        doc("wire", wire, day=20),
        doc("spun", spin(wire, 0.2)),
        doc("truncated", "\n".join(paragraphs[:3])),
        doc("reordered", "\n".join([paragraphs[0], *reversed(paragraphs[1:])])),
        doc("junk", wire + "\nSupport us now. Subscribe to our newsletter for daily updates."),
        doc("other", story()),
    )
    for name in ("spun", "truncated", "reordered", "junk"):
        assert results[name].cluster_key == "wire", name
        assert results[name].relation == "near", name
    assert results["other"].relation == "original"


def test_shared_quotes_alone_do_not_link() -> None:
    # The shared quote opens each text and is 60% of it: enough to link them if it counted.
    words = [rng.choice(VOCAB) for _ in range(270)]
    quote = "“" + ". ".join(" ".join(words[i : i + 30]) for i in range(0, 270, 30)) + ".”"
    first = quote + "\n" + story(180)
    second = quote + "\n" + story(180)
    results = run(doc("first", first), doc("second", second))
    assert results["second"].relation == "original"
    unquoted = run(doc("first", first.replace("“", "")), doc("second", second.replace("“", "")))
    assert unquoted["second"].relation == "near"


def test_site_boilerplate_does_not_link_unrelated_articles() -> None:
    footer = "\n".join(story(60) for _ in range(4))
    docs = [doc(f"site/{i}", story(150) + "\n" + footer, site="site") for i in range(8)]
    results = run(*docs)
    assert {r.relation for r in results.values()} == {"original"}


def test_stitched_page_links_main_story_and_records_the_second() -> None:
    first, second = story(500), story(300)
    page = first + "\n" + second
    results = run(doc("first", first, day=19), doc("second", second, day=20), doc("page", page))
    assert results["page"].cluster_key == "first"
    assert results["page"].relation == "stitched"
    assert results["page"].secondary_of == "second"


def test_founders_only_no_chaining() -> None:
    # b copies the second half of a; c copies the first half of b's own text.
    a = story(400)
    half = "\n".join(a.split("\n")[5:])
    b = half + "\n" + story(400)
    c = "\n".join(b.split("\n")[5:])  # b's new text only
    results = run(doc("a", a, day=18), doc("b", b, day=19), doc("c", c, day=20))
    assert results["b"].cluster_key == "a"
    assert results["c"].relation == "original"


def test_window_keeps_old_founders_out() -> None:
    wire = story()
    results = run(doc("old", wire, day=1), doc("new", spin(wire, 0.05), day=30))
    assert results["new"].relation == "original"


def test_input_order_does_not_matter() -> None:
    wire = story()
    docs = [doc(f"x{i}", spin(wire, 0.1), day=20 + i) for i in range(4)]
    forward = run(*docs)
    backward = run(*reversed(docs))
    assert forward == backward


def stored_state(samples: I64 | list[int], founder_id: int) -> StoredState:
    """Stored state of one founder holding these samples (each in it alone)."""
    shingles = np.sort(np.asarray(samples, dtype=np.int64))
    return StoredState(
        shingles=shingles,
        counts=np.ones(shingles.size, dtype=np.int64),
        posted=shingles,
        posted_by=np.full(shingles.size, founder_id, dtype=np.int64),
    )


@dataclass
class Rewrite:
    """A stored founder (id 42, its postings seeded into `index`) and a new rewrite of it."""

    founder_size: int
    index: Index
    new: DedupDoc
    samples: dict[str, I64]
    sketch: Sketch  # the founder's, as verification compares it


def rewrite_of_a_stored_founder() -> Rewrite:
    wire = story()
    (founder,) = deduplicate([doc("stored", wire, day=20)], Index(SETTINGS.dedup_df_cap), SETTINGS)
    index = Index(df_cap=SETTINGS.dedup_df_cap)
    samples = keys_from_text(founder.samples)
    seed(index, stored_state(samples, 42))
    new = doc("new", spin(wire, 0.1))
    sketch = decode(founder.sketch)
    return Rewrite(samples.size, index, new, fingerprint_batch([new], index, SETTINGS), sketch)


def test_seeded_history_is_matched() -> None:
    case = rewrite_of_a_stored_founder()
    wanted = unread_founders([case.new], case.samples, case.index, SETTINGS)
    assert wanted.tolist() == [42]
    when = datetime(2022, 1, 20, tzinfo=UTC)
    stored = StoredFounder("stored", case.founder_size, when, 7, case.sketch.to_bytes())
    admit(case.index, wanted, {42: stored})
    assert case.index.founder("stored") == Founder(
        "stored", "cluster:7", case.founder_size, when, case.sketch
    )
    (result,) = assign([case.new], case.samples, case.index, SETTINGS)
    assert result.cluster_key == "cluster:7"
    assert result.duplicate_of == "stored"


def test_only_founders_sharing_enough_samples_are_read() -> None:
    new = doc("new", story())
    index = Index(df_cap=SETTINGS.dedup_df_cap)
    samples = fingerprint_batch([new], index, SETTINGS)
    mine = sorted(samples["new"].tolist())
    enough = SETTINGS.dedup_min_shared
    seed(index, stored_state(mine[: enough - 1], 41))  # one sample short
    seed(index, stored_state(mine[enough : 2 * enough], 42))
    seed(index, stored_state([-1, -2, -3, -4, -5], 43))  # shares nothing
    assert unread_founders([new], samples, index, SETTINGS).tolist() == [42]


def test_a_founder_read_outside_the_window_is_not_compared() -> None:
    case = rewrite_of_a_stored_founder()
    wanted = unread_founders([case.new], case.samples, case.index, SETTINGS)
    admit(case.index, wanted, {})  # not in the window
    (result,) = assign([case.new], case.samples, case.index, SETTINGS)
    assert result.relation == "original"
    assert case.index.founder("stored") is None


def test_comparing_a_founder_never_read_is_an_error() -> None:
    case = rewrite_of_a_stored_founder()
    with pytest.raises(RuntimeError, match="stored founder 42 was compared before it was read"):
        assign([case.new], case.samples, case.index, SETTINGS)


def test_quote_marks_and_spacing_do_not_change_the_hash() -> None:
    assert content_hash("He said «yes»  today.") == content_hash('He said "yes" today.')
    assert content_hash("He said “yes” today.") == content_hash("he said yes today.")
    assert content_hash("a b") != content_hash("a c")


@pytest.mark.parametrize(
    "text",
    [
        "First line.\n\nSecond  line,\twith tabs.\r\nThird\x85fourth\u2028fifth\n",
        "  Leading and trailing  \n   \nSTRASSE Straße İstanbul ΣΊΣΥΦΟΣ\x0bnext\x1cnext\n",
        "",
        "\n\n",
        "one line without a break",
        "single spaced\nlines only\n\nand a blank one",
        "caf\u00e9 cr\u00e8me\nno\u00a0break space",
    ],
)
def test_line_hashes_hash_each_line_as_line_hash_does(text: str) -> None:
    assert line_hashes(text) == [line_hash(line) for line in text.splitlines()]
    assert line_hash(" \t ") == BLANK


def test_line_hashes_agree_with_line_hash_on_random_spacing() -> None:
    pieces = ["a", "Bc", "ß", "İ", "é", "Σ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\xa0",
              "\u2028", "\x0c", "\x85", "\u200b", "—", "🙂"]  # fmt: skip
    shuffle = random.Random(3)
    for _ in range(3000):
        text = "".join(shuffle.choices(pieces, k=shuffle.randrange(0, 25)))
        assert line_hashes(text) == [line_hash(line) for line in text.splitlines()], repr(text)
