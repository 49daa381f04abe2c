"""Article extraction: a body chosen by evidence, then language, cleaning, wire, dates and gates."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import trafilatura
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from newsingest import __version__, candidates, cleaning, dates, evidence, wire
from newsingest.charsets import decode_html
from newsingest.dedup.fingerprints import content_hash
from newsingest.language import detect as detect_language
from newsingest.language import disagree
from newsingest.language import normalise as normalise_language
from newsingest.metadata import page_metadata
from newsingest.records import Article, FetchedPage
from newsingest.settings import Settings
from newsingest.urls import canonical_url, host_of, too_long

LOGGER = logging.getLogger(__name__)


# Changes whenever trafilatura, the cleaning rules, the agency data or the
# calibration change what a page yields: the data files' digests are part of it.
_DATA_DIGEST = hashlib.sha256(
    (
        cleaning.default_rules().digest
        + wire.default_agencies().digest
        + evidence.default_calibration().digest
    ).encode()
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

    The body is chosen per page by evidence (newsingest.evidence): trafilatura
    in recall mode is the reference, checked against a cheap second opinion
    (the page's declared articleBody, else trafilatura's readability port);
    only when they disagree do trafilatura's precision mode and
    readability-lxml run too, and the candidate that agrees best with all
    opinions wins. trafilatura gives the metadata. The body's language is
    identified (newsingest.language) and picks the cleaning rules and wire
    datelines; wire attribution reads datelines, credit lines, bylines and the
    site name (newsingest.wire); the cleaning pass removes the other junk
    (newsingest.cleaning); quality gates mark pages that are not articles.
    The DAG and `newsingest extract` both call this.

    Args:
        page: the downloaded page.
        settings: quality-gate and confidence thresholds.
        outlet: outlet name from the registry.
        language: registry language, used when the page declares none.

    Returns:
        The article; skipped_reason is set when it must not be loaded.
    """
    skeleton = Article(
        url=page.final_url or page.url,
        canonical_url=page.url,
        feed_name=page.feed_name,
        outlet=outlet,
        fetched_at=page.fetched_at,
        extractor_version=EXTRACTOR_VERSION,
    )
    try:
        return _extracted(page, skeleton, settings, language)
    except Exception as exc:  # trafilatura and lxml raise many internal types on odd markup
        LOGGER.warning("extraction failed for %s: %s: %s", page.url, type(exc).__name__, exc)
        return replace(skeleton, skipped_reason=f"extraction_error: {type(exc).__name__}")


def _extracted(page: FetchedPage, skeleton: Article, settings: Settings, language: str) -> Article:
    """The article of a page (see extract_page), filling in the skeleton; may raise."""
    html, _ = decode_html(page.body, page.charset)
    url = skeleton.url
    tree = load_html(html)
    if tree is None:
        return replace(skeleton, skipped_reason="empty_body")
    page_published = _page_published(html)
    document = page_metadata(tree, url, dated=page_published is not None)
    choice = choose_body(html, tree, url)
    if not choice.candidate.blocks:
        return replace(skeleton, skipped_reason="empty_body")
    title = _bounded(
        WHITESPACE.sub(" ", document.title or page.entry.title or "").strip(),
        settings.max_title_chars,
    )
    declared = _declared_language(html, language)
    blocks = _drop_leading_title(list(choice.candidate.blocks), title)
    detected = detect_language("\n".join(blocks))
    page_language = detected.code or declared
    authors = tuple(a.strip() for a in re.split(r";|,| and ", document.author or "") if a.strip())
    site_name = document.sitename or ""
    attribution = wire.attribute(
        blocks,
        authors=(*authors, *_page_bylines(html)),
        site_name=site_name,
        language=page_language,
    )
    cleaned = cleaning.clean_blocks(attribution.blocks, page_language)
    body = cleaned.body.strip()
    candidates = [
        ("page", page_published),
        ("feed", page.entry.published_at),
        ("page_date", dates.parse_iso(document.date or "")),
    ]
    published_at, published_source = choose_published(candidates, page.fetched_at, settings)
    page_canonical = _trusted_canonical(document.url or "", page.url)
    kind = _page_kind(html, title, url, dated=page_published is not None)
    calibration = evidence.default_calibration()
    confidence = round(calibration.of(choice.stage, choice.agreement, len(body)), 3)
    return replace(
        skeleton,
        canonical_url=canonical_url(page_canonical) if page_canonical else page.url,
        site_name=site_name,
        title=title,
        authors=authors,
        published_at=published_at,
        published_at_source=published_source,
        language=declared,
        language_detected=detected.code,
        language_disagrees=disagree(declared, detected.code),
        body=body,
        description=(document.description or page.entry.summary or "").strip(),
        tags=tuple(t for t in (document.categories or []) + (document.tags or []) if t),
        image_url=document.image or "",
        wire_agencies=attribution.agencies,
        wire_evidence=attribution.evidence,
        content_hash=content_hash(body) if body else "",
        extraction_method=choice.candidate.method,
        extraction_confidence=confidence,
        extraction_low_confidence=confidence < settings.min_extraction_confidence,
        skipped_reason=_gate(body, kind, cleaned.skip_reasons, settings),
    )


def choose_body(html: str, tree: HtmlElement, url: str) -> evidence.Choice:
    """The page's body: recall mode unless a cheap second opinion disagrees, then a vote.

    The second opinion is the page's declared articleBody, else trafilatura's
    readability port. On an ambiguous page precision mode runs too, and of
    the two modes the one that agrees best with every opinion wins.

    Args:
        html: the page's text.
        tree: the parsed page (left unchanged).
        url: the page's URL.

    Returns:
        The chosen candidate, the stage that chose it and its agreement with the others.
    """
    calibration = evidence.default_calibration()
    recall = evidence.candidate(
        candidates.RECALL, candidates.trafilatura_body(tree, url, precision=False)
    )
    declared = candidates.structured_body(html, tree)
    structured, port = None, None
    if declared:
        structured = evidence.candidate(candidates.STRUCTURED, declared)
        level, ambiguous = evidence.first_opinion(recall, structured, calibration)
    else:
        port = _port(tree)
        level, ambiguous = evidence.first_opinion(recall, port, calibration)
    if not ambiguous:
        return evidence.Choice(recall, evidence.SINGLE, level)
    if port is None:
        port = _port(tree)
    precision = evidence.candidate(
        candidates.PRECISION, candidates.trafilatura_body(tree, url, precision=True)
    )
    # The declared body and the port vote but are not chosen: alone they score well
    # below trafilatura's modes on the development set (docs/extraction.md).
    voters = [recall, precision, port, *([structured] if structured else [])]
    return evidence.vote([recall, precision], voters)


def _port(tree: HtmlElement) -> evidence.Candidate:
    """trafilatura's readability port as a candidate."""
    return evidence.candidate(candidates.PORT, candidates.readability_port_body(tree))


def _bounded(title: str, limit: int) -> str:
    """The title, cut at the last word that fits in limit characters with " …" after it."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 2].rsplit(" ", 1)[0] if " " in title[: limit - 2] else title[: limit - 2]
    return cut.rstrip() + " …"


def _drop_leading_title(blocks: list[str], title: str) -> list[str]:
    """Remove the headline when trafilatura kept it as the body's first block."""
    if blocks and title and WHITESPACE.sub(" ", blocks[0]).strip().casefold() == title.casefold():
        return blocks[1:]
    return blocks


def _declared_language(html: str, registry: str) -> str:
    """ISO 639-1 language the page declares (<html lang>), else the registry's."""
    match = HTML_LANG.search(html[:5000])
    return normalise_language(match.group(1) if match else registry)


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
    if len(body) > settings.max_body_chars:
        return f"too_long: {len(body)} > {settings.max_body_chars} characters"
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
