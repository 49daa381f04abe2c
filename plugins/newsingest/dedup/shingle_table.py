"""A batch's per-shingle near-duplicate state in numpy arrays: frequencies and posted founders."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


def run_starts(ordered: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
    """True where a sorted array's value differs from the one before (and at 0)."""
    starts = np.empty(ordered.size, dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return starts


def distinct(values: I64) -> I64:
    """Sorted distinct values (np.unique's hashing costs several times more on int64)."""
    ordered = np.sort(values)
    found: I64 = ordered[run_starts(ordered)]
    return found


def present(values: I64, keys: I64) -> npt.NDArray[np.bool_]:
    """Whether each value is among the sorted keys."""
    if not keys.size:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), keys.size - 1)
    found: npt.NDArray[np.bool_] = keys[at] == values
    return found


def absent(values: I64, keys: I64) -> I64:
    """The values not among the sorted keys."""
    missing: I64 = values[~present(values, keys)]
    return missing


class ShingleTable:
    """The shingles a batch touches, each with its founder count and up to `cap` posted founders.

    Rows are kept sorted by shingle, so a document's lookups are a few
    vector operations instead of a hundred dict probes (those were most of
    the assign step). Founders are numbers; the index keeps what they stand for.
    A shingle is posted for at most `cap` founders, since posting stops once
    its frequency reaches the cap.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.keys: I64 = np.empty(0, np.int64)
        self.df: I64 = np.empty(0, np.int64)
        self.posted: I64 = np.empty(0, np.int64)  # used columns of founders, per row
        self.founders: I32 = np.full((0, cap), -1, np.int32)  # -1: unused

    def rows(self, shingles: I64) -> I64:
        """Row numbers of shingles already in the table."""
        return np.searchsorted(self.keys, shingles)

    def register(self, shingles: I64) -> None:
        """Add rows (frequency 0, no founders) for the shingles not in the table yet."""
        new = absent(shingles, self.keys)
        if not new.size:
            return
        # Two sorted runs of distinct values: the stable sort merges them in linear time.
        keys = np.sort(np.concatenate([self.keys, distinct(new)]), kind="stable")
        old = np.searchsorted(keys, self.keys)
        df, posted = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.int64)
        founders = np.full((keys.size, self.cap), -1, np.int32)
        df[old], posted[old], founders[old] = self.df, self.posted, self.founders
        self.keys, self.df, self.posted, self.founders = keys, df, posted, founders

    def add_counts(self, shingles: I64, counts: I64) -> None:
        """Add stored founder counts (each shingle once, registered or not)."""
        self.register(shingles)
        self.df[self.rows(shingles)] += counts

    def post(self, shingles: I64, numbers: I64) -> None:
        """Post stored founders (numbers) for shingles, pairwise; beyond the cap dropped.

        More than `cap` can only come from concurrent loads racing past the
        cap; the first `cap` already say the shingle is shared.
        """
        if not shingles.size:
            return
        self.register(distinct(shingles))
        order = np.argsort(self.rows(shingles), kind="stable")
        rows, numbers = self.rows(shingles)[order], numbers[order]
        # Each pair's rank among the pairs of its row: its column after those used.
        starts = np.flatnonzero(run_starts(rows))
        rank = np.arange(rows.size) - np.repeat(starts, np.diff(starts, append=rows.size))
        column = self.posted[rows] + rank
        fits = column < self.cap
        self.founders[rows[fits], column[fits]] = numbers[fits]
        np.add.at(self.posted, rows[fits], 1)

    def add_founder(self, number: int, rows: I64, informative: I64) -> None:
        """Count a new founder in all its rows and post it in its informative ones."""
        self.founders[informative, self.posted[informative]] = number
        self.posted[informative] += 1
        self.df[rows] += 1
