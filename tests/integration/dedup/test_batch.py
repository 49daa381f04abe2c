"""batch.cluster_batch against stored near-duplicate state in PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsingest import warehouse
from newsingest.dedup import assign, batch, boilerplate, fingerprints, store, verify
from newsingest.dedup.fingerprints import content_hash
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings

SETTINGS = Settings()
DAY = datetime(2022, 1, 21, tzinfo=UTC)
rng = random.Random(11)
VOCAB = [f"w{i}" for i in range(3000)]
FOOTER = "Subscribe to the Daily Bugle newsletter for more stories like this one."
# Stored in 2 articles and in 2 of the batch: 4, under the boilerplate threshold (5).
# Its stored count read twice would make 6 and strip it.
PROMO = "Our partners at the county fair offer free parking and late opening hours all week long"


def story(words: int = 300) -> str:
    """Paragraphs of random words: unrelated stories share next to nothing."""
    tokens = [rng.choice(VOCAB) for _ in range(words)]
    return "\n".join(" ".join(tokens[i : i + 30]) + "." for i in range(0, words, 30))


def spin(text: str, share: float) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(VOCAB) + "x"
    return " ".join(words)


def doc(doc_id: str, text: str, hours: float, site: str = "bugle") -> DedupDoc:
    return DedupDoc(
        doc_id=doc_id,
        text=text,
        published_at=DAY + timedelta(hours=hours),
        site=site,
        content_hash=content_hash(text),
    )


def stored_history(conn: warehouse.Connection, stories: list[str]) -> None:
    """Founders of the stories a day earlier, and a footer the site repeats in 20 articles."""
    for i, text in enumerate(stories):
        store.store_founder(
            conn, f"https://old.example/{i}", published_at=DAY - timedelta(days=1),
            samples=fingerprints.keys(text).tolist(), algorithm=fingerprints.ALGORITHM,
            df_cap=SETTINGS.dedup_df_cap, sketch=verify.sketch(text).to_bytes(),
        )  # fmt: skip
    for _ in range(20):
        store.add_site_lines(conn, "bugle", [assign.line_hash(FOOTER)])
    for _ in range(2):
        store.add_site_lines(conn, "bugle", [assign.line_hash(PROMO)])


def make_docs(stories: list[str]) -> list[DedupDoc]:
    """Rewrites of stored stories, new stories and rewrites of those, most with the footer."""
    docs = [doc(f"https://new.example/re{i}", spin(text, 0.1) + "\n" + FOOTER, hours=i)
            for i, text in enumerate(stories)]  # fmt: skip
    fresh = [story() for _ in range(12)]
    fresh[0] += "\n" + PROMO
    fresh[11] += "\n" + PROMO
    docs += [doc(f"https://new.example/fresh{i}", text + "\n" + FOOTER, hours=i + 0.5)
             for i, text in enumerate(fresh)]  # fmt: skip
    docs += [doc(f"https://new.example/copy{i}", spin(text, 0.15), hours=i + 2, site="herald")
             for i, text in enumerate(fresh[:6])]  # fmt: skip
    return docs


@pytest.fixture
def seeded(warehouse_dsn: str) -> tuple[str, list[DedupDoc]]:
    stories = [story() for _ in range(8)]
    with warehouse.connect(warehouse_dsn) as conn:
        stored_history(conn, stories)
    return warehouse_dsn, make_docs(stories)


def cluster(dsn: str, docs: list[DedupDoc], chunk: int) -> list[DedupResult]:
    with warehouse.connect(dsn) as conn:
        return batch.cluster_batch(conn, docs, SETTINGS, chunk=chunk)


def test_history_and_batch_rewrites_are_linked(seeded: tuple[str, list[DedupDoc]]) -> None:
    dsn, docs = seeded
    results = {r.canonical_url: r for r in cluster(dsn, docs, batch.CHUNK)}
    assert len(results) == len(docs)
    for i in range(8):
        assert results[f"https://new.example/re{i}"].duplicate_of == f"https://old.example/{i}"
    for i in range(12):
        assert results[f"https://new.example/fresh{i}"].relation == "original"
    for i in range(6):
        copy = results[f"https://new.example/copy{i}"]
        assert copy.duplicate_of == f"https://new.example/fresh{i}"


def test_results_do_not_depend_on_the_chunk_size(seeded: tuple[str, list[DedupDoc]]) -> None:
    dsn, docs = seeded
    whole = cluster(dsn, docs, len(docs))
    assert cluster(dsn, docs, 1) == whole
    assert cluster(dsn, docs, 7) == whole
    # The stored footer count is read once however the batch is cut: stripped
    # alike, so the fingerprints of founders are the same too.
    assert [r.samples for r in cluster(dsn, list(reversed(docs)), 3)] == [r.samples for r in whole]


def test_texts_read_again_a_chunk_at_a_time_give_the_same_decisions(
    seeded: tuple[str, list[DedupDoc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is read once (a generator here) and its texts are then read back in
    blocks no larger than a chunk: the decisions are those of the texts held in memory."""
    dsn, docs = seeded
    whole = cluster(dsn, docs, len(docs))
    texts = {d.doc_id: d.text for d in docs}
    asked: list[list[str]] = []

    def bodies(doc_ids: list[str]) -> dict[str, str]:
        asked.append(list(doc_ids))
        return {doc_id: texts[doc_id] for doc_id in doc_ids}

    monkeypatch.setattr(boilerplate, "READ_BLOCK", 4)
    with warehouse.connect(dsn) as conn:
        streamed = batch.cluster_batch(conn, iter(docs), SETTINGS, bodies=bodies, chunk=4)
    assert streamed == whole
    # Chunks of 4, 8, then the remaining 14 documents.
    assert max(len(block) for block in asked) == len(docs) - 12
    assert {doc_id for block in asked for doc_id in block} == set(texts)


@pytest.mark.parametrize("lookup", ["site_line_counts", "seed_index", "stored_founders"])
def test_a_failing_lookup_raises_and_leaves_nothing_running(
    seeded: tuple[str, list[DedupDoc]], monkeypatch: pytest.MonkeyPatch, lookup: str
) -> None:
    dsn, docs = seeded

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("lookup failed")

    monkeypatch.setattr(store, lookup, broken)
    with pytest.raises(RuntimeError, match="lookup failed"):
        cluster(dsn, docs, 4)
    assert not [t for t in threading.enumerate() if t.name.startswith("dedup-lookup")]


def test_reindexing_reads_each_stored_line_count_once(warehouse_dsn: str) -> None:
    # Two founders share a line their site has in 3 articles (under the threshold of 5):
    # read once per founder and added up, it would count 6 and be stripped from the second.
    bodies = [story() + "\n" + PROMO, story() + "\n" + PROMO]
    with warehouse.connect(warehouse_dsn) as conn:
        for i, body in enumerate(bodies):
            url = f"https://bugle.example/{i}"
            cluster = conn.execute(
                "INSERT INTO news.story_clusters DEFAULT VALUES RETURNING cluster_id"
            ).fetchone()
            assert cluster is not None
            conn.execute(
                "INSERT INTO news.articles (canonical_url, url, feed_name, outlet, fetched_at, "
                "published_at, body, content_hash, cluster_id, extractor_version, "
                "first_run_key, last_run_key) "
                "VALUES (%s, %s, 'f', 'bugle', now(), %s, %s, 'h', %s, 'x', 'r', 'r')",
                (url, url, DAY + timedelta(hours=i), body, cluster["cluster_id"]),
            )
            store.store_founder(
                conn, url, published_at=DAY + timedelta(hours=i), samples=[i + 1],
                algorithm="an-older-version", df_cap=SETTINGS.dedup_df_cap, sketch=b"",
            )  # fmt: skip
        for _ in range(3):
            store.add_site_lines(conn, "bugle", [assign.line_hash(PROMO)])
        batch.reindex_stale(conn, SETTINGS, since=None)
        rows = conn.execute(
            "SELECT canonical_url, algorithm, samples FROM news.dedup_founders ORDER BY 1"
        ).fetchall()
    assert [r["algorithm"] for r in rows] == [fingerprints.ALGORITHM] * 2
    assert [r["samples"] for r in rows] == [fingerprints.keys(b).tolist() for b in bodies]


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dedup"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").strip()


def _store_founders(conn: warehouse.Connection, texts: dict[str, str]) -> None:
    """Founders stored as the load stores them: keys, sketch and their lines counted."""
    for url, text in texts.items():
        store.store_founder(
            conn, url, published_at=DAY - timedelta(days=1),
            samples=fingerprints.keys(text).tolist(), algorithm=fingerprints.ALGORITHM,
            df_cap=SETTINGS.dedup_df_cap, sketch=verify.sketch(text).to_bytes(),
        )  # fmt: skip
    store.add_founder_lines(conn, [assign.line_hashes(t) for t in texts.values()])


def test_a_truncated_lead_is_verified_against_a_stored_founder(warehouse_dsn: str) -> None:
    strike = _fixture("strike.txt")
    with warehouse.connect(warehouse_dsn) as conn:
        _store_founders(conn, {"https://old.example/strike": strike})
    lead = strike.splitlines()[0] + "\nAdvertisement"
    (result,) = cluster(warehouse_dsn, [doc("https://new.example/lead", lead, 1, site="")], 10)
    assert result.duplicate_of == "https://old.example/strike"


def test_a_footer_the_stored_founders_hold_links_nothing(warehouse_dsn: str) -> None:
    footer, news = _fixture("footer.txt"), _fixture("short_news.txt").splitlines()
    with warehouse.connect(warehouse_dsn) as conn:
        _store_founders(conn, {f"https://old.example/n{i}": f"{news[i]}\n{footer}" for i in (0, 1)})
    new_docs = [
        doc(f"https://new.example/n{i}", f"{news[i]}\n{footer}", i, site="") for i in (2, 3, 4)
    ]
    # Two founders and three unrelated texts of the batch hold it: boilerplate.
    results = cluster(warehouse_dsn, new_docs, 10)
    assert {r.relation for r in results} == {"original"}
    # The batch alone (three texts) would not say so: they link through the footer.
    alone = assign.deduplicate(new_docs, assign.Index(SETTINGS.dedup_df_cap), SETTINGS)
    assert {r.relation for r in alone} != {"original"}
