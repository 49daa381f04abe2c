"""Text fingerprints for near-duplicate search: sampled word 3-gram hashes, quotes left out."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from newsingest.dedup.shingle_table import I64, distinct

LOGGER = logging.getLogger(__name__)

# Bump when anything below changes what a text fingerprints to; stored state
# of another version is recomputed, never compared.
ALGORITHM = "w3s8q-4"
# Keep one shingle in 8 (top three hash bits zero): the same shingle is kept in
# every document, so sampled sets estimate containment without bias.
SAMPLE_SHIFT = 61
_SAMPLE_SHIFT = np.uint64(SAMPLE_SHIFT)
# Quoted speech is shared by independent reports of one event: it must not link them.
QUOTED = re.compile(
    r"“[^”“]{1,1500}”|«[^»«]{1,1500}»|„[^“”„]{1,1500}[“”]|\"[^\"]{1,1500}\"|‹[^›]{1,1500}›"
)
# Straight, curly, low-9, guillemet and accent quote marks: rewrites swap them freely.
QUOTE_MARKS = re.compile("[\"'`´«»‘’‚“”„‹›]")
# Below this share of words left after removing quotes, keep the quotes (a text of quotes).
MIN_UNQUOTED_SHARE = 0.4
# Word-position multipliers, and the SplitMix64 finaliser's constants that
# spread the combined hashes over 64 bits (numpy uint64: arithmetic wraps).
_P1, _P2, _P3 = (np.uint64(p) for p in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)
# A word hashes to sum(code point * BASE**j) over its characters (j from 0),
# then mixed: computed for a whole text at once as sums of c_i * BASE**i over
# text positions, shifted back by BASE**-start (BASE is odd, so invertible mod 2**64).
_BASE = 0x100000001B3
_BMP = 0x10000
# What re's \w matches in str patterns (alphanumeric or "_"), for the Basic Multilingual Plane.
_WORD_BMP = np.array([chr(c).isalnum() for c in range(_BMP)], dtype=bool)
_WORD_BMP[ord("_")] = True
U64s = npt.NDArray[np.uint64]


def content_hash(body: str) -> str:
    """SHA-256 of the body after Unicode, case, quote-mark and whitespace normalisation.

    Equal hashes mean the same text whatever quote marks or spacing a copy used.
    """
    text = QUOTE_MARKS.sub("", unicodedata.normalize("NFKC", body).casefold())
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def normalise(text: str) -> str:
    """Unicode-normalised, case-folded text with quoted speech removed (unless it is most of it)."""
    # NFKC returns a text that needs no change at a glance, but normalises
    # any other in full: spelling out the ellipsis, which a fifth of news
    # texts hold, takes most of them to the glance (same result: NFKC
    # decomposes it to the same three dots first).
    text = unicodedata.normalize("NFKC", text.replace("…", "..."))
    unquoted = QUOTED.sub(" ", text)
    if len(unquoted) >= MIN_UNQUOTED_SHARE * len(text):
        text = unquoted
    return text.lower() if text.isascii() else text.casefold()  # the same for ASCII


class _Powers:
    """BASE**i and BASE**-i mod 2**64 for i below a length, grown by doubling, shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables = (np.empty(0, np.uint64), np.empty(0, np.uint64))

    def upto(self, length: int) -> tuple[U64s, U64s]:
        """Tables holding at least `length` powers each."""
        tables = self._tables
        if len(tables[0]) >= length:
            return tables
        with self._lock:
            size = max(1 << 16, 1 << (length - 1).bit_length())
            forward = np.full(size, _BASE, dtype=np.uint64)
            backward = np.full(size, pow(_BASE, -1, 1 << 64), dtype=np.uint64)
            forward[0] = backward[0] = 1
            self._tables = (np.cumprod(forward), np.cumprod(backward))
            return self._tables


_POWERS = _Powers()


def _mix(values: U64s) -> U64s:
    """SplitMix64 finaliser (in place): nearby inputs give unrelated outputs."""
    values ^= values >> _S30
    values *= _M1
    values ^= values >> _S27
    values *= _M2
    values ^= values >> _S31
    return values


def code_points(text: str) -> npt.NDArray[np.unsignedinteger]:
    """The text's code points in the narrowest array that holds them.

    Encoding is most of the cost: ASCII and UTF-16 encoders copy, the UTF-32
    one goes character by character (and is only needed beyond the BMP).
    """
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    # surrogatepass: a lone surrogate (JSON input may hold one) is a non-word character.
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) == 2 * len(text):  # no surrogate pairs: each unit is a code point
        return np.frombuffer(units, dtype="<u2")
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def word_hashes(text: str) -> U64s:
    """One 64-bit hash per word of the text, words being what re's \\w+ finds.

    Computed over the text's code points at once: a Python loop over the
    words costs three times as much.
    """
    return _words(text, spans=False)[0]


def word_spans(text: str) -> tuple[U64s, I64, I64]:
    """word_hashes, with each word's start (a str index) and length in characters."""
    return _words(text, spans=True)


_NO_WORDS = (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), np.empty(0, np.int64))


def _words(text: str, *, spans: bool) -> tuple[U64s, I64, I64]:
    """Word hashes, and with spans their starts and lengths (else empty arrays)."""
    points = code_points(text)
    if not points.size:
        return _NO_WORDS
    if points.itemsize < 4:
        word = _WORD_BMP[points]
    else:
        word = _WORD_BMP[np.minimum(points, _BMP - 1)]
        astral = np.flatnonzero(points >= _BMP)  # rare: emoji, historic scripts, some CJK
        word[astral] = [chr(c).isalnum() for c in points[astral].tolist()]
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    starts = edges[word[edges]]
    if word[0]:
        starts = np.concatenate(([0], starts))
    if not starts.size:
        return _NO_WORDS
    forward, backward = _POWERS.upto(points.size)
    # Non-word characters count 0: each word's sum runs on to the next word's start.
    terms = (points * word) * forward[: points.size]
    hashes = _mix(np.add.reduceat(terms, starts) * backward[starts])
    if not spans:
        return hashes, _NO_WORDS[1], _NO_WORDS[2]
    ends = edges[~word[edges]]
    if word[-1]:
        ends = np.concatenate((ends, [points.size]))
    return hashes, starts.astype(np.int64), (ends - starts).astype(np.int64)


def sample_array(text: str) -> I64:
    """The fingerprint: sampled word 3-gram hashes as sorted, distinct signed 64-bit ints.

    Word hashes are combined linearly modulo 2**64, sampled on the top bits,
    and the kept ones mixed; numpy wraps uint64 arithmetic as the definition does.

    Args:
        text: an article body (and optionally its title).

    Returns:
        The sampled shingle hashes (PostgreSQL bigint); empty for texts under three words.
    """
    return _sampled(normalise(text))


def _sampled(normalised: str) -> I64:
    combined = _combined(normalised)
    return distinct(_mix(combined[(combined >> _SAMPLE_SHIFT) == 0]).view(np.int64))


def shingle_array(text: str) -> I64:
    """Every word 3-gram hash of the text, unsampled (sorted, distinct; the samples among them)."""
    return distinct(_mix(_combined(normalise(text))).view(np.int64))


def _combined(normalised: str) -> U64s:
    """Each word 3-gram's linear combination of word hashes, before sampling and mixing."""
    codes = word_hashes(normalised)
    if codes.size < 3:  # a 3-gram needs three words
        return np.empty(0, dtype=np.uint64)
    combined: U64s = codes[:-2] * _P1 + codes[1:-1] * _P2 + codes[2:] * _P3
    return combined


# A line of this many words or more is also a key of its own: a copy that
# keeps a paragraph or headline verbatim (a truncated lead) shares it whole,
# where a 40-word paragraph holds about four sampled 3-grams.
LINE_KEY_WORDS = 5
_LINE_SALT = 0x5BD1E995


def line_keys(text: str) -> I64:
    """Keys of a text's long lines (normalised as for shingles), in the shingles' 64-bit space."""
    return _line_keys(normalise(text))


def _line_keys(normalised: str) -> I64:
    keys = []
    for line in normalised.splitlines():
        words = line.split()
        if len(words) >= LINE_KEY_WORDS:
            joined = " ".join(words)
            marks = QUOTE_MARKS.search(joined)
            plain = " ".join(QUOTE_MARKS.sub("", joined).split()) if marks else joined
            keys.append(zlib.crc32(plain.encode("utf-8")) ^ _LINE_SALT)
    if not keys:
        return np.empty(0, dtype=np.int64)
    return distinct(_mix(np.array(keys, dtype=np.uint64) << np.uint64(32)).view(np.int64))


def keys(text: str) -> I64:
    """What the candidate index holds of a text: sampled 3-grams and long-line keys, sorted."""
    normalised = normalise(text)
    return distinct(np.concatenate([_sampled(normalised), _line_keys(normalised)]))


def sample(text: str) -> frozenset[int]:
    """sample_array as a set of Python ints."""
    return frozenset(sample_array(text).tolist())


def keys_to_text(found: I64) -> str:
    """keys() as base64 of little-endian int64: how a decision carries a founder's keys
    (a tuple of Python ints takes about 40 bytes a key, this 11)."""
    return base64.b64encode(np.asarray(found, dtype="<i8").tobytes()).decode("ascii")


def keys_from_text(carried: str | Sequence[int]) -> I64:
    """Keys from keys_to_text(), or from a list of ints (decisions staged before it)."""
    if isinstance(carried, str):
        return np.frombuffer(base64.b64decode(carried), dtype="<i8").astype(np.int64)
    return np.asarray(carried, dtype=np.int64)
