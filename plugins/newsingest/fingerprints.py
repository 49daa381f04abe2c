"""Text fingerprints for near-duplicate search: sampled word 3-gram hashes, quotes left out."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import zlib

LOGGER = logging.getLogger(__name__)

# Bump when anything below changes what a text fingerprints to; stored state
# of another version is recomputed, never compared.
ALGORITHM = "w3s8q-1"
# Keep one shingle in 8 (top three hash bits zero): the same shingle is kept in
# every document, so sampled sets estimate containment without bias.
SAMPLE_SHIFT = 61
MASK64 = (1 << 64) - 1
SIGN_BIT = 1 << 63
WORD = re.compile(r"\w+", re.UNICODE)
# Quoted speech is shared by independent reports of one event: it must not link them.
QUOTED = re.compile(
    r"“[^”“]{1,1500}”|«[^»«]{1,1500}»|„[^“”„]{1,1500}[“”]|\"[^\"]{1,1500}\"|‹[^›]{1,1500}›"
)
# Straight, curly, low-9, guillemet and accent quote marks: rewrites swap them freely.
QUOTE_MARKS = re.compile("[\"'`´«»‘’‚“”„‹›]")
# Below this share of words left after removing quotes, keep the quotes (a text of quotes).
MIN_UNQUOTED_SHARE = 0.4
_P1, _P2, _P3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9


def content_hash(body: str) -> str:
    """SHA-256 of the body after Unicode, case, quote-mark and whitespace normalisation.

    Equal hashes mean the same text whatever quote marks or spacing a copy used.
    """
    text = QUOTE_MARKS.sub("", unicodedata.normalize("NFKC", body).casefold())
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _mix(value: int) -> int:
    """SplitMix64 finaliser: spreads the combined token hashes over 64 bits."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & MASK64
    return value ^ (value >> 31)


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
    combined linearly, sampled on the top bits, and only the kept ones mixed.

    Args:
        text: an article body (and optionally its title).

    Returns:
        The set of sampled shingle hashes; empty for texts under three words.
    """
    codes = [zlib.crc32(w.encode("utf-8")) for w in tokens(text)]
    kept: set[int] = set()
    for first, second, third in zip(codes, codes[1:], codes[2:], strict=False):
        combined = (first * _P1 + second * _P2 + third * _P3) & MASK64
        if combined >> SAMPLE_SHIFT == 0:
            value = _mix(combined)
            kept.add(value - (1 << 64) if value & SIGN_BIT else value)
    return frozenset(kept)
