"""The batch lookups of near-duplicate state (seed_index, site_line_counts) against stored rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from newsingest import warehouse
from newsingest.dedup import store
from newsingest.dedup.assign import StoredState

DAY = datetime(2022, 1, 21, tzinfo=UTC)
LOWEST, HIGHEST = -(1 << 63), (1 << 63) - 1


def frequencies(state: StoredState) -> dict[int, int]:
    return dict(zip(state.shingles.tolist(), state.counts.tolist(), strict=True))


def named(
    conn: warehouse.Connection,
    state: StoredState,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per posting of a founder stored_founders reads: its shingle and the founder's fields."""
    founders = store.stored_founders(
        conn, state.posted_by, algorithm="v1", since=since, until=until
    )
    rows = []
    for shingle, founder_id in zip(state.posted.tolist(), state.posted_by.tolist(), strict=True):
        founder = founders.get(founder_id)
        if founder is not None:
            rows.append({"shingle": shingle, "canonical_url": founder.canonical_url,
                         "size": founder.size, "published_at": founder.published_at,
                         "cluster_id": founder.cluster_id})  # fmt: skip
    return rows


def posted_urls(conn: warehouse.Connection, state: StoredState) -> set[tuple[int, str]]:
    """Every posting as (shingle, founder URL), whatever the founder's window or algorithm."""
    rows = conn.execute("SELECT founder_id, canonical_url FROM news.dedup_founders")
    urls = {row["founder_id"]: row["canonical_url"] for row in rows}
    pairs = zip(state.posted.tolist(), state.posted_by.tolist(), strict=True)
    return {(shingle, urls[founder_id]) for shingle, founder_id in pairs}


def store_one(
    conn: warehouse.Connection,
    url: str,
    samples: list[int],
    *,
    published_at: datetime | None = DAY,
    algorithm: str = "v1",
    df_cap: int = 2,
) -> None:
    store.store_founder(
        conn, url, published_at=published_at, samples=samples, algorithm=algorithm,
        df_cap=df_cap, sketch=b"",
    )  # fmt: skip


def test_seed_index_reads_frequencies_and_postings_of_current_founders_in_window(
    warehouse_dsn: str,
) -> None:
    with warehouse.connect(warehouse_dsn) as conn:
        store_one(conn, "https://a.example/1", [1, 2, 3, LOWEST])
        store_one(conn, "https://a.example/2", [2, 3, 4], published_at=DAY + timedelta(days=1))
        # 2 is now in three founders, over the cap of 2: frequent, not posted for this one.
        store_one(conn, "https://a.example/3", [2, 5, HIGHEST])
        store_one(conn, "https://a.example/old", [6], published_at=DAY - timedelta(days=30))
        store_one(conn, "https://a.example/undated", [8], published_at=None)
        store_one(conn, "https://a.example/v0", [7], algorithm="v0")
        cluster = conn.execute(
            "INSERT INTO news.story_clusters DEFAULT VALUES RETURNING cluster_id"
        ).fetchone()
        assert cluster is not None
        conn.execute(
            "INSERT INTO news.articles (canonical_url, url, feed_name, fetched_at, body, "
            "content_hash, cluster_id, extractor_version, first_run_key, last_run_key) "
            "VALUES (%s, %s, 'f', now(), 'text', 'h', %s, 'x', 'r', 'r')",
            ("https://a.example/1", "https://a.example/1", cluster["cluster_id"]),
        )
        shingles = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, LOWEST, HIGHEST]
        state = store.seed_index(conn, iter(shingles), df_cap=2)
        window = {"since": DAY - timedelta(days=7), "until": DAY + timedelta(days=7)}
        found = {(r["shingle"], r["canonical_url"]): r for r in named(conn, state, **window)}
        unbounded = named(conn, state)
        every_posting = posted_urls(conn, state)
        v0 = store.stored_founders(conn, state.posted_by, algorithm="v0", since=None, until=None)
        empty = store.seed_index(conn, [], df_cap=2)
        none_read = store.stored_founders(conn, [], algorithm="v1", since=None, until=None)
    # Founders are counted up to the cap: 2 is in three, frequent either way.
    assert frequencies(state) == {
        1: 1,
        2: 2,
        3: 2,
        4: 1,
        5: 1,
        6: 1,
        7: 1,
        8: 1,
        LOWEST: 1,
        HIGHEST: 1,
    }
    assert set(found) == {
        (1, "https://a.example/1"), (LOWEST, "https://a.example/1"),
        (4, "https://a.example/2"), (5, "https://a.example/3"), (HIGHEST, "https://a.example/3"),
        (8, "https://a.example/undated"),
    }  # fmt: skip
    first = found[1, "https://a.example/1"]
    assert (first["size"], first["published_at"]) == (4, DAY)
    assert first["cluster_id"] == cluster["cluster_id"]
    assert found[5, "https://a.example/3"]["size"] == 2
    assert found[5, "https://a.example/3"]["cluster_id"] is None
    assert {(r["shingle"], r["canonical_url"]) for r in unbounded} == set(found) | {
        (6, "https://a.example/old")
    }
    # The lookup itself posts every founder (by id); reading them applies window and algorithm.
    assert every_posting == set(found) | {(6, "https://a.example/old"), (7, "https://a.example/v0")}
    assert [f.canonical_url for f in v0.values()] == ["https://a.example/v0"]
    assert frequencies(empty) == {}
    assert empty.posted.size == empty.posted_by.size == 0
    assert none_read == {}


def test_seed_index_with_many_shingles(warehouse_dsn: str) -> None:
    rng = random.Random(5)
    samples = sorted({rng.randrange(LOWEST, HIGHEST) for _ in range(20_000)})
    with warehouse.connect(warehouse_dsn) as conn:
        store_one(conn, "https://a.example/big", samples[::2], df_cap=10)
        postings = store.seed_index(conn, samples, df_cap=10)
        rows = named(conn, postings)
    assert frequencies(postings) == dict.fromkeys(samples[::2], 1)
    assert sorted(r["shingle"] for r in rows) == samples[::2]


def test_site_line_counts(warehouse_dsn: str) -> None:
    with warehouse.connect(warehouse_dsn) as conn:
        store.add_site_lines(conn, "site-a", [10, 11, 4_294_967_295])
        store.add_site_lines(conn, "site-a", [10])
        store.add_site_lines(conn, "b", [10])
        counts = store.site_line_counts(
            conn,
            iter([("site-a", 10), ("site-a", 11), ("site-a", 12), ("b", 10), ("c", 10),
                  ("site-a", 10), ("site-a", 4_294_967_295)]),
        )  # fmt: skip
        empty = store.site_line_counts(conn, [])
    assert counts == {("site-a", 10): 2, ("site-a", 11): 1, ("b", 10): 1,
                      ("site-a", 4_294_967_295): 1}  # fmt: skip
    assert empty == {}
