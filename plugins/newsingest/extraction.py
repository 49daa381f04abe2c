"""Article extraction: trafilatura, then cleaning, wire attribution, dates and quality gates."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypedDict
from urllib.parse import urlsplit

import trafilatura
from trafilatura.settings import Document
from trafilatura.xml import xmltotxt

from newsingest import __version__, cleaning, dates, wire
from newsingest.charsets import decode_html
from newsingest.fingerprints import content_hash
from newsingest.records import Article, FetchedPage
from newsingest.settings import Settings
from newsingest.urls import canonical_url, host_of, too_long

LOGGER = logging.getLogger(__name__)


class TrafilaturaOptions(TypedDict):
    """The keyword arguments newsingest passes to trafilatura.bare_extraction."""

    favor_recall: bool
    include_comments: bool
    include_tables: bool


# trafilatura's options, chosen by measurement on the development set (README,
# "Extraction quality"; bench/extraction.py): recall mode scored best and is the
# fastest of trafilatura's focus modes; reader comments are never article text.
TRAFILATURA_OPTIONS: TrafilaturaOptions = {
    "favor_recall": True,
    "include_comments": False,
    "include_tables": True,
}
# Changes whenever trafilatura, the cleaning rules or the agency data change what
# a page yields: the two data files' digests are part of it.
_DATA_DIGEST = hashlib.sha256(
    (cleaning.default_rules().digest + wire.default_agencies().digest).encode()
).hexdigest()[:8]
EXTRACTOR_VERSION = (
    f"newsingest-{__version__}+trafilatura-{trafilatura.__version__}+rules-{_DATA_DIGEST}"
)
PUBLISHED_META = re.compile(
    r"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|"""
    r"""og:article:published_time|datePublished|pubdate|publish-date|dc\.date\.issued)["'][^>]*>""",
    re.IGNORECASE,
)
CONTENT_ATTR = re.compile(r"""content\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
JSONLD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')
HTML_LANG = re.compile(r"""<html[^>]*\slang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)
WHITESPACE = re.compile(r"\s+")
OG_TYPE = re.compile(r"""<meta[^>]+property\s*=\s*["']og:type["'][^>]*>""", re.IGNORECASE)
SECTION_META = re.compile(
    r"""<meta[^>]+property\s*=\s*["']article:section["'][^>]*>""", re.IGNORECASE
)
JSONLD_TYPE = re.compile(r'"@type"\s*:\s*"(\w+)"')
# Bylines as the page declares them; trafilatura drops organisations ("Reuters") from authors.
AUTHOR_META = re.compile(r"""<meta[^>]+name\s*=\s*["']author["'][^>]*>""", re.IGNORECASE)
JSONLD_AUTHOR = re.compile(r'"author"\s*:\s*(?:\[\s*)?(?:\{[^{}]*?"name"\s*:\s*)?"([^"]{1,200})"')
NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?false', re.IGNORECASE)
# schema.org types of listing pages and of galleries, as pages declare them in JSON-LD.
INDEX_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage"})
GALLERY_TYPES = frozenset({"ImageGallery", "MediaGallery"})
ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting",
     "OpinionNewsArticle", "LiveBlogPosting", "ReviewNewsArticle", "Report"}
)  # fmt: skip
# How galleries announce themselves in a title, a section name or a URL path, in the
# languages of the cleaning rules.
GALLERY_TITLE = re.compile(
    r"^(?:in pictures|in photos|gallery|photos|pictures|slideshow|bildergalerie|fotostrecke|"
    r"in bildern|en images|en photos|diaporama|en fotos|en imágenes|galería|fotogalería)\b",
    re.IGNORECASE,
)
GALLERY_SECTION = re.compile(
    r"^(?:photos?|pictures|galler(?:y|ies)|bilder|fotos?|galerie|diaporama|galería)$",
    re.IGNORECASE,
)
GALLERY_PATH = re.compile(
    r"/(?:(?:galler(?:y|ies)|photos|photo-gallery|slideshows?|bildergalerie|fotostrecke|galerie|"
    r"diaporama|galeria|fotogaleria)(?:/|$)|in-pictures[-/])",
    re.IGNORECASE,
)
# Skip reasons of the page kinds that are never articles (see _page_kind).
NOT_ARTICLE_KINDS = {"gallery": "not_article: gallery", "listing": "not_article: index page"}
# Headlines that are links: a listing page is made of them.
LINKED_HEADLINE = re.compile(r"<h[1-4][^>]*>\s*<a\s", re.IGNORECASE)


def _page_published(html: str) -> datetime | None:
    """Publication time from meta tags or JSON-LD, which carry a time, unlike htmldate."""
    head = html[:200_000]
    for tag in PUBLISHED_META.finditer(head):
        content = CONTENT_ATTR.search(tag.group(0))
        if content and (parsed := dates.parse_iso(content.group(1))):
            return parsed
    match = JSONLD_PUBLISHED.search(head)
    return dates.parse_iso(match.group(1)) if match else None


def choose_published(
    candidates: list[tuple[str, datetime | None]], fetched_at: datetime, settings: Settings
) -> tuple[datetime | None, str]:
    """Pick the first candidate date that is not implausibly in the future.

    Args:
        candidates: (source, value) pairs in order of trust.
        fetched_at: when the page was downloaded (the reference "now").
        settings: gives the allowed clock skew.

    Returns:
        (published_at, source); the source notes any rejected future date.
    """
    limit = fetched_at + timedelta(hours=settings.max_future_skew_hours)
    rejected: list[str] = []
    for source, value in candidates:
        if value is None:
            continue
        if value > limit:
            rejected.append(f"{source} date {value.isoformat()} in the future")
            continue
        note = f" ({'; '.join(rejected)} rejected)" if rejected else ""
        return value, source + note
    return None, ("; ".join(rejected) + " rejected") if rejected else ""


def extract_page(
    page: FetchedPage, settings: Settings, *, outlet: str = "", language: str = ""
) -> Article:
    """Extract one article from a fetched page.

    trafilatura gives the body and metadata; wire attribution reads
    datelines, credit lines, bylines and the site name and takes credit lines
    out of the body (newsingest.wire); the cleaning pass removes the other
    junk trafilatura keeps (newsingest.cleaning); quality gates mark pages
    that are not articles. The DAG and `newsingest extract` both call this.

    Args:
        page: the downloaded page.
        settings: quality-gate thresholds.
        outlet: outlet name from the registry.
        language: registry language, used when the page declares none.

    Returns:
        The article; skipped_reason is set when it must not be loaded.
    """
    html, _ = decode_html(page.body, page.charset)
    skeleton = Article(
        url=page.final_url or page.url,
        canonical_url=page.url,
        feed_name=page.feed_name,
        outlet=outlet,
        fetched_at=page.fetched_at,
        extractor_version=EXTRACTOR_VERSION,
    )
    try:
        document = trafilatura.bare_extraction(
            html,
            url=page.final_url or page.url,
            with_metadata=True,
            # The extensive search guesses from copyright years ("© 2022" -> 1 January).
            date_extraction_params={"extensive_search": False, "original_date": True},
            **TRAFILATURA_OPTIONS,
        )
    except Exception as exc:  # trafilatura raises many internal types on odd markup
        LOGGER.warning("extraction failed for %s: %s", page.url, exc)
        return replace(skeleton, skipped_reason=f"extraction_error: {type(exc).__name__}")
    if not isinstance(document, Document):
        return replace(skeleton, skipped_reason="empty_body")
    title = (document.title or page.entry.title or "").strip()
    page_language = _language(document.language, html, language)
    authors = tuple(a.strip() for a in re.split(r";|,| and ", document.author or "") if a.strip())
    site_name = document.sitename or ""
    attribution = wire.attribute(
        _drop_leading_title(_blocks(document), title),
        authors=(*authors, *_page_bylines(html)),
        site_name=site_name,
    )
    cleaned = cleaning.clean_blocks(attribution.blocks, page_language)
    body = cleaned.body.strip()
    page_published = _page_published(html)
    candidates = [
        ("page", page_published),
        ("feed", page.entry.published_at),
        ("page_date", dates.parse_iso(document.date or "")),
    ]
    published_at, published_source = choose_published(candidates, page.fetched_at, settings)
    page_canonical = _trusted_canonical(document.url or "", page.url)
    kind = _page_kind(html, title, page.final_url or page.url, dated=page_published is not None)
    return replace(
        skeleton,
        canonical_url=canonical_url(page_canonical) if page_canonical else page.url,
        site_name=site_name,
        title=title,
        authors=authors,
        published_at=published_at,
        published_at_source=published_source,
        language=page_language,
        body=body,
        description=(document.description or page.entry.summary or "").strip(),
        tags=tuple(t for t in (document.categories or []) + (document.tags or []) if t),
        image_url=document.image or "",
        wire_agencies=attribution.agencies,
        wire_evidence=attribution.evidence,
        content_hash=content_hash(body) if body else "",
        skipped_reason=_gate(body, kind, cleaned.skip_reasons, settings),
    )


def _blocks(document: Document) -> list[str]:
    """The body as blocks, one per paragraph, heading, list, table or quotation."""
    if document.body is None:
        return [line for line in (document.text or "").split("\n") if line.strip()]
    texts = (xmltotxt(child, include_formatting=False).strip() for child in document.body)
    return [text for text in texts if text]


def _drop_leading_title(blocks: list[str], title: str) -> list[str]:
    """Remove the headline when trafilatura kept it as the body's first block."""
    if blocks and title and WHITESPACE.sub(" ", blocks[0]).strip().casefold() == title.casefold():
        return blocks[1:]
    return blocks


def _language(detected: str | None, html: str, registry: str) -> str:
    """ISO 639-1 language: trafilatura's, else the page's <html lang>, else the registry's."""
    if detected:
        return detected.split("-")[0].lower()
    match = HTML_LANG.search(html[:5000])
    return (match.group(1) if match else registry).split("-")[0].lower()


def _trusted_canonical(declared: str, fetched: str) -> str:
    """The page's own canonical URL, unless it points off-host or at a homepage (a CMS bug)."""
    if not declared.startswith(("http://", "https://")) or too_long(declared):
        return ""
    if (
        host_of(canonical_url(declared)) != host_of(fetched)
        or urlsplit(declared).path.strip("/") == ""
    ):
        return ""
    return declared


def _page_bylines(html: str) -> list[str]:
    """Author names from the author meta tag and JSON-LD, as the page gives them."""
    head = html[:200_000]
    names = [m.group(1) for m in JSONLD_AUTHOR.finditer(head)]
    names += [
        c.group(1) for tag in AUTHOR_META.finditer(head) if (c := CONTENT_ATTR.search(tag.group(0)))
    ]
    return [n.strip() for n in dict.fromkeys(names) if n.strip() and "://" not in n]


def _page_kind(html: str, title: str, url: str, *, dated: bool) -> str:
    """What the page says it is: "gallery", "listing", "website", "paywalled" or "" (an article).

    "listing" is declared in JSON-LD; "website" is a page whose og:type is not
    article, that gives no publication time and whose headlines are links.
    """
    head = html[:200_000]
    types = set(JSONLD_TYPE.findall(head))
    og_type = CONTENT_ATTR.search(og.group(0)) if (og := OG_TYPE.search(head)) else None
    section = CONTENT_ATTR.search(tag.group(0)) if (tag := SECTION_META.search(head)) else None
    if (
        types & GALLERY_TYPES
        or GALLERY_TITLE.match(title)
        or GALLERY_PATH.search(urlsplit(url).path)
    ):
        return "gallery"
    if section and GALLERY_SECTION.match(section.group(1).strip()):
        return "gallery"
    if types & INDEX_TYPES and not types & ARTICLE_TYPES:
        return "listing"
    if NOT_FREE.search(head):
        return "paywalled"
    website = og_type is not None and og_type.group(1).strip().lower() != "article"
    if website and not dated and len(LINKED_HEADLINE.findall(html)) >= 2:
        return "website"
    return ""


def _gate(body: str, kind: str, skip_reasons: tuple[str, ...], settings: Settings) -> str | None:
    """Why a body is not an article worth loading, or None.

    A page that declares itself a gallery, a listing or paywalled, or whose
    text kept a paywall prompt, is skipped when its text is shorter than
    max_teaser_chars: a photo essay, or a paywalled story served in full, is
    loaded. Other signs of a listing only name the reason of a body that is
    too short anyway, since many blogs call every post a "website".
    """
    if len(body) < settings.max_teaser_chars and (reason := _teaser(kind, skip_reasons)):
        return reason
    if len(body) >= settings.min_body_chars:
        return None
    if kind == "website":
        return "not_article: index page"
    return (
        f"too_short: {len(body)} < {settings.min_body_chars} characters" if body else "empty_body"
    )


def _teaser(kind: str, skip_reasons: tuple[str, ...]) -> str | None:
    """The skip reason of a short page that declares itself no article, or None."""
    if kind in NOT_ARTICLE_KINDS:
        return NOT_ARTICLE_KINDS[kind]
    if skip_reasons:
        return skip_reasons[0]
    return "paywall: teaser" if kind == "paywalled" else None
