"""Verifying a candidate pair on its texts: sentence alignment outside quotes and boilerplate.

The candidate index (sampled word 3-grams) finds founders that share a few
samples with a document; whether the document copies one is decided here.
Each text is reduced to a sketch: its sentences, each the set of its content
words (16-bit hashes of words of four or more characters, stop words left
out), names and numbers marked as facts, sentences quoting speech left out
however much of the text they are. A sentence has a counterpart in the other
text when another sentence holds at least half of its words, three at least,
and half of its ordinary (non-fact) words; the pair's share is the part of
the smaller text, by words, in sentences with a counterpart. Spun words,
typos, dropped sentences, reordering, truncation and stitching leave most
sentences of a copy with a counterpart, its ordinary wording kept;
independent reports share quotes (left out), names, numbers and a stock
phrase or two, but few sentences' ordinary words.
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from newsingest.dedup import fingerprints
from newsingest.dedup.shingle_table import distinct, present

LOGGER = logging.getLogger(__name__)

U16 = npt.NDArray[np.uint16]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

# Sentences end at terminal punctuation (and a closing quote) before a space, or at a line
# end; paragraphs run together by extraction ("below.The blaze": a full stop, then a
# capitalised word or an opening quote, no space) end at the full stop, as a line would
# (see _cuts).
_SENTENCE = re.compile(r"([.!?][\"”»’)]?)(?:\s+|(?=[“«„‘]?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]))|\n\s*")
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
# A counterpart shares at least this many of a sentence's words: two are a stock phrase.
MIN_SHARED = 3
# German capitalises every noun, so capitals tell no names there: a text is taken for German
# when more than NOUN_CASE_SHARE of its words are these (English has almost none of them).
_NOUN_CASE_WORDS = "der die das den dem des und ist nicht ein eine einen zu mit von auf für"
_NOUN_CASE_HASHES = distinct(fingerprints.word_hashes(_NOUN_CASE_WORDS).view(np.int64))
NOUN_CASE_SHARE = 0.05
NOUN_CASE_SAMPLE = 200
# Aligned text begins where this share of its words has come (see _before).
ALIGNED_START = 0.2
# Unaligned text before the aligned text, of at most this many content words, is a lead-in
# (a photo caption, a kicker), not a story: it is left out of the pair's share and of where
# its aligned text begins. On the founder's side it must also be shorter than what aligns.
LEAD_IN_WORDS = 40
# On the document's side it may be up to this many times what aligns: a caption is often
# longer than the one paragraph it heads (real copies, bench/wire_real.py), while a page of
# its own text with a line or two of another's (shared boilerplate, say) keeps its own.
DOC_LEAD_IN_RATIO = 2.0
# Per-sentence caps keep a sketch in 16-bit lengths and bound a comparison.
MAX_WORDS = 200
MAX_SENTENCES = 400


@dataclass(frozen=True, slots=True, eq=False)
class Sketch:
    """A text's sentences as content-word hashes: `lengths[i]` words of sentence i, in order.

    Each sentence's first `facts[i]` words are facts (names, numbers), the rest ordinary words.
    """

    words: U16
    lengths: U16
    facts: U16
    _plain: Mask | None = field(default=None, init=False, repr=False)

    @property
    def plain(self) -> Mask:
        """Per word: ordinary (not a fact). Computed when first aligned, then kept."""
        plain = self._plain
        if plain is None:
            rank = np.arange(self.words.size) - np.repeat(
                np.cumsum(self.lengths, dtype=np.int64) - self.lengths, self.lengths
            )
            plain = rank >= np.repeat(self.facts, self.lengths)
            object.__setattr__(self, "_plain", plain)
        return plain

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sketch) and self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.encode())

    @property
    def size(self) -> int:
        """Content words in counted sentences."""
        return int(self.lengths.sum())

    def encode(self) -> tuple[int, ...]:
        """As ints: the sentence count, the lengths, the facts, the words (decode reverses it)."""
        return (
            int(self.lengths.size), *self.lengths.tolist(), *self.facts.tolist(),
            *self.words.tolist(),
        )  # fmt: skip

    def to_bytes(self) -> bytes:
        """encode() as little-endian 16-bit values (what the warehouse stores)."""
        return np.asarray(self.encode(), dtype="<u2").tobytes()

    def to_text(self) -> str:
        """to_bytes() in base64: how a decision carries it as JSON (a list of numbers
        would take about 30 bytes a word in memory)."""
        return base64.b64encode(self.to_bytes()).decode("ascii")


EMPTY = Sketch(np.empty(0, np.uint16), np.empty(0, np.uint16), np.empty(0, np.uint16))


def decode(values: tuple[int, ...] | bytes | str | None) -> Sketch:
    """A sketch from encode() ints, to_bytes() bytes or to_text() (nothing: the empty sketch)."""
    if not values:
        return EMPTY
    if isinstance(values, str):
        values = base64.b64decode(values)
    array = (
        np.frombuffer(values, dtype="<u2").astype(np.uint16)
        if isinstance(values, bytes)
        else np.asarray(values, dtype=np.uint16)
    )
    count = int(array[0])
    return Sketch(array[1 + 2 * count :], array[1 : 1 + count], array[1 + count : 1 + 2 * count])


def sketch(text: str) -> Sketch:
    """The sketch of a text already stripped of boilerplate lines.

    Sentences holding or continuing a quotation are left out, however much
    of the text they are: a shared statement is not copying. Numbers and
    names (see _facts), which reports of one event share, come first in
    their sentence's words, counted in `facts`. Quotes are decided per sentence, and a
    quote ends with its paragraph: a copy that drops a sentence or swaps
    quote styles leaves out the same ones, where pairing quote marks across
    a text breaks on either. Words are hashed for the whole text at once
    (fingerprints.word_spans).

    Args:
        text: the text.

    Returns:
        Its counted sentences' content-word hashes, in text order, facts first.
    """
    cased = unicodedata.normalize("NFKC", text)
    folded = cased.lower()
    if len(folded) != len(cased):  # rare (a dotted İ): no capitals to tell names by
        cased = folded
    hashes, starts, lengths = fingerprints.word_spans(folded)
    if not hashes.size:
        return EMPTY
    # A sentence keeps its final punctuation and closing quote; the spaces after it are cut.
    cuts = _cuts(cased)
    bounds = np.array([start for start, _, _ in cuts], dtype=np.int64)
    quoted = np.zeros(len(cuts) + 1, dtype=bool)
    if _MARKS.search(cased):
        inside, begin = False, 0
        for number, (start, end, newline) in enumerate([*cuts, (len(cased), 0, True)]):
            if inside or _MARKS.search(cased, begin, start):
                quoted[number], inside = _quoting(cased[begin:start], inside)
            inside, begin = inside and not newline, end
    sentence = np.searchsorted(bounds, starts, side="right")
    keep = (lengths >= MIN_CHARS) & ~present(hashes.view(np.int64), _STOP_HASHES)
    facts = _facts(cased, folded, (hashes, starts), sentence=sentence, content=keep)
    sentence = sentence[keep]
    # Each sentence's distinct 16-bit word hashes, sentence after sentence, facts first.
    words = (hashes[keep] >> np.uint64(48)).astype(np.int64)
    pairs = distinct(sentence * 0x20000 + ~facts[keep] * 0x10000 + words)
    sentence, words = pairs >> 17, pairs & 0xFFFF
    counts = np.bincount(sentence, minlength=len(cuts) + 1)
    fact_counts = np.bincount(sentence[(pairs & 0x10000) == 0], minlength=len(cuts) + 1)
    rank = np.arange(pairs.size) - np.repeat(np.cumsum(counts) - counts, counts)
    counted = (counts >= MIN_WORDS) & ~quoted
    counted[np.flatnonzero(counted)[MAX_SENTENCES:]] = False
    chosen = counted[sentence] & (rank < MAX_WORDS)
    return Sketch(
        words[chosen].astype(np.uint16),
        np.minimum(counts[counted], MAX_WORDS).astype(np.uint16),
        np.minimum(fact_counts[counted], MAX_WORDS).astype(np.uint16),
    )


def _cuts(text: str) -> list[tuple[int, int, bool]]:
    """Where sentences end: (end, where the next begins, whether a paragraph ends there).

    A full stop with a capital right after it ends a paragraph run into the
    next only after a lower-case word ("below.The"; not "U.S.Army").
    """
    cuts = []
    for m in _SENTENCE.finditer(text):
        if m.start(1) < 0:
            cuts.append((m.start(), m.end(), True))
        elif m.end() > m.end(1):
            cuts.append((m.end(1), m.end(), False))
        elif text[max(0, m.start() - 2) : m.start()].isalpha() and text[m.start() - 1].islower():
            cuts.append((m.end(1), m.end(), True))
    return cuts


def _facts(
    cased: str, folded: str, words: tuple[npt.NDArray[np.uint64], I64],
    *, sentence: I64, content: Mask,
) -> Mask:  # fmt: skip
    """Words that are numbers (hold a digit) or names.

    A name is capitalised inside a sentence; a sentence's first word only
    when the text writes it capitalised inside a sentence too ("Mahomes
    threw...", not "Firefighters battled...").

    Where capitals mark nouns as well (German), only numbers are facts.
    `words` are the words' hashes and starts, `sentence` their
    sentence numbers, `content` which are content words.
    """
    hashes, starts = words
    points = fingerprints.code_points(folded)
    facts: Mask = np.zeros(starts.size, dtype=bool)
    # Digits are word characters: each lies in the word starting last before it.
    digits = np.flatnonzero((points >= 48) & (points <= 57))
    facts[np.searchsorted(starts, digits, side="right") - 1] = True
    if cased is folded:
        return facts
    # The language shows in its first words; German's are NOUN_CASE_WORDS.
    sample = hashes[:NOUN_CASE_SAMPLE].view(np.int64)
    if present(sample, _NOUN_CASE_HASHES).sum() > NOUN_CASE_SHARE * sample.size:
        return facts
    capital: Mask = (fingerprints.code_points(cased) != points)[starts] & content
    first = np.ones(starts.size, dtype=bool)
    first[1:] = sentence[1:] != sentence[:-1]
    names = capital & ~first
    opening = np.flatnonzero(capital & first)
    names[opening] = present(hashes[opening].view(np.int64), distinct(hashes[names].view(np.int64)))
    facts |= names
    return facts


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
    # Of the smaller text's words, those its aligned sentences find in their counterparts:
    # a copy finds most, a report telling the same facts fewer (it ranks verified pairs).
    found: float = 0.0


Counts = npt.NDArray[np.int64]


def _overlaps(doc: Sketch, other: Sketch) -> tuple[Counts, Counts, Counts]:
    """Shared words of every (document sentence, other sentence) pair.

    Returns:
        All shared words; those that are ordinary in the document; those ordinary in the other.
    """
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
    shape = (doc.lengths.size, other.lengths.size)
    shared = np.bincount(pairs, minlength=cells).reshape(shape)
    doc_ordinary = np.repeat(doc.plain, counts)
    other_ordinary = other.plain[order][offsets]
    return (
        shared,
        np.bincount(pairs[doc_ordinary], minlength=cells).reshape(shape),
        np.bincount(pairs[other_ordinary], minlength=cells).reshape(shape),
    )


def _counterparts(
    shared: Counts, ordinary: Counts, text: Sketch, sentence_share: float
) -> tuple[Mask, Counts]:
    """Per row sentence of `text`: whether a column sentence, or two adjacent ones, matches it.

    A counterpart holds `sentence_share` of the sentence's words, MIN_SHARED at
    least, and `sentence_share` of its ordinary words (MIN_SHARED of them, or
    all when it has fewer): names, numbers and a stock phrase (the facts
    independent reports share) do not make one. Each is judged on the
    sentence's best match by words and by ordinary words.

    Returns:
        The mask, and the words each aligned sentence finds in its best counterpart (else 0).
    """
    best = np.maximum(shared.max(axis=1), _adjacent(shared).max(axis=1, initial=0))
    words = text.lengths.astype(np.int64)
    aligned: Mask = (best >= MIN_SHARED) & (best >= sentence_share * words)
    rows = np.flatnonzero(aligned)  # ordinary words are counted for these only
    if rows.size:
        some = ordinary[rows]
        best_plain = np.maximum(some.max(axis=1), _adjacent(some).max(axis=1, initial=0))
        plain = words[rows] - text.facts[rows]
        needed = np.maximum(sentence_share * plain, np.minimum(plain, MIN_SHARED))
        aligned[rows] = best_plain >= needed
    return aligned, np.where(aligned, np.minimum(best, words), 0)


def align(doc: Sketch, other: Sketch, sentence_share: float) -> Alignment:
    """Align a document's sentences with another text's.

    Args:
        doc: the document's sketch.
        other: the other text's (a founder's).
        sentence_share: share of a sentence's words (and of its ordinary words) another
            sentence must hold to be its counterpart.

    Returns:
        The share of the smaller text in aligned sentences, and the document's aligned sentences.
    """
    if not doc.size or not other.size:
        return Alignment(0.0, np.zeros(doc.lengths.size, dtype=bool), 1.0, 1.0)
    shared, doc_plain, other_plain = _overlaps(doc, other)
    # A sentence's counterpart may be two adjacent sentences of the other text
    # (a rewrite merged or split them): their shares add up.
    doc_aligned, doc_found = _counterparts(shared, doc_plain, doc, sentence_share)
    other_aligned, other_found = _counterparts(shared.T, other_plain.T, other, sentence_share)
    doc_lengths, doc_mask = _without_lead_in(doc.lengths, doc_aligned, document=True)
    other_lengths, other_mask = _without_lead_in(other.lengths, other_aligned, document=False)
    doc_size, other_size = int(doc_lengths.sum()), int(other_lengths.sum())
    if doc_size <= other_size:
        share = float(doc_lengths[doc_mask].sum()) / doc_size
        found = float(doc_found[-doc_lengths.size :].sum()) / doc_size
    else:
        share = float(other_lengths[other_mask].sum()) / other_size
        found = float(other_found[-other_lengths.size :].sum()) / other_size
    return Alignment(
        share, doc_aligned, _before(doc_lengths, doc_mask), _before(other_lengths, other_mask),
        found,
    )  # fmt: skip


def _without_lead_in(lengths: U16, aligned: Mask, *, document: bool) -> tuple[U16, Mask]:
    """A text's sentence lengths and aligned mask, its lead-in (see LEAD_IN_WORDS) cut off.

    The document's lead-in may be up to DOC_LEAD_IN_RATIO times its aligned
    words; the founder's must be fewer than its aligned words.
    """
    first = int(np.argmax(aligned))
    lead = int(lengths[:first].sum())
    words = int(lengths[aligned].sum())
    longest = min(LEAD_IN_WORDS, DOC_LEAD_IN_RATIO * words if document else words - 1)
    if not aligned[first] or lead > longest:
        return lengths, aligned
    return lengths[first:], aligned[first:]


def _adjacent(shared: Counts) -> Counts:
    """Shared words of each row's sentence with each pair of adjacent column sentences."""
    paired: Counts = shared[:, :-1] + shared[:, 1:]
    return paired


def _before(lengths: U16, aligned: Mask) -> float:
    """Share of a text's words left unaligned before its aligned text begins (1.0: none aligned).

    It begins where a fifth of its aligned words have come: one short
    sentence aligned by chance near the top does not move it.
    """
    weights = np.where(aligned, lengths, 0).cumsum()
    if not weights.size or not weights[-1]:
        return 1.0
    first = int(np.searchsorted(weights, ALIGNED_START * weights[-1]))
    unaligned = np.where(aligned[:first], 0, lengths[:first])
    return float(unaligned.sum()) / int(lengths.sum())


def explained(doc: Sketch, aligned: Mask) -> int:
    """Content words of the document's sentences that the mask marks."""
    return int(doc.lengths[aligned].sum())
