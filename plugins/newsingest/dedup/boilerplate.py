"""Boilerplate without a site label: lines that recur beside unrelated texts.

Footers, navigation, prompts and disclaimers are spread across many sites by
syndication networks and templates, and a text-only batch names no site at
all. A line is boilerplate when it stands beside `dedup_boilerplate_contexts`
unrelated texts: stored founders holding it (each a story of its own) plus
groups of the batch's documents holding it that share nothing else. Copies
of one story share their lines too, but also the rest of their text: they
make one group, so a story copied many times keeps its lines, even when
some of its copies (a truncated lead with a link or a caption of its own)
look unrelated: a line whose largest group holds half of its examined
holders stands beside one story's texts, and is that story's.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from newsingest.dedup import fingerprints
from newsingest.dedup.shingle_table import I64, present, run_starts
from newsingest.records import DedupDoc

LOGGER = logging.getLogger(__name__)

BLANK = 0  # line hash of a blank line (see assign.line_hashes)
# Documents of a line examined for unrelated groups (enough to find a few).
MAX_HOLDERS = 16
# A document with fewer word 3-grams than this left outside frequent lines
# says nothing about them (a truncated lead with a junk line or a footer).
MIN_RESIDUAL = 12
# Two documents sharing this many word 3-grams outside frequent lines are related.
RELATED = 3


def without_lines(text: str, hashes: Sequence[int], drop: set[int] | frozenset[int]) -> str:
    """The text without the lines whose hash is in drop."""
    if not drop.intersection(hashes):
        return text
    lines = text.splitlines()
    return "\n".join(line for line, h in zip(lines, hashes, strict=True) if h not in drop)


def _groups(holders: Sequence[int], residual: Callable[[int], I64]) -> list[int]:
    """Sizes of the groups of mutually unrelated documents among holders."""
    groups: list[list[I64]] = []
    for holder in holders:
        samples = residual(holder)
        if samples.size < MIN_RESIDUAL:
            continue
        for group in groups:
            if any(np.intersect1d(samples, other, assume_unique=True).size >= RELATED
                   for other in group):  # fmt: skip
                group.append(samples)
                break
        else:
            groups.append([samples])
    return [len(group) for group in groups]


def _one_story(sizes: Sequence[int]) -> bool:
    """Whether the holders' largest group (two or more related texts) holds half of them."""
    return bool(sizes) and max(sizes) >= 2 and 2 * max(sizes) >= sum(sizes)


# Texts of documents by doc id (read again from where they are kept).
Bodies = Callable[[Sequence[str]], Mapping[str, str]]
# Documents whose texts are read at once while residuals are computed.
READ_BLOCK = 1000


def _frequent(
    docs: Sequence[DedupDoc],
    hashes: Mapping[str, Sequence[int]],
    stored: Mapping[int, int],
    known: set[int],
    contexts: int,
) -> dict[int, tuple[int, ...]]:
    """The lines (not known) that enough holders, with stored founders, make candidates for
    boilerplate, each with its holders' numbers in order.

    Counted in arrays: a dict of holder lists for every line of a large day took
    more memory than the day's texts.
    """
    lines = np.concatenate(
        [np.empty(0, np.uint64), *(np.asarray(hashes[d.doc_id], np.uint64) for d in docs)]
    )
    owners = np.repeat(np.arange(len(docs), dtype=np.uint64), [len(hashes[d.doc_id]) for d in docs])
    # (line, holder) pairs as one uint64 each (line hashes are 32-bit), distinct and sorted.
    pairs = np.unique((lines << np.uint64(32)) | owners)
    line, holder = (pairs >> np.uint64(32)).astype(np.int64), (pairs & 0xFFFFFFFF).astype(np.int64)
    keep = line != BLANK
    line, holder = line[keep], holder[keep]
    starts = np.flatnonzero(run_starts(line))
    counts = np.diff(starts, append=line.size)
    distinct_lines = line[starts]
    held_before = np.zeros(distinct_lines.size, np.int64)
    if stored:
        stored_lines = np.fromiter(stored.keys(), np.int64, len(stored))
        stored_counts = np.fromiter(stored.values(), np.int64, len(stored))
        order = np.argsort(stored_lines)
        stored_lines, stored_counts = stored_lines[order], stored_counts[order]
        found = present(distinct_lines, stored_lines)
        held_before[found] = stored_counts[np.searchsorted(stored_lines, distinct_lines[found])]
    frequent = np.flatnonzero(counts + held_before >= contexts)
    return {
        h: tuple(holder[starts[i] : starts[i] + counts[i]].tolist())
        for i, h in zip(frequent.tolist(), distinct_lines[frequent].tolist(), strict=True)
        if h not in known
    }


def _residuals(
    docs: Sequence[DedupDoc],
    hashes: Mapping[str, Sequence[int]],
    drop: set[int],
    examined: Sequence[int],
    bodies: Bodies | None,
) -> dict[int, I64]:
    """The word 3-grams of each examined document outside the frequent lines."""
    found: dict[int, I64] = {}
    for start in range(0, len(examined), READ_BLOCK):
        block = [docs[n] for n in examined[start : start + READ_BLOCK]]
        texts = bodies([d.doc_id for d in block]) if bodies else {d.doc_id: d.text for d in block}
        for n, doc in zip(examined[start : start + READ_BLOCK], block, strict=True):
            text = without_lines(texts[doc.doc_id], hashes[doc.doc_id], drop)
            found[n] = fingerprints.shingle_array(text)
    return found


def batch_boilerplate(
    docs: Sequence[DedupDoc],
    hashes: Mapping[str, Sequence[int]],
    stored: Mapping[int, int],
    contexts: int,
    bodies: Bodies | None = None,
) -> frozenset[int]:
    """The line hashes of a batch that are boilerplate, whatever site they come from.

    Args:
        docs: the batch in processing order (assign.processing_order): the
            first holders of a line, in this order, are the ones examined.
        hashes: line hashes of each document (assign.line_hashes).
        stored: stored founders holding each line (lines absent: none).
        contexts: unrelated texts a line must stand beside to be boilerplate.
        bodies: reads the texts of the documents examined (None: the documents hold them).

    Returns:
        Boilerplate line hashes (of the batch's lines and the stored ones counted).
    """
    known = {h for h, founders in stored.items() if founders >= contexts}
    frequent = _frequent(docs, hashes, stored, known, contexts)
    if not frequent:
        return frozenset(known)
    drop = known | frequent.keys()
    # Lines held by the same documents (a footer's lines) are decided together.
    by_holders: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for h, holding in frequent.items():
        by_holders[holding].append(h)
    # Only the documents examined: the first holders of each line.
    examined = sorted({n for held in by_holders for n in held[:MAX_HOLDERS]})
    residual = _residuals(docs, hashes, drop, examined, bodies)
    found = set(known)
    for held, lines in by_holders.items():
        sizes = _groups(held[:MAX_HOLDERS], residual.__getitem__)
        # Each stored founder holding a line is a story of its own.
        if _one_story([*sizes, *[1] * max(stored.get(h, 0) for h in lines)]):
            continue
        found.update(h for h in lines if len(sizes) + stored.get(h, 0) >= contexts)
    return frozenset(found)
