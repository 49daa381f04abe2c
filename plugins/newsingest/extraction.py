"""Article extraction: trafilatura for body and metadata, then dates, language and quality gates."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import trafilatura
from trafilatura.settings import Document

from newsingest import __version__
from newsingest.charsets import decode_html
from newsingest.fingerprints import content_hash
from newsingest.records import Article, FetchedPage
from newsingest.settings import Settings
from newsingest.urls import canonical_url, host_of

LOGGER = logging.getLogger(__name__)

# Bumped whenever options or post-processing change what a page yields.
EXTRACTOR_VERSION = f"newsingest-{__version__}+trafilatura-{trafilatura.__version__}"
PUBLISHED_META = re.compile(
    r"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|"""
    r"""og:article:published_time|datePublished|pubdate|publish-date|dc\.date\.issued)["'][^>]*>""",
    re.IGNORECASE,
)
CONTENT_ATTR = re.compile(r"""content\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
JSONLD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')
HTML_LANG = re.compile(r"""<html[^>]*\slang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)
WHITESPACE = re.compile(r"\s+")


def _parse_datetime(value: str) -> datetime | None:
    """A UTC datetime from an ISO 8601 timestamp or date, None when unreadable."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page_published(html: str) -> datetime | None:
    """Publication time from meta tags or JSON-LD, which carry a time, unlike htmldate."""
    head = html[:200_000]
    for tag in PUBLISHED_META.finditer(head):
        content = CONTENT_ATTR.search(tag.group(0))
        if content and (parsed := _parse_datetime(content.group(1))):
            return parsed
    match = JSONLD_PUBLISHED.search(head)
    return _parse_datetime(match.group(1)) if match else None


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
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            # The extensive search guesses from copyright years ("© 2022" -> 1 January).
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # trafilatura raises many internal types on odd markup
        LOGGER.warning("extraction failed for %s: %s", page.url, exc)
        return replace(skeleton, skipped_reason=f"extraction_error: {type(exc).__name__}")
    if not isinstance(document, Document):
        return replace(skeleton, skipped_reason="empty_body")
    title = (document.title or page.entry.title or "").strip()
    body = _drop_leading_title((document.text or "").strip(), title)
    candidates = [
        ("page", _page_published(html)),
        ("feed", page.entry.published_at),
        ("page_date", _parse_datetime(document.date or "")),
    ]
    published_at, published_source = choose_published(candidates, page.fetched_at, settings)
    page_canonical = _trusted_canonical(document.url or "", page.url)
    authors = tuple(a.strip() for a in re.split(r";|,| and ", document.author or "") if a.strip())
    return replace(
        skeleton,
        canonical_url=canonical_url(page_canonical) if page_canonical else page.url,
        site_name=document.sitename or "",
        title=title,
        authors=authors,
        published_at=published_at,
        published_at_source=published_source,
        language=_language(document.language, html, language),
        body=body,
        description=(document.description or page.entry.summary or "").strip(),
        tags=tuple(t for t in (document.categories or []) + (document.tags or []) if t),
        image_url=document.image or "",
        content_hash=content_hash(body) if body else "",
        skipped_reason=_gate(body, settings),
    )


def _drop_leading_title(body: str, title: str) -> str:
    """Remove the headline when trafilatura kept it as the body's first line."""
    first, _, rest = body.partition("\n")
    if title and WHITESPACE.sub(" ", first).strip().casefold() == title.casefold():
        return rest.strip()
    return body


def _language(detected: str | None, html: str, registry: str) -> str:
    """ISO 639-1 language: trafilatura's, else the page's <html lang>, else the registry's."""
    if detected:
        return detected.split("-")[0].lower()
    match = HTML_LANG.search(html[:5000])
    return (match.group(1) if match else registry).split("-")[0].lower()


def _trusted_canonical(declared: str, fetched: str) -> str:
    """The page's own canonical URL, unless it points off-host or at a homepage (a CMS bug)."""
    if not declared.startswith(("http://", "https://")):
        return ""
    if (
        host_of(canonical_url(declared)) != host_of(fetched)
        or urlsplit(declared).path.strip("/") == ""
    ):
        return ""
    return declared


def _gate(body: str, settings: Settings) -> str | None:
    """Why a body is not an article worth loading, or None."""
    if not body:
        return "empty_body"
    if len(body) < settings.min_body_chars:
        return f"too_short: {len(body)} < {settings.min_body_chars} characters"
    return None
