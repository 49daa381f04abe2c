"""Tests of newsingest.metadata: trafilatura's fields, without the searches newsingest ignores."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from newsingest.metadata import BROKEN_JSON_LD_CHARS, DATE_PARAMS, page_metadata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
FIELDS = ("title", "author", "url", "sitename", "description", "categories", "tags", "image")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.html.gz")), ids=lambda p: p.name)
def test_same_fields_as_trafilatura(path: Path) -> None:
    html = gzip.decompress(path.read_bytes()).decode("utf-8")
    url = f"https://{path.name.split('_')[0]}.example/article.html"
    ours = page_metadata(load_html(html), url, dated=False)
    theirs = extract_metadata(load_html(html), url, dict(DATE_PARAMS))
    for name in (*FIELDS, "date"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_a_dated_page_skips_the_date_search() -> None:
    html = (
        "<html><head><title>Strike ends</title></head><body><article>"
        '<time datetime="2022-01-21">21 January</time><p>Text.</p></article></body></html>'
    )
    assert page_metadata(load_html(html), "https://x.example/a", dated=False).date == "2022-01-21"
    assert page_metadata(load_html(html), "https://x.example/a", dated=True).date is None


def _broken_json_ld(padding: int) -> str:
    """A page whose JSON-LD does not parse, naming its author after `padding` characters."""
    ld = '{"@type": "NewsArticle", "headline": "' + "x " * (padding // 2) + '", '
    ld += '"author": {"@type": "Person", "name": "Jane Doe"}, broken'
    return (
        f'<html><head><script type="application/ld+json">{ld}</script></head>'
        "<body><p>Text.</p></body></html>"
    )


def test_broken_json_ld_is_read_as_trafilatura_reads_it() -> None:
    html = _broken_json_ld(100)
    ours = page_metadata(load_html(html), "https://x.example/a", dated=True)
    theirs = extract_metadata(load_html(html), "https://x.example/a", dict(DATE_PARAMS))
    assert ours.author == theirs.author == "Jane Doe"


def test_only_the_head_of_broken_json_ld_is_searched() -> None:
    # trafilatura's regular-expression reading of broken JSON-LD costs the square of its
    # length: a hostile page of 176 kB took 33 s. Past the bound nothing is read.
    html = _broken_json_ld(2 * BROKEN_JSON_LD_CHARS)
    assert page_metadata(load_html(html), "https://x.example/a", dated=True).author is None
