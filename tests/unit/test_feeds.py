"""Tests of newsingest.feeds over small feed documents in tests/fixtures/feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsingest.feeds import FeedParseError, discover_feed_urls, parse_feed
from newsingest.records import FeedSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"
SOURCE = FeedSource(name="test", url="https://courier.example/rss")


def parse(name: str, base: str = "https://courier.example/rss") -> object:
    return parse_feed((FIXTURES / name).read_bytes(), source=SOURCE, base_url=base)


def test_rss2_entries_dates_and_relative_links() -> None:
    feed = parse("rss2.xml")
    assert feed.format == "rss20"
    urls = [e.url for e in feed.entries]
    assert urls == [
        "https://courier.example/2022/01/21/harbour-strike.html?utm_source=rss",
        "https://courier.example/2022/01/20/tram-line.html",
        "https://courier.example/2022/01/19/undated.html",
    ]
    first = feed.entries[0]
    assert first.published_at == datetime(2022, 1, 21, 13, 5, tzinfo=UTC)
    assert first.guid == "courier-1001"
    assert first.author == "Ana Ruiz"
    assert first.feed_name == "test"
    assert feed.entries[2].published_at is None


def test_rss091_latin1() -> None:
    feed = parse("rss091.xml")
    assert feed.format == "rss091u"
    assert feed.entries[0].title == "Café reopens"


def test_rss1_rdf() -> None:
    feed = parse("rss1.rdf")
    assert feed.format == "rss10"
    assert [e.title for e in feed.entries] == ["Story A", "Story B"]
    assert feed.entries[1].published_at == datetime(2022, 1, 21, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("name", "version"), [("atom.xml", "atom10"), ("atom03.xml", "atom03")])
def test_atom(name: str, version: str) -> None:
    feed = parse(name)
    assert feed.format == version
    assert len(feed.entries) == 1
    assert feed.entries[0].published_at is not None


def test_atom10_fields() -> None:
    entry = parse("atom.xml").entries[0]
    assert entry.url == "https://ledger.example/museum"
    assert entry.published_at == datetime(2022, 1, 21, 7, 0, tzinfo=UTC)
    assert entry.author == "Lea Park"


def test_json_feed() -> None:
    feed = parse("feed.json")
    assert feed.format == "json1.1"
    assert [e.url for e in feed.entries] == [
        "https://wire.example/json-1",
        "https://other.example/x",
    ]
    assert feed.entries[0].author == "Desk"
    assert feed.entries[1].published_at == datetime(2022, 1, 21, 7, 0, tzinfo=UTC)


def test_google_news_sitemap() -> None:
    feed = parse("news-sitemap.xml")
    assert feed.format == "sitemap-news"
    assert feed.entries[0].title == "Budget passes"
    assert feed.entries[0].published_at == datetime(2022, 1, 21, 12, 0, tzinfo=UTC)
    assert feed.entries[1].published_at == datetime(2022, 1, 20, tzinfo=UTC)
    # lastmod is the update time that refetch_updated compares; the news entry has none.
    assert feed.entries[1].updated_at == datetime(2022, 1, 20, tzinfo=UTC)
    assert feed.entries[0].updated_at is None


def test_sitemap_index_lists_children() -> None:
    feed = parse("sitemap-index.xml", base="https://paper.example/sitemap.xml")
    assert feed.entries == []
    assert feed.child_sitemaps == [
        "https://paper.example/sitemap-news.xml",
        "https://paper.example/sitemap-2.xml",
    ]


def test_malformed_xml_is_a_parse_error() -> None:
    with pytest.raises(FeedParseError):
        parse("malformed.xml")


def test_entity_expansion_is_refused_before_parsing() -> None:
    with pytest.raises(FeedParseError, match="entit"):
        parse("xml-bomb.xml")


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>not a feed</body></html>", b'{"items": []}', b"\x00\x01\x02"]
)
def test_non_feeds_are_parse_errors(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, source=SOURCE, base_url="https://x.example/")


def test_duplicate_guids_and_urls_collapse() -> None:
    feed = parse("dupguids.xml")
    assert [e.url for e in feed.entries] == ["https://dup.example/a", "https://dup.example/b"]
    assert feed.duplicates_dropped == 2


def test_ten_thousand_entries() -> None:
    items = "".join(
        f"<item><title>n{i}</title><link>https://big.example/{i}</link><guid>{i}</guid></item>"
        for i in range(10_000)
    )
    body = f'<rss version="2.0"><channel><title>big</title>{items}</channel></rss>'.encode()
    feed = parse_feed(body, source=SOURCE, base_url="https://big.example/")
    assert len(feed.entries) == 10_000


def test_discovery_prefers_advertised_feeds() -> None:
    html = (FIXTURES / "homepage.html").read_text()
    found = discover_feed_urls(html, "https://paper.example/")
    assert found[:2] == ["https://paper.example/feeds/all.xml", "https://paper.example/atom"]
    assert "https://paper.example/feed" in found
    assert "https://paper.example/style.css" not in found


JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def json_feed(items: object) -> bytes:
    return json.dumps({"version": JSON_FEED_VERSION, "title": "t", "items": items}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json_feed(7), "items is a int, not a list"),
        (json_feed({"a": 1}), "items is a dict, not a list"),
    ],
)
def test_hostile_json_feeds_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, source=SOURCE, base_url="https://x.example/")


def test_json_feed_values_of_the_wrong_type_are_left_out() -> None:
    items = [
        {"id": ["x"], "url": "https://x.example/a", "title": {"x": 1}, "summary": [1],
         "authors": "Jane", "date_published": 12345},
        {"id": 7, "url": "https://x.example/b", "title": 2024},
        {"id": "c", "url": {"href": "https://x.example/c"}},
        None, 7, "text",
    ]  # fmt: skip
    feed = parse_feed(json_feed(items), source=SOURCE, base_url="https://x.example/")
    first, second = feed.entries
    assert (first.url, first.title, first.guid, first.summary, first.author) == (
        "https://x.example/a", "", "", "", ""
    )  # fmt: skip
    assert first.published_at is None
    assert (second.title, second.guid) == ("2024", "7")


def test_a_link_with_an_unreadable_bracket_is_kept_for_the_fetcher_to_refuse() -> None:
    items = [{"id": "a", "url": "http://[::1"}, {"id": "b", "url": "/b"}]
    feed = parse_feed(json_feed(items), source=SOURCE, base_url="https://x.example/feed.json")
    assert [e.url for e in feed.entries] == ["http://[::1", "https://x.example/b"]
    # feedparser drops such a link itself; the rest of the feed stays.
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>http://[::1</link></item>"
        b"<item><title>b</title><link>https://x.example/b</link></item></channel></rss>"
    )
    feed = parse_feed(rss, source=SOURCE, base_url="https://x.example/rss")
    assert [e.url for e in feed.entries] == ["https://x.example/b"]
