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
    assert table.founders[0].tolist() == [0, 1, -1]


def test_posting_stops_at_the_cap() -> None:
    table = ShingleTable(cap=2)
    # Three stored postings of one shingle (loads racing past the cap): two are kept.
    table.post(ints(7, 7, 7, 8), ints(4, 5, 6, 4))
    rows = table.rows(ints(7, 8))
    assert table.posted[rows].tolist() == [2, 1]
    assert table.founders[rows[0]].tolist() == [4, 5]


def test_a_new_founder_is_counted_everywhere_and_posted_where_informative() -> None:
    table = ShingleTable(cap=2)
    table.add_counts(ints(1, 2), ints(2, 1))  # 1 is frequent, 2 is not
    table.register(ints(1, 2, 3))
    rows = table.rows(ints(1, 2, 3))
    informative = rows[table.df[rows] < table.cap]
    table.add_founder(9, rows, informative)
    assert table.df[rows].tolist() == [3, 2, 1]
    assert table.posted[rows].tolist() == [0, 1, 1]
    assert table.founders[rows[1]].tolist() == [9, -1]
