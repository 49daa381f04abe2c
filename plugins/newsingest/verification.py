"""Verifying a candidate pair on its texts: sentence alignment outside quotes and boilerplate.

The candidate index (sampled word 3-grams) finds founders that share a few
samples with a document; whether the document copies one is decided here.
Each text is reduced to a sketch: its sentences, each the set of its content
words (16-bit hashes of words of four or more characters, stop words left
out), sentences quoting speech left out. A sentence has a counterpart in the other text when
another sentence holds at least half of its words; the pair's share is the
part of the smaller text, by words, in sentences with a counterpart. Spun
words, typos, dropped sentences, reordering, truncation and stitching leave
most sentences of a copy with a counterpart; independent reports share
quotes (left out), names and numbers, but few sentences.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from newsingest import fingerprints
from newsingest.shingle_table import distinct, present

LOGGER = logging.getLogger(__name__)

U16 = npt.NDArray[np.uint16]
Mask = npt.NDArray[np.bool_]

# Sentences end at terminal punctuation (and a closing quote) before a space, or at a line end.
_SENTENCE = re.compile(r"([.!?][\"”»’)]?)\s+|\n\s*")
# Words shorter than this carry little content, whatever the language.
MIN_CHARS = 4
_CLOSING = "”»›"
_MARKS = re.compile('[“«„‹"”»›]')  # a straight quote opens or closes
# Words of four letters or more that carry no content, in the languages most
# news comes in (shorter words are left out whatever they are).
STOP_WORDS = frozenset((
    "that", "this", "with", "from", "have", "were", "they", "their", "there", "been", "will",
    "would", "could", "should", "which", "what", "when", "where", "while", "about", "after",
    "before", "into", "over", "than", "then", "them", "these", "those", "also", "more", "most",
    "some", "such", "only", "other", "said", "says", "very", "just", "like", "your", "ours",
    "make", "made", "does", "dass", "nicht", "eine", "einer", "einem", "einen", "sich", "auch",
    "wird", "werden", "wurde", "sind", "haben", "oder", "aber", "nach", "noch", "mehr", "beim",
    "über", "unter", "durch", "gegen", "sein", "seine", "ihre", "ihrer", "diese", "dieser",
    "pour", "avec", "dans", "sont", "mais", "plus", "leur", "cette", "comme", "tout", "très",
    "être", "avoir", "fait", "elle", "para", "como", "pero", "está", "esta", "este", "sobre",
    "entre", "desde", "también", "porque", "cuando",
))  # fmt: skip
_STOP_HASHES = distinct(fingerprints.word_hashes(" ".join(sorted(STOP_WORDS))).view(np.int64))
# Fewer content words than this: a sentence too short to count (a dateline, "he said.").
MIN_WORDS = 3
# Aligned text begins where this share of its words has come (see _before).
ALIGNED_START = 0.2
# Per-sentence caps keep a sketch in 16-bit lengths and bound a comparison.
MAX_WORDS = 200
MAX_SENTENCES = 400


@dataclass(frozen=True, slots=True, eq=False)
class Sketch:
    """A text's sentences as content-word hashes: `lengths[i]` words of sentence i, in order."""

    words: U16
    lengths: U16

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sketch) and self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.encode())

    @property
    def size(self) -> int:
        """Content words in counted sentences."""
        return int(self.lengths.sum())

    def encode(self) -> tuple[int, ...]:
        """As ints: the sentence count, the lengths, then the words (decode reverses it)."""
        return (int(self.lengths.size), *self.lengths.tolist(), *self.words.tolist())

    def to_bytes(self) -> bytes:
        """encode() as little-endian 16-bit values (what the warehouse stores)."""
        return np.asarray(self.encode(), dtype="<u2").tobytes()


EMPTY = Sketch(np.empty(0, np.uint16), np.empty(0, np.uint16))


def decode(values: tuple[int, ...] | bytes | None) -> Sketch:
    """A sketch from encode() ints or to_bytes() bytes (nothing: the empty sketch)."""
    if not values:
        return EMPTY
    array = (
        np.frombuffer(values, dtype="<u2").astype(np.uint16)
        if isinstance(values, bytes)
        else np.asarray(values, dtype=np.uint16)
    )
    count = int(array[0])
    return Sketch(array[1 + count :], array[1 : 1 + count])


def sketch(text: str) -> Sketch:
    """The sketch of a text already stripped of boilerplate lines.

    Sentences holding or continuing a quotation are left out, unless they
    are most of the text. Decided per sentence, and a quote ends with its
    paragraph: a copy that drops a sentence or swaps quote styles leaves out
    the same ones, where pairing quote marks across a text breaks on either.
    Words are hashed for the whole text at once (fingerprints.word_spans).

    Args:
        text: the text.

    Returns:
        Its counted sentences' content-word hashes, in text order.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    hashes, starts, lengths = fingerprints.word_spans(folded)
    if not hashes.size:
        return EMPTY
    # A sentence keeps its final punctuation and closing quote; the spaces after it are cut.
    cuts = [
        (m.end(1) if m.start(1) >= 0 else m.start(), m.end(), m.start(1) < 0)
        for m in _SENTENCE.finditer(folded)
    ]
    bounds = np.array([start for start, _, _ in cuts], dtype=np.int64)
    quoted = np.zeros(len(cuts) + 1, dtype=bool)
    if _MARKS.search(folded):
        inside, begin = False, 0
        for number, (start, end, newline) in enumerate([*cuts, (len(folded), 0, True)]):
            if inside or _MARKS.search(folded, begin, start):
                quoted[number], inside = _quoting(folded[begin:start], inside)
            inside, begin = inside and not newline, end
    keep = (lengths >= MIN_CHARS) & ~present(hashes.view(np.int64), _STOP_HASHES)
    sentence = np.searchsorted(bounds, starts[keep], side="right")
    # Each sentence's distinct 16-bit word hashes, sentence after sentence.
    words = (hashes[keep] >> np.uint64(48)).astype(np.int64)
    pairs = distinct(sentence * 0x10000 + words)
    sentence, words = pairs >> 16, pairs & 0xFFFF
    counts = np.bincount(sentence, minlength=len(cuts) + 1)
    rank = np.arange(pairs.size) - np.repeat(np.cumsum(counts) - counts, counts)
    counted = counts >= MIN_WORDS
    plain = int(counts[counted & ~quoted].sum())
    if plain >= fingerprints.MIN_UNQUOTED_SHARE * int(counts[counted].sum()):
        counted &= ~quoted
    counted[np.flatnonzero(counted)[MAX_SENTENCES:]] = False
    chosen = counted[sentence] & (rank < MAX_WORDS)
    return Sketch(
        words[chosen].astype(np.uint16), np.minimum(counts[counted], MAX_WORDS).astype(np.uint16)
    )


def _quoting(sentence: str, inside: bool) -> tuple[bool, bool]:
    """Whether a sentence quotes (opens a quote or continues one), and whether one is left open.

    A closing mark alone does not make a sentence quoted; “ closes a quote
    opened with „ (German style).
    """
    last_open = last_close = -1
    straight = 0
    german = False  # „ seen: a later “ closes it
    for mark in _MARKS.finditer(sentence):
        char, at = mark.group(), mark.start()
        if char == '"':
            straight += 1
            if inside or straight % 2 == 0:
                last_close = at
            else:
                last_open = at
        elif char in _CLOSING or (char == "“" and german):
            last_close = at
        else:
            german = german or char == "„"
            last_open = at
    quoted = inside or last_open >= 0
    if last_open < 0 and last_close < 0:
        return quoted, inside
    return quoted, last_open > last_close


@dataclass(frozen=True, slots=True)
class Alignment:
    """How a document's sentences align with another text's."""

    share: float  # of the smaller text's words, in sentences with a counterpart
    aligned: Mask  # per sentence of the document: has a counterpart
    start: float  # share of the document's words before its first aligned sentence
    offset: float  # share of the other text's words before its first aligned sentence


def _overlaps(doc: Sketch, other: Sketch) -> npt.NDArray[np.int64]:
    """Shared words of every (document sentence, other sentence) pair."""
    doc_sentence = np.repeat(np.arange(doc.lengths.size), doc.lengths)
    other_sentence = np.repeat(np.arange(other.lengths.size), other.lengths)
    order = np.argsort(other.words, kind="stable")
    keys, owners = other.words[order], other_sentence[order]
    low = np.searchsorted(keys, doc.words, side="left")
    counts = np.searchsorted(keys, doc.words, side="right") - low
    total = int(counts.sum())
    # Every match of each document word: positions low .. low + count - 1 in the sorted keys.
    offsets = np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(total)
    pairs = np.repeat(doc_sentence, counts) * other.lengths.size + owners[offsets]
    cells = doc.lengths.size * other.lengths.size
    return np.bincount(pairs, minlength=cells).reshape(doc.lengths.size, other.lengths.size)


def align(doc: Sketch, other: Sketch, sentence_share: float) -> Alignment:
    """Align a document's sentences with another text's.

    Args:
        doc: the document's sketch.
        other: the other text's (a founder's).
        sentence_share: share of a sentence's words another sentence must hold to be its
            counterpart.

    Returns:
        The share of the smaller text in aligned sentences, and the document's aligned sentences.
    """
    if not doc.size or not other.size:
        return Alignment(0.0, np.zeros(doc.lengths.size, dtype=bool), 1.0, 1.0)
    shared = _overlaps(doc, other)
    # A sentence's counterpart may be two adjacent sentences of the other text
    # (a rewrite merged or split them): their shares add up.
    doc_best = np.maximum(shared.max(axis=1), _adjacent(shared).max(axis=1, initial=0))
    other_best = np.maximum(shared.max(axis=0), _adjacent(shared.T).max(axis=1, initial=0))
    # At least two shared words: one word in common is a name, not a sentence.
    doc_aligned = (doc_best >= 2) & (doc_best >= sentence_share * doc.lengths)
    other_aligned = (other_best >= 2) & (other_best >= sentence_share * other.lengths)
    if doc.size <= other.size:
        share = float(doc.lengths[doc_aligned].sum()) / doc.size
    else:
        share = float(other.lengths[other_aligned].sum()) / other.size
    return Alignment(share, doc_aligned, _before(doc, doc_aligned), _before(other, other_aligned))


def _adjacent(shared: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Shared words of each row's sentence with each pair of adjacent column sentences."""
    paired: npt.NDArray[np.int64] = shared[:, :-1] + shared[:, 1:]
    return paired


def _before(text: Sketch, aligned: Mask) -> float:
    """Share of a text's words left unaligned before its aligned text begins (1.0: none aligned).

    It begins where a fifth of its aligned words have come: one short
    sentence aligned by chance near the top does not move it.
    """
    weights = np.where(aligned, text.lengths, 0).cumsum()
    if not weights.size or not weights[-1]:
        return 1.0
    first = int(np.searchsorted(weights, ALIGNED_START * weights[-1]))
    unaligned = np.where(aligned[:first], 0, text.lengths[:first])
    return float(unaligned.sum()) / text.size


def explained(doc: Sketch, aligned: Mask) -> int:
    """Content words of the document's sentences that the mask marks."""
    return int(doc.lengths[aligned].sum())
