"""Tests of newsingest.extraction on hand-written pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from newsingest.extraction import choose_published, extract_page
from newsingest.records import FeedEntry, FetchedPage
from newsingest.settings import Settings

FETCHED = datetime(2022, 1, 22, 6, 0, tzinfo=UTC)
PARAGRAPHS = [
    "The harbour strike that paralysed container traffic for six days ended on Friday "
    "after unions and port operators agreed on a new wage scale for night shifts.",
    "Dock workers will return on Monday morning, the union said in a statement, adding "
    "that the agreement would be put to a vote of members within two weeks.",
    "Shipping companies had diverted more than forty vessels to neighbouring ports "
    "during the stoppage, and freight forwarders warned of delays into February.",
    "The port authority said it expected the backlog of containers to be cleared "
    "within ten days once all cranes were back in operation.",
]


def page_html(published: str = "2022-01-21T14:05:00+01:00", body: list[str] | None = None) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in (PARAGRAPHS if body is None else body))
    return f"""<!doctype html><html lang="en-GB"><head>
<title>Harbour strike ends | Example Courier</title>
<meta property="og:title" content="Harbour strike ends after six days">
<meta property="og:site_name" content="Example Courier">
<meta name="description" content="Dock workers return on Monday.">
<meta name="author" content="Ana Ruiz">
<meta property="article:published_time" content="{published}">
<link rel="canonical" href="https://courier.example/2022/01/21/harbour-strike.html">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour strike ends after six days</h1>
<p class="byline">By Ana Ruiz</p>{paragraphs}</article>
<footer><p>© 2022 Example Courier. All rights reserved.</p></footer>
</body></html>"""


def fetched(html: str, entry_date: datetime | None = None) -> FetchedPage:
    url = "https://courier.example/2022/01/21/harbour-strike.html"
    return FetchedPage(
        feed_name="courier",
        url=url,
        requested_url=url + "?utm_source=rss",
        final_url=url,
        status=200,
        content_type="text/html",
        charset="utf-8",
        fetched_at=FETCHED,
        body=html.encode("utf-8"),
        entry=FeedEntry(feed_name="courier", url=url, title="Feed title", published_at=entry_date),
    )


def test_body_and_metadata() -> None:
    article = extract_page(fetched(page_html()), Settings(), outlet="Courier")
    assert article.skipped_reason is None
    assert article.title == "Harbour strike ends after six days"
    assert article.authors == ("Ana Ruiz",)
    assert article.published_at == datetime(2022, 1, 21, 13, 5, tzinfo=UTC)
    assert article.published_at_source == "page"
    assert article.site_name == "Example Courier"
    assert article.language == "en"
    assert article.outlet == "Courier"
    assert article.description == "Dock workers return on Monday."
    assert article.body.startswith("The harbour strike that paralysed")
    assert "All rights reserved" not in article.body
    assert "Sport" not in article.body
    assert len(article.content_hash) == 64


def test_future_page_date_falls_back_to_feed_date() -> None:
    future = (FETCHED + timedelta(days=3)).isoformat()
    entry_date = datetime(2022, 1, 21, 12, 0, tzinfo=UTC)
    article = extract_page(fetched(page_html(published=future), entry_date), Settings())
    assert article.published_at == entry_date
    assert article.published_at_source.startswith("feed (page date")
    assert "future" in article.published_at_source


def without_date_meta(html: str) -> str:
    return re.sub(r'<meta property="article:published_time"[^>]*>', "", html)


def test_date_in_the_url_is_used_when_meta_is_missing() -> None:
    html = without_date_meta(page_html())
    article = extract_page(fetched(html), Settings())
    assert article.published_at == datetime(2022, 1, 21, tzinfo=UTC)
    assert article.published_at_source == "page_date"


def test_missing_dates_leave_published_at_empty() -> None:
    html = without_date_meta(page_html()).replace("/2022/01/21/", "/news/")
    page = fetched(html)
    url = "https://courier.example/news/harbour-strike.html"
    page = FetchedPage(
        **{**{f: getattr(page, f) for f in page.__slots__}, "url": url, "final_url": url}
    )
    article = extract_page(page, Settings())
    assert article.published_at is None
    assert article.published_at_source == ""
    assert article.skipped_reason is None


def test_short_body_is_skipped_with_reason() -> None:
    article = extract_page(fetched(page_html(body=["Photo gallery: ten pictures."])), Settings())
    assert article.skipped_reason is not None
    assert article.skipped_reason.startswith(("too_short", "empty_body"))


@pytest.mark.parametrize("body", [b"", b"\x00\x01\x02\x03" * 100, b"<html></html>"])
def test_junk_pages_never_raise(body: bytes) -> None:
    page = fetched("")
    page = FetchedPage(**{**{f: getattr(page, f) for f in page.__slots__}, "body": body})
    assert extract_page(page, Settings()).skipped_reason is not None


def test_choose_published_order() -> None:
    settings = Settings()
    page = datetime(2022, 1, 21, tzinfo=UTC)
    feed = datetime(2022, 1, 20, tzinfo=UTC)
    assert choose_published([("page", page), ("feed", feed)], FETCHED, settings) == (page, "page")
    assert choose_published([("page", None), ("feed", feed)], FETCHED, settings) == (feed, "feed")
    late = FETCHED + timedelta(hours=settings.max_future_skew_hours + 1)
    value, source = choose_published([("page", late)], FETCHED, settings)
    assert value is None
    assert "rejected" in source
