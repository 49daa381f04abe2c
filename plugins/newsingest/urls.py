"""URL canonicalisation: one key per article whatever tracking or mobile variant a feed links."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

from newsingest.addresses import redacted

LOGGER = logging.getLogger(__name__)

# Host prefixes that serve the same article under another skin.
VARIANT_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
# Query parameters that select an AMP/mobile rendering rather than content.
VARIANT_PARAMS = frozenset({"amp", "outputtype", "output", "mobile", "ref", "ns_campaign"})
AMP_SUFFIX = re.compile(r"(?:\.amp)+$")
DEFAULT_PORTS = {"http": 80, "https": 443}
# The authority of an absolute URL as written (user info included).
AUTHORITY = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")
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
    www/mobile/AMP variants and trailing slashes, and sorts the query. The
    canonical form of a canonical URL is itself.

    Args:
        url: an absolute http(s) URL, as a feed or page gives it (entities decoded).

    Returns:
        The canonical URL, or the stripped input when it cannot be parsed
        (an unreadable port or IPv6 bracket: the fetcher refuses those as bad_url).
    """
    url = url.strip()
    try:
        # courlan is given the URL parsed: from a string it would first decode HTML
        # entities, which feeds and pages have already decoded ("&section=" became "§ion=").
        normalised = courlan.normalize_url(urlsplit(url), strict=False, trailing_slash=False)
        parts = urlsplit(normalised)
        port = parts.port
    except ValueError:
        LOGGER.debug("cannot normalise %r", redacted(url))
        return url
    host = parts.hostname or ""
    for prefix in VARIANT_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:  # keep m.io and the like
            host = host[len(prefix) :]
            break
    if ":" in host:
        host = f"[{host}]"  # IPv6, whose brackets .hostname drops
    netloc = host if port is None else f"{host}:{port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query) if k.lower() not in VARIANT_PARAMS)
    )
    path = _without_amp(_without_dot_segments(parts.path)) or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


def _without_dot_segments(path: str) -> str:
    """The path with its "." and ".." segments resolved (RFC 3986, 5.2.4).

    urllib3 resolves them before it sends a request, so "/x/../a" and "/a"
    fetch the same page and must share its key.
    """
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    # "/a/b/.." is the folder "/a/".
    return "/" + "/".join(kept) + ("/" if segments[-1] in (".", "..") else "")


def _without_amp(path: str) -> str:
    """The path without AMP segments, .amp suffixes and trailing slashes.

    Repeated until nothing changes: removing one can uncover another
    ("/x/amp.amp" is "/x/amp", which is "/x").
    """
    while True:
        stripped = AMP_SUFFIX.sub("", path.rstrip("/"))
        stripped = "/".join(s for s in stripped.split("/") if s != "amp").rstrip("/")
        if stripped == path:
            return path
        path = stripped


def host_of(url: str) -> str:
    """Return the lower-case host (with port unless the scheme's default) used for per-host limits.

    Never raises: a URL whose port or IPv6 bracket urllib cannot read (the
    fetcher refuses it as bad_url) is keyed by its authority as written.
    """
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        match = AUTHORITY.match(url)
        return (match.group(1) if match else "").rpartition("@")[2].lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"
