"""Tests of newsingest.urls."""

from __future__ import annotations

import pytest

from newsingest.urls import canonical_url, host_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/a/b/?utm_source=rss&id=3#top", "https://example.com/a/b?id=3"),
        ("https://x.com/a?storyid=3&fbclid=x&gclid=2", "https://x.com/a?storyid=3"),
        ("https://m.example.com/news/story.html", "https://example.com/news/story.html"),
        ("https://example.com/amp/news/story", "https://example.com/news/story"),
        ("https://example.com/news/story.amp", "https://example.com/news/story"),
        ("https://EXAMPLE.com:443/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
        ("https://example.com/x?outputType=amp", "https://example.com/x"),
        ("http://127.0.0.1:8080/a/y.html?utm_medium=feed", "http://127.0.0.1:8080/a/y.html"),
        ("https://m.io/story", "https://m.io/story"),
        # Dot segments, as the HTTP client resolves them before it sends the request.
        ("https://example.com/x/../news/./story", "https://example.com/news/story"),
        ("https://example.com/news/a/..", "https://example.com/news"),
        ("https://example.com/../../story", "https://example.com/story"),
        ("https://example.com/news/..story", "https://example.com/news/..story"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("https://www.example.com/amp/a/?fbclid=1&q=2")
    assert canonical_url(once) == once


def test_host_of_keeps_port() -> None:
    assert host_of("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert host_of("https://Example.COM/x") == "example.com"
