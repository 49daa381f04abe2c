"""URL canonicalisation: one key per article whatever tracking or mobile variant a feed links."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

LOGGER = logging.getLogger(__name__)

# Host prefixes that serve the same article under another skin.
VARIANT_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
# Query parameters that select an AMP/mobile rendering rather than content.
VARIANT_PARAMS = frozenset({"amp", "outputtype", "output", "mobile", "ref", "ns_campaign"})
AMP_SEGMENT = re.compile(r"(^|/)amp(/|$)")
# URLs are keys of btree indexes, whose rows PostgreSQL caps at 2,704 bytes; browsers and
# sitemaps stop near 2,000 characters, so a longer "article URL" is junk or an attack.
MAX_URL_BYTES = 2048


def too_long(url: str) -> bool:
    """Whether a URL is longer than an article URL may be (MAX_URL_BYTES in UTF-8)."""
    return len(url) > MAX_URL_BYTES or len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES


def canonical_url(url: str) -> str:
    """Return the canonical form of an article URL.

    Removes tracking parameters (courlan; its strict mode would also drop
    article ids such as ?storyid=), fragments, default ports,
    www/mobile/AMP variants and trailing slashes, and sorts the query.

    Args:
        url: an absolute http(s) URL.

    Returns:
        The canonical URL, or the stripped input when it cannot be parsed.
    """
    url = url.strip()
    try:
        normalised = courlan.normalize_url(url, strict=False, trailing_slash=False)
    except ValueError:
        LOGGER.debug("cannot normalise %r", url)
        return url
    parts = urlsplit(normalised)
    host = parts.hostname or ""
    for prefix in VARIANT_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:  # keep m.io and the like
            host = host[len(prefix) :]
            break
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    path = AMP_SEGMENT.sub(r"\1", parts.path).rstrip("/")
    if path.endswith(".amp"):
        path = path[: -len(".amp")]
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query) if k.lower() not in VARIANT_PARAMS)
    )
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, ""))


def host_of(url: str) -> str:
    """Return the lower-case host (with port when given) used for per-host limits."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host if parts.port is None else f"{host}:{parts.port}"
