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

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from newsingest.dedup import fingerprints
from newsingest.dedup.shingle_table import I64
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


def batch_boilerplate(
    docs: Sequence[DedupDoc],
    hashes: Mapping[str, Sequence[int]],
    stored: Mapping[int, int],
    contexts: int,
) -> frozenset[int]:
    """The line hashes of a batch that are boilerplate, whatever site they come from.

    Args:
        docs: the batch in processing order (assign.processing_order): the
            first holders of a line, in this order, are the ones examined.
        hashes: line hashes of each document (assign.line_hashes).
        stored: stored founders holding each line (lines absent: none).
        contexts: unrelated texts a line must stand beside to be boilerplate.

    Returns:
        Boilerplate line hashes (of the batch's lines and the stored ones counted).
    """
    known = {h for h, founders in stored.items() if founders >= contexts}
    holders: dict[int, list[int]] = defaultdict(list)
    for number, doc in enumerate(docs):
        for h in set(hashes[doc.doc_id]) - {BLANK}:
            holders[h].append(number)
    frequent = {
        h: held for h, held in holders.items()
        if h not in known and len(held) + stored.get(h, 0) >= contexts
    }  # fmt: skip
    if not frequent:
        return frozenset(known)
    drop = known | frequent.keys()

    @functools.cache
    def residual(n: int) -> I64:
        # Only the documents examined: the first holders of each line, until enough groups.
        return fingerprints.shingle_array(without_lines(docs[n].text, hashes[docs[n].doc_id], drop))

    # Lines held by the same documents (a footer's lines) are decided together.
    by_holders: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for h, holding in frequent.items():
        by_holders[tuple(holding)].append(h)
    found = set(known)
    for held, lines in by_holders.items():
        sizes = _groups(held[:MAX_HOLDERS], residual)
        # Each stored founder holding a line is a story of its own.
        if _one_story([*sizes, *[1] * max(stored.get(h, 0) for h in lines)]):
            continue
        found.update(h for h in lines if len(sizes) + stored.get(h, 0) >= contexts)
    return frozenset(found)
