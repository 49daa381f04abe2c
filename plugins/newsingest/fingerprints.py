"""Text fingerprints for near-duplicate search: sampled word 3-gram hashes, quotes left out."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import zlib

import numpy as np

LOGGER = logging.getLogger(__name__)

# Bump when anything below changes what a text fingerprints to; stored state
# of another version is recomputed, never compared.
ALGORITHM = "w3s8q-1"
# Keep one shingle in 8 (top three hash bits zero): the same shingle is kept in
# every document, so sampled sets estimate containment without bias.
SAMPLE_SHIFT = 61
_SAMPLE_SHIFT = np.uint64(SAMPLE_SHIFT)
WORD = re.compile(r"\w+", re.UNICODE)
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


def content_hash(body: str) -> str:
    """SHA-256 of the body after Unicode, case, quote-mark and whitespace normalisation.

    Equal hashes mean the same text whatever quote marks or spacing a copy used.
    """
    text = QUOTE_MARKS.sub("", unicodedata.normalize("NFKC", body).casefold())
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def normalise(text: str) -> str:
    """Unicode-normalised, case-folded text with quoted speech removed (unless it is most of it)."""
    text = unicodedata.normalize("NFKC", text)
    unquoted = QUOTED.sub(" ", text)
    if len(unquoted) >= MIN_UNQUOTED_SHARE * len(text):
        text = unquoted
    return text.casefold()


def tokens(text: str) -> list[str]:
    """Word tokens of the normalised text."""
    return WORD.findall(normalise(text))


def sample(text: str) -> frozenset[int]:
    """The fingerprint: sampled word 3-gram hashes as signed 64-bit ints (PostgreSQL bigint).

    crc32 per word is stable across processes (unlike hash()); the three are
    combined linearly modulo 2**64, sampled on the top bits, and the kept ones
    mixed. The arithmetic runs vectorised (numpy wraps uint64 like the
    definition), which halves the cost of a page against a Python loop.

    Args:
        text: an article body (and optionally its title).

    Returns:
        The set of sampled shingle hashes; empty for texts under three words.
    """
    words = tokens(text)
    if len(words) < 3:  # a 3-gram needs three words
        return frozenset()
    codes = np.fromiter(
        (zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words)
    )
    combined = codes[:-2] * _P1 + codes[1:-1] * _P2 + codes[2:] * _P3
    kept = combined[(combined >> _SAMPLE_SHIFT) == 0]
    kept ^= kept >> _S30
    kept *= _M1
    kept ^= kept >> _S27
    kept *= _M2
    kept ^= kept >> _S31
    return frozenset(kept.view(np.int64).tolist())
