"""Tests of newsingest.metadata: trafilatura's fields, without the searches newsingest ignores."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from newsingest.metadata import DATE_PARAMS, page_metadata

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
