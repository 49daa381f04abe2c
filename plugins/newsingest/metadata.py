"""Page metadata with trafilatura's own readers, skipping the searches whose result is unused."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.json_metadata import extract_json, extract_json_parse_error, normalize_json
from trafilatura.metadata import (
    JSON_MINIFY,
    examine_meta,
    extract_author,
    extract_catstags,
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
JSON_LD_SCRIPTS = './/script[@type="application/ld+json" or @type="application/settings+json"]'
# trafilatura reads JSON-LD that does not parse with regular expressions whose cost grows
# with the square of the text (176 kB of it took 33 s); the fields they look for come first.
BROKEN_JSON_LD_CHARS = 8_000


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
    document = _json_ld(tree, document)
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


def _json_ld(tree: HtmlElement, document: Document) -> Document:
    """Fill the document from the page's JSON-LD as trafilatura does, reading at most
    BROKEN_JSON_LD_CHARS of a script that is not valid JSON."""
    for element in tree.xpath(JSON_LD_SCRIPTS):
        if not element.text:
            continue
        text = normalize_json(JSON_MINIFY.sub(r"\1", element.text))
        try:
            try:
                # strict=False, as trafilatura: control characters from bad encodings are common.
                document = extract_json(json.loads(text, strict=False), document)
            except json.JSONDecodeError:
                document = extract_json_parse_error(text[:BROKEN_JSON_LD_CHARS], document)
        except Exception as exc:  # trafilatura's JSON-LD reader fails on odd objects
            LOGGER.debug("JSON-LD metadata unreadable: %s", exc)
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
