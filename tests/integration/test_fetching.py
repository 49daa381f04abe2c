"""The fetch stage end to end: feed formats, discovery, conditional GET, faults and refetching.

Each test serves its own site (the bundled one, or a tmp root written by the
test, where the /_fault/ routes work too) so that request counts belong to
it alone, and runs the pipeline against a fresh PostgreSQL database.
Fetcher-level behaviour (retries, caps, robots.txt) is in test_downloads.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import psycopg
import pytest
from psycopg.rows import dict_row

from newsingest import pipeline
from newsingest.demo.server import SITE_ROOT, serve
from newsingest.records import FeedSource
from newsingest.settings import Settings

RUN = pipeline.RunInfo.make(date(2022, 1, 22), "test")
NEXT = pipeline.RunInfo.make(date(2022, 1, 23), "test")
THIRD = pipeline.RunInfo.make(date(2022, 1, 24), "test")
ROBOTS = "User-agent: *\nAllow: /\n"
PUB_DATE = "Fri, 21 Jan 2022 08:00:00 GMT"


def write_registry(path: Path, *feeds: FeedSource) -> Path:
    """A registry file declaring the given feeds."""
    lines = ["feeds:"]
    for feed in feeds:
        lines += [f"  - name: {feed.name}", f'    url: "{feed.url}"', f"    kind: {feed.kind}"]
        if feed.refetch_updated:
            lines.append("    refetch_updated: true")
    path.write_text("\n".join(lines) + "\n")
    return path


def rss(paths: list[str]) -> str:
    """An RSS 2.0 feed linking the given server paths ({{base}} is filled in by the server)."""
    items = "".join(
        f"<item><title>Item {i}</title><link>{{{{base}}}}{escape(p)}</link>"
        f"<pubDate>{PUB_DATE}</pubDate></item>\n"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Test</title>'
        f"<link>{{{{base}}}}/</link><description>test feed</description>\n{items}</channel></rss>\n"
    )


def story(title: str, words: str) -> str:
    """An article page long enough to pass extraction's quality gates."""
    paragraph = f"{words} " * 12
    body = "".join(f"<p>{n}. {paragraph}</p>\n" for n in range(1, 5))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        '<meta property="article:published_time" content="2022-01-21T08:00:00+00:00">'
        f"</head>\n<body><article><h1>{title}</h1>\n{body}</article></body></html>\n"
    )


def query(dsn: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of a query as dicts."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def run_row(dsn: str, run: pipeline.RunInfo, feed: str) -> dict[str, Any]:
    """The news.ingest_runs row of a feed in a run."""
    (row,) = query(
        dsn, "SELECT * FROM news.ingest_runs WHERE run_key = %s AND feed_name = %s",
        run.run_key, feed,
    )  # fmt: skip
    return row


def articles(dsn: str) -> dict[str, dict[str, Any]]:
    """Every loaded article row, keyed by canonical URL."""
    return {r["canonical_url"]: r for r in query(dsn, "SELECT * FROM news.articles")}


def page_classes(dsn: str, run: pipeline.RunInfo, feed: str) -> dict[str, list[str | None]]:
    """Error class of every page attempt of a feed in a run, by URL, in attempt order."""
    found: dict[str, list[str | None]] = {}
    for row in query(
        dsn,
        "SELECT url, error_class FROM news.fetch_log WHERE run_key = %s AND feed_name = %s "
        "AND target = 'page' ORDER BY url, attempt",
        run.run_key, feed,
    ):  # fmt: skip
        found.setdefault(row["url"], []).append(row["error_class"])
    return found


def test_homepage_feed_is_discovered_and_remembered(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    with serve(SITE_ROOT) as site:
        home = FeedSource(name="courier-home", url=site.url("/daily-courier/"), kind="homepage")
        pipeline.prepare(warehouse_dsn, write_registry(tmp_path / "feeds.yaml", home))
        first = pipeline.fetch_feed(warehouse_dsn, settings, RUN, home)
        (state,) = query(warehouse_dsn, "SELECT * FROM news.feed_state")
        feed_url = site.url("/daily-courier/feed.xml")
        assert state["discovered_url"] == feed_url
        assert not first.feed_failed and first.failures == {}
        # Eight items, one of them a tracking-parameter copy of another.
        assert first.entries == first.fetched == 7
        logged = query(
            warehouse_dsn,
            "SELECT url FROM news.fetch_log WHERE target = 'feed' ORDER BY attempt_id",
        )
        assert [r["url"] for r in logged] == [home.url, feed_url]
        # Without validators the feed is downloaded and parsed again, from the remembered URL.
        with psycopg.connect(warehouse_dsn) as conn:
            conn.execute("UPDATE news.feed_state SET etag = NULL, last_modified = NULL")
        second = pipeline.fetch_feed(warehouse_dsn, settings, NEXT, home)
        assert second.entries == 7 and second.not_modified == 0
        assert site.hits("/daily-courier/") == 1
        assert site.hits("/daily-courier/feed.xml") == 2


def test_sitemap_index_with_a_news_sitemap_and_a_plain_one(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text(ROBOTS)
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    news_ns = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {ns}>'
        "<sitemap><loc>{{base}}/sitemap-news.xml</loc></sitemap>"
        "<sitemap><loc>/sitemap-2.xml</loc></sitemap></sitemapindex>\n"
    )
    news_urls = "".join(
        f"<url><loc>{{{{base}}}}/_fault/page/{n}</loc><news:news><news:publication>"
        "<news:name>Test</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>2022-01-21T1{n}:00:00Z</news:publication_date>"
        f"<news:title>News {n}</news:title></news:news></url>"
        for n in (1, 2)
    )
    (root / "sitemap-news.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {ns} {news_ns}>{news_urls}</urlset>\n'
    )
    (root / "sitemap-2.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {ns}><url>'
        "<loc>{{base}}/_fault/page/3</loc><lastmod>2022-01-20</lastmod></url></urlset>\n"
    )
    with serve(root) as site:
        source = FeedSource(name="paper-sitemap", url=site.url("/sitemap.xml"), kind="sitemap")
        pipeline.prepare(warehouse_dsn, write_registry(tmp_path / "feeds.yaml", source))
        counts = pipeline.fetch_feed(warehouse_dsn, settings, RUN, source)
        assert site.hits("/sitemap-news.xml") == site.hits("/sitemap-2.xml") == 1
    assert (counts.entries, counts.fetched, counts.failures) == (3, 3, {})
    staged = {
        r["url"].rsplit("/", 1)[-1]: r["entry"]
        for r in query(warehouse_dsn, "SELECT url, entry FROM news.raw_pages")
    }
    assert staged["1"]["title"] == "News 1"
    assert staged["2"]["published_at"] == "2022-01-21T12:00:00+00:00"
    assert staged["3"]["published_at"] == staged["3"]["updated_at"] == "2022-01-20T00:00:00+00:00"


@pytest.mark.parametrize(
    ("name", "path"),
    [("wirewire", "/wirewire/feed.json"), ("valley-post", "/valley-post/feed.rdf")],
)
def test_json_feed_and_rss_1_0(
    warehouse_dsn: str, settings: Settings, tmp_path: Path, name: str, path: str
) -> None:
    document = (SITE_ROOT / path.lstrip("/")).read_text()
    items = (
        len(json.loads(document)["items"]) if path.endswith(".json") else document.count("<item ")
    )
    with serve(SITE_ROOT) as site:
        source = FeedSource(name=name, url=site.url(path))
        pipeline.prepare(warehouse_dsn, write_registry(tmp_path / "feeds.yaml", source))
        counts = pipeline.fetch_feed(warehouse_dsn, settings, RUN, source)
    assert items >= 5
    assert (counts.entries, counts.fetched, counts.failures) == (items, items, {})
    entries = [r["entry"] for r in query(warehouse_dsn, "SELECT entry FROM news.raw_pages")]
    assert len(entries) == items
    assert all(e["published_at"] and e["title"] for e in entries)


def test_304_is_not_modified_not_a_failure(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text(ROBOTS)
    (root / "feed.xml").write_text(rss(["/_fault/page/1"]))
    with serve(root) as site:
        source = FeedSource(name="cond", url=site.url("/feed.xml"))
        pipeline.prepare(warehouse_dsn, write_registry(tmp_path / "feeds.yaml", source))
        pipeline.fetch_feed(warehouse_dsn, settings, RUN, source)
        # Only the ETag is left, so a 304 proves it was sent back as If-None-Match.
        with psycopg.connect(warehouse_dsn) as conn:
            conn.execute("UPDATE news.feed_state SET last_modified = NULL")
        counts = pipeline.fetch_feed(warehouse_dsn, settings, NEXT, source)
        assert site.hits("/_fault/page/1") == 1
        with psycopg.connect(warehouse_dsn) as conn:
            conn.execute("UPDATE news.feed_state SET etag = '\"stale\"'")
        changed = pipeline.fetch_feed(warehouse_dsn, settings, THIRD, source)
    assert (counts.not_modified, counts.feed_failed, counts.failed) == (1, False, 0)
    row = run_row(warehouse_dsn, NEXT, "cond")
    assert (row["not_modified"], row["failed"], row["failures"]) == (1, 0, {})
    logged = query(
        warehouse_dsn,
        "SELECT status, error_class FROM news.fetch_log WHERE run_key = %s AND target = 'feed'",
        NEXT.run_key,
    )
    assert logged == [{"status": 304, "error_class": "not_modified"}]
    (state,) = query(warehouse_dsn, "SELECT error_streak, last_error_class FROM news.feed_state")
    assert state == {"error_streak": 0, "last_error_class": None}
    assert "failures by class: none" in pipeline.summary(warehouse_dsn, NEXT)
    # A validator the server does not recognise gets the full feed.
    assert (changed.not_modified, changed.entries) == (0, 1)


def test_a_url_in_two_feeds_is_fetched_once_per_run(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text(ROBOTS)
    (root / "a.xml").write_text(rss(["/_fault/page/1", "/_fault/page/2"]))
    # The same story with a tracking parameter: the same canonical URL.
    (root / "b.xml").write_text(rss(["/_fault/page/2?utm_source=b", "/_fault/page/3"]))
    with serve(root) as site:
        feeds = [FeedSource(name=n, url=site.url(f"/{n}.xml")) for n in ("a", "b")]
        registry = write_registry(tmp_path / "feeds.yaml", *feeds)
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)
        assert [site.hits(f"/_fault/page/{n}") for n in (1, 2, 3)] == [1, 1, 1]
        # A rerun of the day with the feeds downloaded again (not answered 304).
        with psycopg.connect(warehouse_dsn) as conn:
            conn.execute("UPDATE news.feed_state SET etag = NULL, last_modified = NULL")
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)
        assert [site.hits(f"/_fault/page/{n}") for n in (1, 2, 3)] == [2, 2, 2]
    second = run_row(warehouse_dsn, RUN, "b")
    assert (second["fetched"], second["skipped_known"]) == (1, 1)
    loaded = articles(warehouse_dsn)
    assert len(loaded) == 3
    assert [a["feed_name"] for a in loaded.values() if a["url"].endswith("/page/2")] == ["a"]


def test_failing_pages_are_classified_and_change_nothing_loaded(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text(ROBOTS)
    (root / "healthy.xml").write_text(rss(["/_fault/page/1", "/_fault/page/2"]))
    faults = {
        "/_fault/flaky/pipeline?fail=1&code=500": ["http_5xx", None],
        "/_fault/status/404": ["http_4xx"],
        "/_fault/binary": ["bad_content_type"],
        "/_fault/big?mb=50": ["too_large"],
        "/_fault/redirect?to=http://169.254.169.254/latest/meta-data/": ["blocked_address"],
    }
    # The faulty feed also lists a page loaded the day before: it stays as it is.
    (root / "faulty.xml").write_text(rss([*faults, "/_fault/page/1"]))
    with serve(root) as site:
        healthy = FeedSource(name="healthy", url=site.url("/healthy.xml"))
        faulty = FeedSource(name="faulty", url=site.url("/faulty.xml"))
        pipeline.run_all(
            warehouse_dsn, settings, RUN, write_registry(tmp_path / "day1.yaml", healthy)
        )
        before = articles(warehouse_dsn)
        (root / "healthy.xml").write_text(
            rss(["/_fault/page/1", "/_fault/page/2", "/_fault/page/3"])
        )
        text = pipeline.run_all(
            warehouse_dsn, settings, NEXT, write_registry(tmp_path / "day2.yaml", healthy, faulty)
        )
        assert site.hits("/_fault/page/1") == 1
    assert page_classes(warehouse_dsn, NEXT, "faulty") == {
        site.url(path): classes for path, classes in faults.items()
    }
    row = run_row(warehouse_dsn, NEXT, "faulty")
    assert not row["feed_failed"]
    assert (row["entries"], row["fetched"], row["skipped_known"]) == (6, 1, 1)
    assert row["failures"] == {
        "http_4xx": 1, "bad_content_type": 1, "too_large": 1, "blocked_address": 1,
    }  # fmt: skip
    assert (run_row(warehouse_dsn, NEXT, "healthy")["fetched"], "FAILED" in text) == (1, False)
    after = articles(warehouse_dsn)
    assert {url: after[url] for url in before} == before
    assert any(url.endswith("/_fault/page/3") for url in set(after) - set(before))


def _refetch_site(root: Path, fmt: str, updated: dict[str, datetime]) -> None:
    """Write the feed of the refetch tests: stories a, b and c with the given update times."""
    stamps = {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") for k, v in updated.items()}
    if fmt == "atom":
        entries = "".join(
            f"<entry><id>tag:test,2022:{k}</id><title>Story {k}</title>"
            f'<link rel="alternate" type="text/html" href="{{{{base}}}}/story-{k}.html"/>'
            f"<published>2022-01-21T08:00:00Z</published><updated>{stamp}</updated></entry>\n"
            for k, stamp in stamps.items()
        )
        document = (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>tag:test,2022:feed</id><title>Test</title><updated>{max(stamps.values())}"
            f"</updated>\n{entries}</feed>\n"
        )
    else:
        items = "".join(
            f"<item><title>Story {k}</title><link>{{{{base}}}}/story-{k}.html</link>"
            f"<pubDate>{PUB_DATE}</pubDate><atom:updated>{stamp}</atom:updated></item>\n"
            for k, stamp in stamps.items()
        )
        document = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Test</title>'
            f"<link>{{{{base}}}}/</link><description>test</description>\n{items}</channel></rss>\n"
        )
    (root / "feed.xml").write_text(document)


def _story_site(tmp_path: Path, fmt: str) -> tuple[Path, Path]:
    """A site root with stories a, b, c in a feed of format fmt; returns (root, registry path)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text(ROBOTS)
    words = {
        "a": "harbour ferry timetable",
        "b": "orchard frost damage",
        "c": "library roof repair",
    }
    for key, text in words.items():
        (root / f"story-{key}.html").write_text(story(f"Story {key}", text))
    early = datetime.fromisoformat("2022-01-21T09:00:00+00:00")
    _refetch_site(root, fmt, dict.fromkeys(words, early))
    return root, tmp_path / "feeds.yaml"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_refetch_updated_stories(
    warehouse_dsn: str, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    root, registry = _story_site(tmp_path, fmt)
    with serve(root) as site:
        source = FeedSource(name="updates", url=site.url("/feed.xml"), refetch_updated=True)
        write_registry(registry, source)
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)
        before = articles(warehouse_dsn)
        url = {k: next(u for u in before if u.endswith(f"/story-{k}.html")) for k in "abc"}
        fetched = {k: before[url[k]]["fetched_at"] for k in "abc"}
        # a is rewritten and marked updated; b is marked updated but now gone; c is unchanged.
        (root / "story-a.html").write_text(story("Story a, corrected", "harbour ferry fares"))
        (root / "story-b.html").unlink()
        shift = {"a": timedelta(minutes=5), "b": timedelta(minutes=5), "c": -timedelta(minutes=5)}
        _refetch_site(root, fmt, {k: fetched[k] + shift[k] for k in "abc"})
        pipeline.run_all(warehouse_dsn, settings, NEXT, registry)
        assert [site.hits(f"/story-{k}.html") for k in "abc"] == [2, 2, 1]
    after = articles(warehouse_dsn)
    assert len(after) == 3
    new, old = after[url["a"]], before[url["a"]]
    assert new["title"] == "Story a, corrected" and "fares" in new["body"]
    assert new["fetched_at"] > old["fetched_at"]
    assert (new["last_run_key"], new["first_run_key"]) == (NEXT.run_key, RUN.run_key)
    assert (new["article_id"], new["cluster_id"]) == (old["article_id"], old["cluster_id"])
    # A failed refetch and an entry not updated leave their rows exactly as they were.
    assert after[url["b"]] == before[url["b"]]
    assert after[url["c"]] == before[url["c"]]
    row = run_row(warehouse_dsn, NEXT, "updates")
    assert (row["fetched"], row["skipped_known"], row["failures"]) == (1, 1, {"http_4xx": 1})


def test_updated_stories_are_not_refetched_unless_asked(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    root, registry = _story_site(tmp_path, "atom")
    with serve(root) as site:
        source = FeedSource(name="updates", url=site.url("/feed.xml"))
        write_registry(registry, source)
        pipeline.run_all(warehouse_dsn, settings, RUN, registry)
        later = datetime.now().astimezone() + timedelta(days=1)
        _refetch_site(root, "atom", dict.fromkeys("abc", later))
        pipeline.run_all(warehouse_dsn, settings, NEXT, registry)
        assert [site.hits(f"/story-{k}.html") for k in "abc"] == [1, 1, 1]
    assert run_row(warehouse_dsn, NEXT, "updates")["skipped_known"] == 3
