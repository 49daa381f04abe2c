"""Tests of newsingest.dedup.shingle_table: the batch's per-shingle arrays."""

from __future__ import annotations

import numpy as np

from newsingest.dedup.shingle_table import ShingleTable, absent, distinct, present

LOWEST, HIGHEST = -(1 << 63), (1 << 63) - 1


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_distinct_and_absent() -> None:
    assert distinct(ints(5, LOWEST, 5, HIGHEST, 0, 0)).tolist() == [LOWEST, 0, 5, HIGHEST]
    assert distinct(ints()).tolist() == []
    assert absent(ints(1, 4, 9), ints(2, 4, 8)).tolist() == [1, 9]
    assert absent(ints(1, 4), ints()).tolist() == [1, 4]
    assert present(ints(1, 4, 9), ints(2, 4, 8)).tolist() == [False, True, False]
    assert present(ints(1), ints()).tolist() == [False]


def test_register_keeps_existing_rows_when_growing() -> None:
    table = ShingleTable(cap=3)
    table.add_counts(ints(10, 30), ints(2, 7))
    table.post(ints(10, 10), ints(0, 1))
    table.register(ints(20, 40, 10))
    assert table.keys.tolist() == [10, 20, 30, 40]
    assert table.df.tolist() == [2, 0, 7, 0]
    assert table.posted.tolist() == [2, 0, 0, 0]
    assert table.founders_of(table.rows(ints(10, 20))).tolist() == [[0, 1, -1], [-1, -1, -1]]


def test_posting_stops_at_the_cap() -> None:
    table = ShingleTable(cap=2)
    # Three stored postings of one shingle (loads racing past the cap): two are kept.
    table.post(ints(7, 7, 7, 8), ints(4, 5, 6, 4))
    rows = table.rows(ints(7, 8))
    assert table.posted[rows].tolist() == [2, 1]
    assert table.founders_of(rows).tolist() == [[4, 5], [4, -1]]


def test_a_new_founder_is_counted_everywhere_and_posted_where_informative() -> None:
    table = ShingleTable(cap=2)
    table.add_counts(ints(1, 2), ints(2, 1))  # 1 is frequent, 2 is not
    table.register(ints(1, 2, 3))
    rows = table.rows(ints(1, 2, 3))
    informative = rows[table.df[rows] < table.cap]
    table.add_founder(9, rows, informative)
    assert table.df[rows].tolist() == [3, 2, 1]
    assert table.posted[rows].tolist() == [0, 1, 1]
    assert table.founders_of(rows).tolist() == [[-1, -1], [9, -1], [9, -1]]


def test_postings_match_a_plain_model_through_growth_and_slots() -> None:
    """Random registers, stored postings and new founders against a dict of lists:
    the first founder of a row and the others (in slots) come back in posting order."""
    rng = np.random.default_rng(5)
    cap = 4
    table = ShingleTable(cap=cap)
    model: dict[int, list[int]] = {}
    counts: dict[int, int] = {}
    for step in range(60):
        shingles = rng.integers(0, 300, size=int(rng.integers(1, 40)))
        if step % 3 == 0:
            table.register(shingles.astype(np.int64))
        elif step % 3 == 1:
            numbers = rng.integers(0, 1000, size=shingles.size)
            table.post(shingles.astype(np.int64), numbers.astype(np.int64))
            for shingle, number in zip(shingles.tolist(), numbers.tolist(), strict=True):
                held = model.setdefault(shingle, [])
                if len(held) < cap:
                    held.append(number)
        else:
            rows_of = distinct(shingles.astype(np.int64))
            table.register(rows_of)
            rows = table.rows(rows_of)
            table.add_founder(step, rows, rows)
            for shingle in rows_of.tolist():
                counts[shingle] = counts.get(shingle, 0) + 1
                held = model.setdefault(shingle, [])
                if len(held) < cap:
                    held.append(step)
    keys = np.array(sorted(model), dtype=np.int64)
    found = table.founders_of(table.rows(keys))
    for shingle, row in zip(keys.tolist(), found.tolist(), strict=True):
        assert row == model[shingle] + [-1] * (cap - len(model[shingle]))
    assert table.posted[table.rows(keys)].tolist() == [len(model[k]) for k in keys.tolist()]
    counted = np.array(sorted(counts), dtype=np.int64)
    assert table.df[table.rows(counted)].tolist() == [counts[k] for k in counted.tolist()]
