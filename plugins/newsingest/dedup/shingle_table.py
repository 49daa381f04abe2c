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

    Most shingles of a day are posted for one founder: each row holds its first
    founder, and only rows posted for more get a slot of the other `cap - 1`
    columns (a full row of `cap` for every shingle was most of a large day's memory).
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.keys: I64 = np.empty(0, np.int64)
        self.df: I32 = np.empty(0, np.int32)
        self.posted: I32 = np.empty(0, np.int32)  # founders posted, per row
        self._first: I32 = np.empty(0, np.int32)  # the first founder posted (-1: none)
        self._slot: I32 = np.empty(0, np.int32)  # row of _more holding the others (-1: none)
        self._more: I32 = np.full((0, max(0, cap - 1)), -1, np.int32)
        self._slots = 0  # rows of _more in use (it grows by doubling)

    def rows(self, shingles: I64) -> I64:
        """Row numbers of shingles already in the table."""
        return np.searchsorted(self.keys, shingles)

    def founders_of(self, rows: I64) -> I32:
        """The founders posted in these rows, one row of `cap` each (-1: unused)."""
        found = np.full((rows.size, self.cap), -1, np.int32)
        found[:, 0] = self._first[rows]
        slots = self._slot[rows]
        more = slots >= 0
        found[more, 1:] = self._more[slots[more]]
        return found

    def register(self, shingles: I64) -> None:
        """Add rows (frequency 0, no founders) for the shingles not in the table yet."""
        new = absent(shingles, self.keys)
        if not new.size:
            return
        # Two sorted runs of distinct values: the stable sort merges them in linear time.
        keys = np.sort(np.concatenate([self.keys, distinct(new)]), kind="stable")
        old = np.searchsorted(keys, self.keys)
        # One column at a time, each old one let go before the next is made.
        for name, fill in (("df", 0), ("posted", 0), ("_first", -1), ("_slot", -1)):
            column = np.full(keys.size, fill, np.int32)
            column[old] = getattr(self, name)
            setattr(self, name, column)
        self.keys = keys

    def add_counts(self, shingles: I64, counts: I64) -> None:
        """Add stored founder counts (each shingle once, registered or not)."""
        self.register(shingles)
        self.df[self.rows(shingles)] += counts.astype(np.int32)

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
        self._put(rows, self.posted[rows] + rank, numbers)

    def add_founder(self, number: int, rows: I64, informative: I64) -> None:
        """Count a new founder in all its rows and post it in its informative ones."""
        self._put(informative, self.posted[informative], np.full(informative.size, number))
        self.df[rows] += 1

    def _put(self, rows: I64, columns: npt.NDArray[np.integer], numbers: I64) -> None:
        """Post numbers in rows at columns (rows may repeat, at different columns)."""
        fits = columns < self.cap
        rows, columns, numbers = rows[fits], columns[fits], numbers[fits].astype(np.int32)
        first = columns == 0
        self._first[rows[first]] = numbers[first]
        later = ~first
        if later.any():
            need = distinct(rows[later][self._slot[rows[later]] < 0])
            if need.size:
                self._grow(self._slots + need.size)
                self._slot[need] = np.arange(self._slots, self._slots + need.size)
                self._slots += need.size
            self._more[self._slot[rows[later]], columns[later] - 1] = numbers[later]
        np.add.at(self.posted, rows, 1)

    def _grow(self, slots: int) -> None:
        """Room for this many slots in _more (doubling: rows are added a few at a time)."""
        if slots <= self._more.shape[0]:
            return
        more = np.full((max(slots, 2 * self._more.shape[0]), self.cap - 1), -1, np.int32)
        more[: self._slots] = self._more[: self._slots]
        self._more = more
