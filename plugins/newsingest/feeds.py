"""Feed documents: RSS 0.9x/1.0/2.0, Atom, JSON Feed, (news) sitemaps, and feed discovery."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from newsingest.dates import from_struct_time, parse_iso
from newsingest.records import FeedEntry, FeedSource, storable
from newsingest.urls import canonical_url

LOGGER = logging.getLogger(__name__)

# Entity declarations have no use in feeds and are how entity-expansion attacks start.
ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
FEED_LINK_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json",
     "application/json", "application/rdf+xml"}
)  # fmt: skip
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


class FeedParseError(ValueError):
    """The document is not a feed we can read; the message says why."""


@dataclass(slots=True)
class ParsedFeed:
    """Entries of one feed document, plus child sitemaps of a sitemap index."""

    format: str
    entries: list[FeedEntry] = field(default_factory=list)
    child_sitemaps: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0


def parse_feed(
    body: bytes, *, source: FeedSource, base_url: str, content_type: str = ""
) -> ParsedFeed:
    """Parse a feed document of any supported format.

    Args:
        body: the raw document.
        source: the registry entry (its name goes into each entry).
        base_url: URL the document came from, for relative links.
        content_type: the response's Content-Type, which guides feedparser's decoding.

    Returns:
        The entries, with duplicates (same canonical URL or GUID) collapsed.
    """
    head = body[:65536].lstrip()
    if ENTITY_DECLARATION.search(body[:1_000_000]):
        raise FeedParseError("document declares XML entities; refused (entity-expansion guard)")
    if head.startswith((b"{", b"[")):
        parsed = _parse_json_feed(body, source, base_url)
    elif re.search(rb"<(\w+:)?(urlset|sitemapindex)\b", head[:2048]):
        parsed = _parse_sitemap(body, source, base_url)
    else:
        parsed = _parse_xml_feed(body, source, base_url, content_type)
    return _collapse(parsed)


def _collapse(parsed: ParsedFeed) -> ParsedFeed:
    """Drop entries whose canonical URL or GUID was already seen in this document."""
    seen: set[str] = set()
    kept: list[FeedEntry] = []
    for entry in parsed.entries:
        keys = {canonical_url(entry.url)} | ({f"guid:{entry.guid}"} if entry.guid else set())
        if keys & seen:
            parsed.duplicates_dropped += 1
            continue
        seen |= keys
        kept.append(entry)
    parsed.entries = kept
    return parsed


def _entry(
    source: FeedSource,
    *,
    link: str,
    base_url: str,
    title: object = "",
    published_at: datetime | None = None,
    updated_at: datetime | None = None,
    guid: object = "",
    summary: object = "",
    author: object = "",
) -> FeedEntry:
    """A feed entry from what a document gave, every text storable (no NUL, no lone surrogate).

    A value that is not text (a JSON Feed title given as an object) is left out.
    """
    try:
        url = urljoin(base_url, link)
    except ValueError:  # an unreadable IPv6 bracket: kept as written, the fetcher refuses it
        url = link
    return FeedEntry(
        feed_name=source.name,
        url=storable(url),
        title=_text(title).strip(),
        published_at=published_at,
        updated_at=updated_at,
        guid=_text(guid),
        summary=_text(summary)[:2000],
        author=_text(author),
    )


def _text(value: object) -> str:
    """A storable string of a feed's value: text and numbers as written, anything else empty."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return storable(str(value))


def _parse_xml_feed(
    body: bytes, source: FeedSource, base_url: str, content_type: str
) -> ParsedFeed:
    """RSS and Atom in all versions, through feedparser."""
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    result = feedparser.parse(body, response_headers=headers)
    version = result.get("version") or ""
    if not version:
        reason = result.get("bozo_exception", "no RSS, RDF or Atom root element")
        raise FeedParseError(f"not a readable feed: {reason}")
    entries: list[FeedEntry] = []
    for item in result.entries:
        link = item.get("link") or ""
        if not link:
            continue
        # Many feeds only date their items with an update time (RSS 1.0 dc:date).
        # Membership first: item.get() would trigger feedparser's deprecated fallback mapping.
        published = (
            from_struct_time(item["published_parsed"]) if "published_parsed" in item else None
        )
        updated = from_struct_time(item["updated_parsed"]) if "updated_parsed" in item else None
        entries.append(
            _entry(
                source,
                link=link,
                base_url=base_url,
                title=item.get("title", ""),
                published_at=published or updated,
                updated_at=updated,
                guid=item.get("id", ""),
                summary=item.get("summary", ""),
                author=item.get("author", ""),
            )
        )
    # Feeds with small errors still count when they yield entries; a wreck does not.
    if result.get("bozo") and not entries:
        raise FeedParseError(f"malformed feed: {result.get('bozo_exception')}")
    if result.get("bozo"):
        LOGGER.warning("feed %s: tolerated error: %s", source.name, result.get("bozo_exception"))
    return ParsedFeed(format=version, entries=entries)


def _parse_json_feed(body: bytes, source: FeedSource, base_url: str) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"malformed JSON feed: {exc}") from exc
    except RecursionError as exc:
        raise FeedParseError("malformed JSON feed: nested too deeply to read") from exc
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = document.get("items") or []
    if not isinstance(items, list):
        raise FeedParseError(f"JSON Feed items is a {type(items).__name__}, not a list")
    entries: list[FeedEntry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url") or ""
        if not isinstance(link, str) or not link:
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        names = [a.get("name", "") for a in authors if isinstance(a, dict)]
        entries.append(
            _entry(
                source,
                link=link,
                base_url=base_url,
                title=item.get("title", ""),
                published_at=parse_iso(item.get("date_published")),
                updated_at=parse_iso(item.get("date_modified")),
                guid=item.get("id", ""),
                summary=item.get("summary") or item.get("content_text") or "",
                author=", ".join(str(n) for n in names if n),
            )
        )
    return ParsedFeed(format="json" + str(document["version"]).rsplit("/", 1)[-1], entries=entries)


def _parse_sitemap(body: bytes, source: FeedSource, base_url: str) -> ParsedFeed:
    """Sitemaps, Google News sitemaps and sitemap indexes."""
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False
    )
    try:
        root = lxml.etree.fromstring(body, parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise FeedParseError(f"malformed sitemap: {exc}") from exc
    if root.tag == f"{SITEMAP_NS}sitemapindex":
        children = [
            urljoin(base_url, (loc.text or "").strip())
            for loc in root.iter(f"{SITEMAP_NS}loc")
            if (loc.text or "").strip()
        ]
        return ParsedFeed(format="sitemapindex", child_sitemaps=children)
    entries: list[FeedEntry] = []
    has_news = False
    for url in root.iter(f"{SITEMAP_NS}url"):
        loc = (url.findtext(f"{SITEMAP_NS}loc") or "").strip()
        if not loc:
            continue
        news = url.find(f"{NEWS_NS}news")
        has_news = has_news or news is not None
        title = news.findtext(f"{NEWS_NS}title", "") if news is not None else ""
        published = news.findtext(f"{NEWS_NS}publication_date") if news is not None else None
        # lastmod is when the page last changed: the update time refetch_updated compares.
        modified = parse_iso(url.findtext(f"{SITEMAP_NS}lastmod"))
        entries.append(
            _entry(
                source,
                link=loc,
                base_url=base_url,
                title=title,
                published_at=parse_iso(published) or modified,
                updated_at=modified,
                guid=loc,
            )
        )
    return ParsedFeed(
        format="sitemap-news" if has_news else "sitemap",
        entries=entries,
    )


def discover_feed_urls(html: str, base_url: str) -> list[str]:
    """Feed URLs a homepage advertises, then the common paths to try.

    Args:
        html: the homepage markup.
        base_url: the homepage URL.

    Returns:
        Candidate feed URLs, advertised ones first, without repeats.
    """
    found: list[str] = []
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        tree = None
    if tree is not None:
        for link in tree.iter("link"):
            rel = (link.get("rel") or "").lower().split()
            kind = (link.get("type") or "").lower().split(";")[0].strip()
            href = link.get("href")
            if "alternate" in rel and kind in FEED_LINK_TYPES and href:
                found.append(urljoin(base_url, href))
    found += [urljoin(base_url, path) for path in COMMON_FEED_PATHS]
    return list(dict.fromkeys(found))
