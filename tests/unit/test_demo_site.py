"""Tests for the bundled demo site: feeds parse, pages exist, and expected.json tells the truth."""

from __future__ import annotations

import http.client
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.html
import pytest
import yaml

from newsingest.demo.server import SITE_ROOT, DemoServer, serve
from newsingest.registry import parse_registry

DEMO = SITE_ROOT.parent
EXPECTED_TEXT = (DEMO / "expected.json").read_text(encoding="utf-8")
EXPECTED: dict[str, Any] = json.loads(EXPECTED_TEXT)
PAGES: list[dict[str, Any]] = EXPECTED["pages"]
FEEDS: dict[str, dict[str, Any]] = {f["name"]: f for f in EXPECTED["feeds"]}
REGISTRY: list[dict[str, Any]] = yaml.safe_load((DEMO / "feeds.yaml").read_text("utf-8"))["feeds"]
BLINKEN = "blinken-lavrov-wire"
SEED_PAGE = next(p for p in PAGES if p["story"] == BLINKEN and p["outlet"] == "the-newsfarm")
WIRE_PAGE = next(p for p in PAGES if p["story"] == BLINKEN and p["outlet"] == "wirewire")


# Each outlet marks up its reader comments differently.
COMMENT_ITEMS = {
    "wirewire": "//section[@id='reader-notes']//li",
    "daily-courier": "//div[@id='comments']//li[contains(@class, 'comment')]",
    "metro-ledger": "//section[contains(@class, 'ml-comments')]/div[@class='ml-comment']",
    "harbor-times": "//div[@id='cmts']/div[@class='cmt']",
    "the-newsfarm": "//div[@id='comments']//li[@class='comment']",
    "valley-post": "//section[@id='vp-discussion']/article",
}


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with serve() as running:
        yield running


def fetch(server: DemoServer, path: str) -> tuple[int, bytes]:
    """GET a path from the demo server on a fresh connection."""
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def raw(path: str) -> str:
    """Return a site file as stored (with the {{base}} placeholder)."""
    return (SITE_ROOT / urlsplit(path).path.lstrip("/")).read_text(encoding="utf-8")


def feed_paths(server: DemoServer, name: str) -> list[str]:
    """Return the server-relative links of a feed's entries, in feed order."""
    feed = FEEDS[name]
    _, body = fetch(server, feed["path"])
    if feed["path"].endswith(".json"):
        links = [item["url"] for item in json.loads(body)["items"]]
    else:
        links = [entry.link for entry in feedparser.parse(body).entries]
    assert all(link.startswith(server.base_url + "/") for link in links)
    return [link[len(server.base_url) :] for link in links]


# -- registry and ground truth -----------------------------------------------------------------


def test_registry_matches_expected_feeds() -> None:
    assert {f["name"] for f in REGISTRY} == set(FEEDS)
    for entry in REGISTRY:
        assert entry["url"] == "{{base}}" + FEEDS[entry["name"]]["path"]
    filled = (DEMO / "feeds.yaml").read_text("utf-8").replace("{{base}}", "http://127.0.0.1:8765")
    sources = parse_registry(yaml.safe_load(filled), source="feeds.yaml")
    assert {s.kind for s in sources} >= {"rss", "atom", "rdf", "jsonfeed"}
    assert [f["name"] for f in EXPECTED["feeds"] if f["broken"]] == ["broken-gazette"]


def test_expected_json_is_canonical() -> None:
    again = json.dumps(EXPECTED, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert again == EXPECTED_TEXT
    assert [p["path"] for p in PAGES] == sorted(p["path"] for p in PAGES)
    keys = {"path", "outlet", "title", "is_article", "story", "wire_agencies", "published_at",
            "feed_urls"}  # fmt: skip
    for page in PAGES:
        assert keys <= set(page) <= keys | {"alias_paths"}


def test_corpus_shape() -> None:
    outlets = {p["outlet"] for p in PAGES}
    assert len(outlets) >= 5
    assert len(PAGES) >= 34
    stories = Counter(p["story"] for p in PAGES)
    blinken = [p for p in PAGES if p["story"] == BLINKEN]
    assert len(blinken) >= 5 and len({p["outlet"] for p in blinken}) >= 5
    assert all(p["wire_agencies"] == ["AFP"] for p in blinken)
    independent = [p for p in PAGES if p["story"].startswith("geneva-independent")]
    assert len(independent) == 2 and len({p["story"] for p in independent}) == 2
    assert all(stories[p["story"]] == 1 for p in independent)
    clusters = {s: n for s, n in stories.items() if n > 1 and s != BLINKEN}
    assert len(clusters) == 1 and 2 <= next(iter(clusters.values())) <= 3
    unique_articles = [p for p in PAGES if p["is_article"] and stories[p["story"]] == 1]
    assert len(unique_articles) >= 15
    assert 1 <= sum(not p["is_article"] for p in PAGES) <= 2
    assert sum("alias_paths" in p for p in PAGES) == 1


def test_dates_are_in_range() -> None:
    low, high = datetime(2022, 1, 19, tzinfo=UTC), datetime(2022, 1, 23, tzinfo=UTC)
    for page in PAGES:
        published = datetime.fromisoformat(page["published_at"])
        assert published.utcoffset() is not None
        assert low <= published < high, page["path"]


# -- feeds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, f in FEEDS.items() if not f["broken"]))
def test_feed_parses_with_expected_entries(server: DemoServer, name: str) -> None:
    feed = FEEDS[name]
    status, body = fetch(server, feed["path"])
    assert status == 200
    if feed["path"].endswith(".json"):
        doc = json.loads(body)
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        assert len(doc["items"]) == feed["entries"]
        for item in doc["items"]:
            assert {"id", "url", "title", "date_published"} <= set(item)
            datetime.fromisoformat(item["date_published"])
    else:
        parsed = feedparser.parse(body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) == feed["entries"]
        for entry in parsed.entries:
            # RSS 1.0 has only dc:date, which feedparser reports as `updated`.
            assert entry.get("title") and entry.get("link")
            assert entry.get("published_parsed") or entry.get("updated_parsed")


def test_broken_feed_is_malformed(server: DemoServer) -> None:
    status, body = fetch(server, FEEDS["broken-gazette"]["path"])
    assert status == 200
    parsed = feedparser.parse(body)
    assert parsed.bozo
    assert len(parsed.entries) == FEEDS["broken-gazette"]["entries"] == 0


def test_feeds_link_exactly_the_listed_pages(server: DemoServer) -> None:
    linked: dict[str, list[str]] = defaultdict(list)
    for name, feed in FEEDS.items():
        if feed["broken"]:
            continue
        for path in feed_paths(server, name):
            linked[path].append(feed["path"])
    expected: dict[str, list[str]] = {}
    for page in PAGES:
        for path in [page["path"], *page.get("alias_paths", [])]:
            expected[path] = page["feed_urls"]
    assert dict(linked) == expected


def test_harbor_times_feed_carries_full_text(server: DemoServer) -> None:
    _, body = fetch(server, FEEDS["harbor-times"]["path"])
    entries = feedparser.parse(body).entries
    assert all(len(e.content[0].value) > 1000 for e in entries)


# -- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=[p["path"] for p in PAGES])
def test_page_is_served_with_canonical(server: DemoServer, page: dict[str, Any]) -> None:
    stored = raw(page["path"])
    assert f'<link rel="canonical" href="{{{{base}}}}{page["path"]}">' in stored
    status, body = fetch(server, page["path"])
    assert status == 200
    assert f'<link rel="canonical" href="{server.url(page["path"])}">'.encode() in body
    for alias in page.get("alias_paths", []):
        assert "utm_" in alias
        assert fetch(server, alias) == (200, body)


@pytest.mark.parametrize("page", PAGES, ids=[p["path"] for p in PAGES])
def test_page_markup(page: dict[str, Any]) -> None:
    doc = lxml.html.fromstring(raw(page["path"]))
    assert doc.get("lang", "").startswith("en")
    assert doc.findtext(".//title")
    assert doc.xpath("//meta[@name='description']/@content")
    assert doc.xpath("//meta[@property='og:title']/@content") == [page["title"]]
    assert doc.xpath("//meta[@property='og:site_name']/@content")
    assert "Demo content bundled with newsingest" in doc.xpath("string(//body)")
    assert re.search(r"©\s*(Copyright\s*)?2022", doc.xpath("string(//body)"))
    assert doc.xpath("//nav | //*[contains(@id, 'nav') or contains(@class, 'menu')]")
    assert doc.xpath("//form[.//input[@type='email']]"), "newsletter box"
    if not page["is_article"]:
        assert not doc.xpath("//article//p[string-length(normalize-space()) > 200]")
        return
    published = doc.xpath("//meta[@property='article:published_time']/@content")
    assert [datetime.fromisoformat(v) for v in published] == [
        datetime.fromisoformat(page["published_at"])
    ]
    assert re.search(r"[+-]\d\d:\d\d$", published[0])
    assert doc.xpath("//meta[@name='author']/@content")
    assert [h.text_content() for h in doc.xpath("//article//h1")] == [page["title"]]
    assert len(doc.xpath("//a[contains(@href, 'facebook.com/sharer')]")) >= 1
    assert 2 <= len(doc.xpath(COMMENT_ITEMS[page["outlet"]])) <= 3
    words = sum(len(p.text_content().split()) for p in doc.xpath("//article//p"))
    assert words >= 250


def test_templates_differ_between_outlets() -> None:
    classes: dict[str, set[str]] = {}
    for page in PAGES:
        if page["is_article"] and page["outlet"] not in classes:
            doc = lxml.html.fromstring(raw(page["path"]))
            classes[page["outlet"]] = {c for el in doc.iter() for c in el.get("class", "").split()}
    outlets = sorted(classes)
    for i, a in enumerate(outlets):
        for b in outlets[i + 1 :]:
            overlap = classes[a] & classes[b]
            assert len(overlap) < 0.5 * min(len(classes[a]), len(classes[b])), (a, b, overlap)


# -- the wire stories --------------------------------------------------------------------------


def test_seed_page_keeps_the_content_farm_junk() -> None:
    text = raw(SEED_PAGE["path"])
    for phrase in [
        "re-removal of those forces",
        "they are no novices",
        "open to less exciting moves",
        "Blinkin said the four",
        "he told reporters. .",
        "No news is bad news",
        "magazine support",
        "Support us now",
        "les truss",
        "pic.twitter.com/WEDdFFONbz",
        "– Liz Truss (@trussliz)",
        "Source: PA",
        "with reports from © – Agence France-Presse, 2022.",
        "«Lector profesional. Jugador galardonado.",
        "«It is time for the free world to stand up.»",
    ]:
        assert phrase in text, phrase
    doc = lxml.html.fromstring(text)
    assert "Support us now" in doc.xpath("string(//aside[contains(@class, 'donation')])")
    tweet = doc.xpath("//blockquote[contains(@class, 'twitter-tweet')]")
    assert len(tweet) == 1 and "pic.twitter.com" in tweet[0].text_content()
    captions = [f.text_content() for f in doc.xpath("//figure[img]/figcaption")]
    assert len(captions) == 2 and all("Source: PA" in c for c in captions)
    assert "Lector profesional" in doc.xpath("string(//*[contains(@class, 'author-box')])")
    assert not doc.xpath("//article//*[contains(text(), 'Lector profesional')]")
    paragraphs = [p.text_content() for p in doc.xpath("//article//p")]
    assert paragraphs[-1] == "with reports from © – Agence France-Presse, 2022."
    donation = text.index("Support us now")
    assert text.index("recent days.") < donation < text.index("British Foreign Secretary Liz")


def test_wire_original_is_unspun() -> None:
    text = raw(WIRE_PAGE["path"])
    assert "GENEVA (AFP) — US Secretary of State Antony Blinken said" in text
    for phrase in ["and removal of those forces", "are non-starters", "less dramatic moves"]:
        assert phrase in text
    for junk in ["re-removal", "no novices", "less exciting", "Blinkin", "Support us now",
                 "Liz Truss", "Source: PA"]:  # fmt: skip
        assert junk not in text, junk


def _body(page: dict[str, Any]) -> list[str]:
    doc = lxml.html.fromstring(raw(page["path"]))
    # Article paragraphs without a class: body text, not desk labels, bylines or credits.
    return [p.text_content() for p in doc.xpath("//article//p[not(@class)]")]


def test_republications_differ_as_described() -> None:
    wire = _body(WIRE_PAGE)
    pages = {p["outlet"]: p for p in PAGES if p["story"] == BLINKEN}
    courier = _body(pages["daily-courier"])
    assert courier[0] != wire[0] and courier[1:10] == wire[1:10]
    assert pages["daily-courier"]["title"] != WIRE_PAGE["title"]
    ledger = _body(pages["metro-ledger"])
    assert ledger[-1] == "(AFP)" and ledger[:-1] == wire[: len(ledger) - 1]
    assert len(ledger) < len(wire) / 2
    harbor = raw(pages["harbor-times"]["path"])
    assert "«" not in harbor and "»" not in harbor
    assert "“constructive and useful”" in harbor
    assert "decsribed" in harbor and "convniced" in harbor
    assert "Compiled by the Harbor Times world desk" in harbor


def test_independent_reports_share_only_short_quotes() -> None:
    quote = "We didn’t expect any major breakthroughs today"
    reports = [p for p in PAGES if p["story"].startswith("geneva-independent")]
    bodies = [" ".join(_body(p)) for p in reports]
    assert all(quote in b for b in bodies)

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    wire = shingles(" ".join(_body(WIRE_PAGE)))
    first, second = (shingles(b) for b in bodies)
    assert len(first & second) / len(first | second) < 0.05
    assert len(first & wire) / len(first | wire) < 0.05
    assert len(second & wire) / len(second | wire) < 0.05
