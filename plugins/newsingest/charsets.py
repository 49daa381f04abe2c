"""Turning page bytes into text: header charset, BOM, meta tag, detection, never a crash."""

from __future__ import annotations

import codecs
import logging
import re

import charset_normalizer

LOGGER = logging.getLogger(__name__)

BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# Browsers treat these labels as windows-1252, and so do we (WHATWG encoding standard).
ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252"}


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    label = ALIASES.get(label.strip().lower(), label.strip().lower())
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode an HTML page, trusting only a charset under which the bytes are valid.

    Order: byte-order mark, UTF-8 (valid UTF-8 with non-ASCII bytes is
    almost never anything else, whatever the header says), the HTTP header
    charset, the <meta> charset, statistical detection, and finally UTF-8
    with replacement characters.

    Args:
        body: raw response bytes.
        declared: charset from the Content-Type header, if any.

    Returns:
        (text, charset used).
    """
    for bom, name in BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    meta = META_CHARSET.search(body[:4096])
    candidates = [
        "utf-8",
        _codec(declared),
        _codec(meta.group(1).decode("ascii", "ignore") if meta else None),
    ]
    for name in filter(None, candidates):
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            LOGGER.debug("bytes are not valid %s", name)
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        return body.decode(best.encoding, errors="replace"), best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"
