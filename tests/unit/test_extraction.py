"""Tests of newsingest.extraction on hand-written pages."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import lxml.html
import pytest
from trafilatura.utils import load_html

from newsingest import candidates, evidence
from newsingest.demo.server import SITE_ROOT
from newsingest.extraction import choose_body, choose_published, extract_page
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


def test_body_records_method_confidence_and_language() -> None:
    article = extract_page(fetched(page_html()), Settings())
    assert article.extraction_method == candidates.RECALL
    assert article.extraction_confidence is not None
    assert 0.0 <= article.extraction_confidence <= 1.0
    assert article.extraction_low_confidence is False
    assert (article.language, article.language_detected) == ("en", "en")
    assert article.language_disagrees is False


def jsonld_page(article_body: str, body: list[str] | None = None) -> str:
    script = json.dumps({"@type": "NewsArticle", "articleBody": article_body})
    head = f'<script type="application/ld+json">{script}</script></head>'
    return page_html(body=body).replace("</head>", head, 1)


def test_a_declared_article_body_that_agrees_settles_the_page() -> None:
    html = jsonld_page("\n\n".join(PARAGRAPHS))
    choice = choose_body(html, load_html(html), "https://courier.example/a.html")
    assert choice.stage == evidence.SINGLE
    assert choice.agreement > 0.9
    article = extract_page(fetched(html), Settings())
    assert article.extraction_method == candidates.RECALL
    expected = evidence.default_calibration().of(
        evidence.SINGLE, choice.agreement, len(article.body)
    )
    assert article.extraction_confidence == round(expected, 3)


def test_a_declared_body_that_disagrees_calls_the_vote_and_lowers_the_confidence() -> None:
    teaser = jsonld_page("Subscribe to read the full story about the harbour strike.")
    choice = choose_body(teaser, load_html(teaser), "https://courier.example/a.html")
    assert choice.stage == evidence.VOTE
    settled = extract_page(fetched(jsonld_page("\n\n".join(PARAGRAPHS))), Settings())
    disputed = extract_page(fetched(teaser), Settings())
    assert disputed.extraction_confidence is not None
    assert settled.extraction_confidence is not None
    assert disputed.extraction_confidence < settled.extraction_confidence
    # The visible article is kept: the declared body votes but is not chosen.
    assert disputed.body.startswith(PARAGRAPHS[0])


BOXED = [*PARAGRAPHS[:2], f'<div style="border-left: 4px solid #c00">{PARAGRAPHS[2]}</div>',
         PARAGRAPHS[3]]  # fmt: skip


def test_a_paragraph_precision_mode_loses_is_kept() -> None:
    html = page_html(body=BOXED).replace("<p><div", "<div").replace("</div></p>", "</div>")
    tree = load_html(html)
    url = "https://courier.example/a.html"
    assert PARAGRAPHS[2] not in candidates.trafilatura_body(tree, url, precision=True)
    assert PARAGRAPHS[2] in candidates.trafilatura_body(tree, url, precision=False)
    article = extract_page(fetched(html), Settings())
    assert PARAGRAPHS[2] in article.body
    assert article.extraction_method == candidates.RECALL


def test_low_confidence_is_flagged_below_the_setting() -> None:
    teaser = jsonld_page("Subscribe to read the full story about the harbour strike.")
    article = extract_page(fetched(teaser), Settings())
    assert article.extraction_confidence is not None
    strict = Settings(min_extraction_confidence=article.extraction_confidence + 0.001)
    assert extract_page(fetched(teaser), strict).extraction_low_confidence is True
    lenient = Settings(min_extraction_confidence=article.extraction_confidence)
    assert extract_page(fetched(teaser), lenient).extraction_low_confidence is False


def test_a_short_disputed_page_is_flagged_by_default() -> None:
    # Three paragraphs on the page, a different text declared as its body: the
    # calibration finds short bodies chosen by a split vote mostly wrong.
    html = jsonld_page("Subscribe to read the full story about the harbour strike.", PARAGRAPHS[:3])
    article = extract_page(fetched(html), Settings())
    assert article.extraction_confidence is not None
    assert article.extraction_confidence < Settings().min_extraction_confidence
    assert article.extraction_low_confidence is True
    assert article.body.startswith(PARAGRAPHS[0])


GERMAN = [
    "Die Hafenarbeiter kehren am Montag an ihre Arbeit zurück, nachdem sich die "
    "Gewerkschaft und die Betreiber auf einen neuen Lohntarif für Nachtschichten geeinigt haben.",
    "Die Reedereien hatten während des Streiks mehr als vierzig Schiffe in benachbarte "
    "Häfen umgeleitet, und Spediteure warnten vor Verzögerungen bis in den Februar hinein.",
    "Die Hafenbehörde erwartet, dass der Rückstau an Containern innerhalb von zehn Tagen "
    "abgebaut ist, sobald alle Kräne wieder in Betrieb sind.",
    "Unterstützen Sie unsere Arbeit mit einer Spende.",
]


def test_detected_language_beats_a_wrong_declaration_and_picks_the_rules() -> None:
    # The page says English; the body is German, and so is its donation prompt,
    # which only the German cleaning rules know.
    article = extract_page(fetched(page_html(body=GERMAN)), Settings())
    assert (article.language, article.language_detected) == ("en", "de")
    assert article.language_disagrees is True
    assert "Unterstützen Sie unsere Arbeit" not in article.body
    assert article.body.startswith("Die Hafenarbeiter")


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


# -- pages that are not articles ---------------------------------------------------------------


def test_a_paywalled_page_is_a_teaser_only_when_its_body_is_short() -> None:
    paywalled = page_html().replace(
        "</head>",
        '<script type="application/ld+json">{"isAccessibleForFree": false}</script></head>',
    )
    body = extract_page(fetched(paywalled), Settings()).body
    assert len(body) < Settings().max_teaser_chars
    assert extract_page(fetched(paywalled), Settings()).skipped_reason == "paywall: teaser"
    # A free copy of a paywalled story, longer than a teaser, is an article.
    longer = Settings(max_teaser_chars=len(body))
    assert extract_page(fetched(paywalled), longer).skipped_reason is None
    prompt = page_html(body=[*PARAGRAPHS, "Subscribe to continue reading"])
    assert extract_page(fetched(prompt), Settings()).skipped_reason == "paywall: teaser"
    assert extract_page(fetched(prompt), longer).skipped_reason is None


# -- the bundled demo site ---------------------------------------------------------------------

DEMO_BASE = "http://127.0.0.1:8765"
DEMO_PAGES: list[dict[str, Any]] = json.loads(
    (SITE_ROOT.parent / "expected.json").read_text(encoding="utf-8")
)["pages"]
SEED_PATH = "/the-newsfarm/2022/01/22/blinken-asks-russia-prove-intentions-withdrawing-troops.html"


def demo_page(path: str) -> FetchedPage:
    """A demo-site page as the fetch stage hands it over (served with {{base}} filled in)."""
    html = (SITE_ROOT / path.lstrip("/")).read_text(encoding="utf-8")
    url = DEMO_BASE + path
    return FetchedPage(
        feed_name="demo",
        url=url,
        requested_url=url,
        final_url=url,
        status=200,
        content_type="text/html",
        charset="utf-8",
        fetched_at=datetime(2022, 1, 23, tzinfo=UTC),
        body=html.replace("{{base}}", DEMO_BASE).encode("utf-8"),
        entry=FeedEntry(feed_name="demo", url=url),
    )


@pytest.mark.parametrize("expected", DEMO_PAGES, ids=[p["path"] for p in DEMO_PAGES])
def test_demo_pages_agencies_and_gates(expected: dict[str, Any]) -> None:
    article = extract_page(demo_page(expected["path"]), Settings())
    assert list(article.wire_agencies) == expected["wire_agencies"]
    assert (article.skipped_reason is None) == expected["is_article"], article.skipped_reason
    assert article.title == expected["title"]
    if expected["is_article"]:
        assert article.published_at == datetime.fromisoformat(expected["published_at"])


def test_demo_non_articles_say_what_they_are() -> None:
    reasons = {
        p["path"]: extract_page(demo_page(p["path"]), Settings()).skipped_reason
        for p in DEMO_PAGES
        if not p["is_article"]
    }
    assert sorted(reasons.values()) == ["not_article: gallery", "not_article: index page"]


def test_seed_page_keeps_every_article_sentence_and_drops_the_junk() -> None:
    article = extract_page(demo_page(SEED_PATH), Settings())
    doc = lxml.html.fromstring((SITE_ROOT / SEED_PATH.lstrip("/")).read_text(encoding="utf-8"))
    content = "//div[contains(@class, 'td-post-content')]"
    # The article proper: its paragraphs and headings, outside the donation box and the tweet.
    sentences = [
        " ".join(e.text_content().split())
        for e in doc.xpath(f"{content}/p[not(@class)] | {content}/h2 | {content}/h3")
    ]
    body_lines = [" ".join(line.split()) for line in article.body.split("\n")]
    assert body_lines == sentences
    assert "les truss" in body_lines
    for junk in ["Support us now", "magazine support", "No news is bad news", "pic.twitter.com",
                 "Good to see my friend", "(@trussliz)", "Source: PA", "Agence France-Presse",
                 "Lector profesional", "3 COMMENTS", "YOU MAY ALSO LIKE"]:  # fmt: skip
        assert junk not in article.body, junk
    assert article.wire_agencies == ("AFP",)
    assert article.wire_evidence == ("credit: with reports from © – Agence France-Presse, 2022.",)
    assert article.authors == ("Gonzalo Medina",)
    assert article.skipped_reason is None


# -- labelled fixture pages (tests/fixtures/pages) ---------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


def _regenerate_module() -> ModuleType:
    """tests/fixtures/pages/regenerate.py, which also builds the expected records."""
    spec = importlib.util.spec_from_file_location("regenerate", FIXTURES / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REGENERATE = _regenerate_module()
LABELS: dict[str, dict[str, Any]] = REGENERATE.labels()


def test_every_fixture_page_has_labels_and_expectations() -> None:
    pages = {p.name.removesuffix(".html.gz") for p in FIXTURES.glob("*.html.gz")}
    assert pages == set(LABELS)
    expected = {
        f"{path.stem}_{date}"
        for path in FIXTURES.glob("*.json")
        if path.name != "meta.json"
        for date in json.loads(path.read_text(encoding="utf-8"))
    }
    assert expected == pages


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_fixture_json_is_sorted_and_has_no_empty_values(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if path.name != "meta.json":
        assert all(value not in ("", [], None) for page in data.values() for value in page.values())
        assert all(page.get("title") for page in data.values())
        # A page the gates skip may have no body at all (an index page of headlines).
        assert all(page.get("body_start") or page.get("skipped_reason") for page in data.values())


@pytest.mark.parametrize("name", sorted(LABELS))
def test_fixture_page_extraction(name: str) -> None:
    outlet, date = name.split("_", 1)
    expected = json.loads((FIXTURES / f"{outlet}.json").read_text(encoding="utf-8"))[date]
    article = extract_page(REGENERATE.fetched(name, LABELS[name]), Settings())
    assert REGENERATE.record(article) == expected
    for junk in LABELS[name]["absent"]:
        assert junk not in article.body, junk
    for sentence in LABELS[name]["present"]:
        assert sentence in article.body, sentence
