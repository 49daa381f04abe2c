"""Candidate bodies of a parsed page: trafilatura's two modes, its readability port, JSON-LD."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import trafilatura
from lxml.html import HtmlElement, fromstring
from trafilatura.readability_lxml import Document as PortDocument
from trafilatura.settings import Document
from trafilatura.xml import xmltotxt

LOGGER = logging.getLogger(__name__)

# The candidates, by the name extraction_method records.
RECALL, PRECISION, PORT, STRUCTURED = (
    "trafilatura_recall", "trafilatura_precision", "readability_port", "structured",
)  # fmt: skip
# Elements whose text is one block of a readability summary or a microdata body.
BLOCK_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "dd", "dt",
     "figcaption"}
)  # fmt: skip
JSONLD_SCRIPT = re.compile(
    r"<script[^>]*application/ld\+json[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL
)
PARAGRAPH_BREAK = re.compile(r"\s*\n\s*")


def trafilatura_body(tree: HtmlElement, url: str, *, precision: bool) -> list[str]:
    """trafilatura's body in recall (or precision) mode, one block per paragraph.

    Args:
        tree: the parsed page (trafilatura works on its own copy).
        url: the page's URL.
        precision: favor precision instead of recall.

    Returns:
        The body's blocks; empty when trafilatura finds none.
    """
    # Reader comments are never article text; a results table in a news story is part of it.
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=precision,
        favor_recall=not precision,
        include_comments=False,
        include_tables=True,
    )
    if not isinstance(document, Document):
        return []
    return blocks_of_document(document)


def blocks_of_document(document: Document) -> list[str]:
    """A trafilatura document's body as blocks: paragraphs, headings, lists, tables, quotes."""
    if document.body is None:
        return [line for line in (document.text or "").split("\n") if line.strip()]
    texts = (xmltotxt(child, include_formatting=False).strip() for child in document.body)
    return [text for text in texts if text]


def readability_port_body(tree: HtmlElement) -> list[str]:
    """The summary of trafilatura's readability port as blocks: a cheap, independent opinion.

    The port (trafilatura.readability_lxml) is the readability algorithm that
    trafilatura itself falls back on; it needs no second parse of the page.
    """
    try:
        summary = PortDocument(copy.deepcopy(tree)).summary()
        return element_blocks(fromstring(summary)) if summary else []
    except Exception as exc:  # odd markup: the opinion is just absent, the page goes on
        LOGGER.debug("readability port failed: %s", exc)
        return []


def element_blocks(element: HtmlElement) -> list[str]:
    """The text of the innermost block elements under an element, whitespace collapsed."""
    out = []
    for node in element.iter(*BLOCK_TAGS):
        if next(node.iterdescendants(*BLOCK_TAGS), None) is not None:
            continue
        text = " ".join(node.text_content().split())
        if text:
            out.append(text)
    if not out:
        out = [line for line in PARAGRAPH_BREAK.split(element.text_content()) if line.strip()]
    return out


def structured_body(html: str, tree: HtmlElement) -> list[str]:
    """The articleBody the page declares: JSON-LD first, else microdata (empty when none).

    Args:
        html: the page's text (JSON-LD is read from its script elements).
        tree: the parsed page (microdata is read from itemprop="articleBody").

    Returns:
        The declared body as blocks.
    """
    if "articleBody" not in html:
        return []
    for match in JSONLD_SCRIPT.finditer(html):
        try:
            data = json.loads(match.group(1))
        except ValueError:
            continue
        for body in _article_bodies(data):
            blocks = [b for b in PARAGRAPH_BREAK.split(body.strip()) if b]
            if blocks:
                return blocks
    for element in tree.xpath('//*[@itemprop="articleBody"]'):
        blocks = element_blocks(element)
        if blocks:
            return blocks
    return []


def _article_bodies(data: Any) -> Iterator[str]:
    """Every non-empty articleBody string in a JSON-LD value, @graph and nesting included."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            body = item.get("articleBody")
            if isinstance(body, str) and body.strip():
                yield body
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
