"""Page metadata with trafilatura's own readers, skipping the searches whose result is unused."""

from __future__ import annotations

import logging
import re
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document

LOGGER = logging.getLogger(__name__)

# Dates as trafilatura's metadata search reads them: the extensive search guesses
# from copyright years ("© 2022" -> 1 January).
DATE_PARAMS: dict[str, Any] = {"extensive_search": False, "original_date": True}
SITE_FROM_URL = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")


def page_metadata(tree: HtmlElement, url: str, *, dated: bool) -> Document:
    """Title, author, URL, date, site name, categories, tags, description and image of a page.

    The same readers as trafilatura.extract_metadata, in its order of trust:
    meta tags, then JSON-LD, then searches of the page for what they left
    out. Two searches are skipped because newsingest never uses their result:
    htmldate's search when the page declares its publication time in meta tags
    or JSON-LD (extraction prefers that time), and the licence search.

    Args:
        tree: the parsed page (not changed).
        url: the page's URL, used when the page declares none.
        dated: whether the page declares its publication time.

    Returns:
        trafilatura's Document with the metadata fields set.
    """
    document = examine_meta(tree)
    # trafilatura's rule: a one-word author meta tag is a site or a handle, not a byline.
    if document.author and " " not in document.author:
        document.author = None
    try:
        document = extract_meta_json(tree, document)
    except Exception as exc:  # trafilatura's JSON-LD reader fails on odd objects
        LOGGER.debug("JSON-LD metadata unreadable: %s", exc)
    document.title = document.title or extract_title(tree)
    document.author = document.author or extract_author(tree)
    document.url = document.url or extract_url(tree, url)
    if not dated:
        document.date = find_date(tree, url=document.url, **DATE_PARAMS)
    document.sitename = _site_name(document.sitename or extract_sitename(tree), document.url)
    document.categories = document.categories or extract_catstags("category", tree)
    document.tags = document.tags or extract_catstags("tag", tree)
    document.clean_and_trim()
    return document


def _site_name(declared: str | None, url: str | None) -> str | None:
    """The site name without a handle's "@", capitalised, else the URL's host."""
    if declared:
        name = declared.lstrip("@")
        if name and "." not in name and not name[0].isupper():
            name = name.title()
        return name
    found = SITE_FROM_URL.match(url or "")
    return found.group(1) if found else None
