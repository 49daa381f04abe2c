"""Feed parser benchmark: feedparser (in use) against fastfeedparser and feedparser-rs.

Only RSS 0.9x/1.0/2.0 and Atom documents go through a third-party parser in
newsingest (JSON Feed and sitemaps have their own small readers), so the
candidates are compared on those, each wrapped the way newsingest.feeds
would wrap it: an entry needs a link (resolved against the feed URL), its
date is the published time or else the update time, and a document is
rejected when the parser finds no feed, or reports it malformed and yields
no entry.

Correctness, against gold data: the fixtures of tests/fixtures/feeds (the
values tests/unit/test_feeds.py asserts), the demo site's feeds (entry
counts, page paths and dates from demo/expected.json), a 5,000-item feed
and two bad documents from the demo server's fault routes, non-feeds that
must be rejected, and two entity-expansion bombs that must not expand
(parsed in a child process with a 2 GiB memory cap and a time limit;
newsingest refuses entity declarations before any parser sees them).

feedparser-rs blanks every link to a loopback, private or link-local
address (no flag, no option), so the demo site's feeds served on 127.0.0.1
lose all their entries; newsingest decides that itself (NEWSINGEST_ALLOW_HOSTS).

Speed: best of several passes over the demo and fixture feeds, and over
the 5,000-item feed, per parser; ratios are feedparser's time over each
candidate's.

    python bench/feeds.py [--passes 5]

The last line is `speedup fastfeedparser=<x> feedparser_rs=<y> correct
feedparser=<n>/<N> fastfeedparser=<n>/<N> feedparser_rs=<n>/<N>`.
"""

from __future__ import annotations

import argparse
import calendar
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import fastfeedparser
import feedparser
import feedparser_rs
import requests

from newsingest.demo.server import FEED_EPOCH, SITE_ROOT, serve

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "feeds"
BIG_FEED_ITEMS = 5000
BOMB_MEMORY = 2 << 30
BOMB_SECONDS = 30


@dataclass(frozen=True)
class Entry:
    """What newsingest takes from a feed item."""

    link: str
    title: str
    published: datetime | None
    updated: datetime | None


@dataclass
class Result:
    """A parser's verdict on a document: entries, or rejected."""

    rejected: bool
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Doc:
    """A document with its gold data; entries None (and no pages) means it must be rejected."""

    name: str
    body: bytes
    base: str
    entries: list[Entry] | None
    # Compare update times only where the document has an explicit update element.
    check_updated: bool = False
    timed: bool = True
    # Looser gold (demo feeds): link path -> publication time of every entry, and their count.
    pages: dict[str, datetime | None] | None = None
    count: int = 0

    @property
    def good(self) -> bool:
        """True when the document must be accepted."""
        return self.entries is not None or self.pages is not None


def _struct(value: Any) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC) if value else None


def _iso(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _entries(
    items: list[tuple[str, str, datetime | None, datetime | None]], base: str
) -> list[Entry]:
    """Entries with a link, as newsingest keeps them: date = published, else updated."""
    return [
        Entry(urljoin(base, link), (title or "").strip(), published or updated, updated)
        for link, title, published, updated in items
        if link
    ]


def via_feedparser(body: bytes, base: str) -> Result:
    """feedparser 6, as newsingest.feeds calls it today."""
    headers = {"content-location": base, "content-type": "application/xml"}
    result = feedparser.parse(body, response_headers=headers)
    items = [
        (e.get("link", ""), e.get("title", ""), _struct(e.get("published_parsed")),
         _struct(e.get("updated_parsed")))
        for e in result.entries
    ]  # fmt: skip
    entries = _entries(items, base)
    rejected = not result.get("version") or (bool(result.get("bozo")) and not entries)
    return Result(rejected, [] if rejected else entries)


def via_fastfeedparser(body: bytes, base: str) -> Result:
    """fastfeedparser: it raises on what it cannot read and has no malformation flag."""
    try:
        result = fastfeedparser.parse(body)
    except Exception:  # its errors have no common base class
        return Result(True)
    items = [
        (e.get("link", ""), e.get("title", ""), _iso(e.get("published")), _iso(e.get("updated")))
        for e in result["entries"]
    ]
    return Result(False, _entries(items, base))


def via_feedparser_rs(body: bytes, base: str) -> Result:
    """feedparser-rs: feedparser's result shape (version, bozo, *_parsed), in Rust."""
    result = feedparser_rs.parse(body)
    items = [
        (e.link or "", e.title or "", _struct(e.published_parsed), _struct(e.updated_parsed))
        for e in result.entries
    ]
    entries = _entries(items, base)
    rejected = not result.version or (bool(result.bozo) and not entries)
    return Result(rejected, [] if rejected else entries)


PARSERS: dict[str, Callable[[bytes, str], Result]] = {
    "feedparser": via_feedparser,
    "fastfeedparser": via_fastfeedparser,
    "feedparser_rs": via_feedparser_rs,
}


def _utc(text: str) -> datetime:
    return _iso(text) or datetime.min


def fixture_docs() -> list[Doc]:
    """The feed fixtures with the values the unit tests assert."""
    base = "https://courier.example/rss"

    def doc(name: str, entries: list[Entry] | None, check_updated: bool = False) -> Doc:
        return Doc(name, (FIXTURES / name).read_bytes(), base, entries, check_updated)

    courier = "https://courier.example/2022/01/"
    return [
        doc("rss2.xml", [
            Entry(courier + "21/harbour-strike.html?utm_source=rss",
                  "Harbour strike ends after six days", _utc("2022-01-21T13:05Z"), None),
            Entry(courier + "20/tram-line.html", "Council approves tram line",
                  _utc("2022-01-20T09:00Z"), None),
            Entry(courier + "19/undated.html", "No date here", None, None),
        ]),
        doc("rss091.xml", [
            Entry("https://gazette.example/cafe.html", "Café reopens", None, None)
        ]),
        doc("rss1.rdf", [
            Entry("https://wire.example/a", "Story A", _utc("2022-01-21T10:00Z"), None),
            Entry("https://wire.example/b", "Story B", _utc("2022-01-21T09:30Z"), None),
        ]),
        doc("atom.xml", [
            Entry("https://ledger.example/museum", "Museum opens new wing",
                  _utc("2022-01-21T07:00Z"), _utc("2022-01-21T08:00Z")),
        ], check_updated=True),
        doc("atom03.xml", [
            Entry("https://legacy.example/first", "First post", _utc("2022-01-20T12:00Z"), None)
        ]),
        doc("dupguids.xml", [
            Entry("https://dup.example/a", "A", None, None),
            Entry("https://dup.example/a-copy", "A again", None, None),
            Entry("https://www.dup.example/a?utm_source=x", "A tracked", None, None),
            Entry("https://dup.example/b", "B", None, None),
        ]),
        doc("malformed.xml", None),
    ]  # fmt: skip


def demo_docs(base_url: str) -> list[Doc]:
    """The demo site's RSS, RDF and Atom feeds, with counts and dates from expected.json."""
    expected = json.loads((SITE_ROOT.parent / "expected.json").read_text())
    docs = []
    for feed in expected["feeds"]:
        path = feed["path"]
        if path.endswith(".json"):
            continue  # JSON Feed is read by newsingest's own code
        body = (SITE_ROOT / path.lstrip("/")).read_bytes().replace(b"{{base}}", base_url.encode())
        pages = {p["path"]: p for p in expected["pages"] if path in p["feed_urls"]}
        docs.append(
            Doc(
                f"demo{path}",
                body,
                base_url + path,
                None,
                count=feed["entries"],
                pages=None
                if feed["broken"]
                else {p: _iso(page["published_at"]) for p, page in pages.items()},
            )
        )
    return docs


def served_docs(base_url: str) -> list[Doc]:
    """Documents from the demo server's fault routes: a big feed and two bad ones."""

    def get(path: str) -> bytes:
        return requests.get(base_url + path, timeout=30).content

    big = [
        Entry(f"{base_url}/_fault/page/{i}", f"Bulk item {i}", FEED_EPOCH - timedelta(minutes=i),
              None)
        for i in range(BIG_FEED_ITEMS)
    ]  # fmt: skip
    return [
        Doc(f"bigfeed n={BIG_FEED_ITEMS}", get(f"/_fault/bigfeed?n={BIG_FEED_ITEMS}"),
            base_url + "/_fault/bigfeed", big, timed=False),
        Doc("dupguids route", get("/_fault/dupguids"), base_url + "/_fault/dupguids", [
            Entry(f"{base_url}/_fault/page/1", f"Duplicate item {i}",
                  FEED_EPOCH - timedelta(minutes=i), None)
            for i in range(5)
        ]),
        Doc("xml-bomb route", get("/_fault/xml-bomb"), base_url + "/_fault/xml-bomb", None,
            timed=False),
    ]  # fmt: skip


NON_FEEDS = [
    Doc("empty", b"", "https://x.example/", None, timed=False),
    Doc("html page", b"<html><body>not a feed</body></html>", "https://x.example/", None,
        timed=False),
    Doc("binary", bytes(range(256)) * 4, "https://x.example/", None, timed=False),
    Doc("plain JSON", b'{"items": []}', "https://x.example/", None, timed=False),
]  # fmt: skip


def problems(doc: Doc, result: Result) -> list[str]:
    """How a parser's result differs from the gold data (empty: correct)."""
    if not doc.good:
        # Accepted with no entries, a broken feed would count as a healthy, empty one.
        return [] if result.rejected else [f"accepted ({len(result.entries)} entries, no error)"]
    if result.rejected:
        return ["rejected a good document"]
    found = []
    if doc.pages is not None:
        got_pages = {urlsplit(e.link).path: e.published for e in result.entries}
        if len(result.entries) != doc.count:
            found.append(f"{len(result.entries)} entries, expected {doc.count}")
        if got_pages != doc.pages:
            differ = sorted(set(got_pages.items()) ^ set(doc.pages.items()))
            found.append(f"links and dates differ: {differ[:2]}")
        return found
    assert doc.entries is not None
    if len(result.entries) != len(doc.entries):
        found.append(f"{len(result.entries)} entries, expected {len(doc.entries)}")
    for got, want in zip(result.entries, doc.entries, strict=False):
        if (got.link, got.title, got.published) != (want.link, want.title, want.published):
            found.append(f"got {got}, expected {want}")
        if doc.check_updated and got.updated != want.updated:
            found.append(f"updated {got.updated}, expected {want.updated}")
    return found[:3]


BOMB_SCRIPT = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
sys.path.insert(0, {bench!r})
import feeds
body = sys.stdin.buffer.read()
started = time.perf_counter()
result = feeds.PARSERS[{parser!r}](body, "https://x.example/")
longest = max((len(e.title) for e in result.entries), default=0)
elapsed = time.perf_counter() - started
print(f"{{elapsed:.2f}}s rejected={{result.rejected}} longest_title={{longest}}")
"""


def bomb(parser: str, body: bytes) -> tuple[bool, str]:
    """Parse an entity bomb in a capped child process: (safe, what happened)."""
    script = BOMB_SCRIPT.format(memory=BOMB_MEMORY, bench=str(Path(__file__).parent), parser=parser)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], input=body, capture_output=True, timeout=BOMB_SECONDS,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False, f"still parsing after {BOMB_SECONDS} s"
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return False, f"crashed ({done.returncode}): {' '.join(tail)[:80]}"
    report = done.stdout.decode().strip()
    longest = int(report.rsplit("longest_title=", 1)[-1])
    return longest < 10_000, report


def best_time(parse: Callable[[bytes, str], Result], docs: Sequence[Doc], passes: int) -> float:
    """Best wall time of one pass parsing every document once."""
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for doc in docs:
            parse(doc.body, doc.base)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print one line per document and parser, then the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    with serve() as site:
        docs = fixture_docs() + demo_docs(site.base_url) + served_docs(site.base_url) + NON_FEEDS
    bombs = {"xml-bomb.xml": (FIXTURES / "xml-bomb.xml").read_bytes()}
    bombs["xml-bomb route"] = next(d.body for d in docs if d.name == "xml-bomb route")
    docs = [d for d in docs if d.name != "xml-bomb route"]

    print(
        f"versions: feedparser {version('feedparser')}, fastfeedparser "
        f"{version('fastfeedparser')}, feedparser-rs {version('feedparser-rs')}"
    )
    correct = dict.fromkeys(PARSERS, 0)
    checks = len(docs) + len(bombs)
    for doc in docs:
        for name, parse in PARSERS.items():
            found = problems(doc, parse(doc.body, doc.base))
            correct[name] += not found
            if found:
                print(f"  WRONG {name:15s} {doc.name}: {'; '.join(found)}")
    for label, body in bombs.items():
        for name in PARSERS:
            safe, report = bomb(name, body)
            correct[name] += safe
            print(f"  {'safe ' if safe else 'UNSAFE'} {name:15s} {label}: {report}")
    print("correct documents: " + ", ".join(f"{n} {c}/{checks}" for n, c in correct.items()))

    small = [d for d in docs if d.timed and d.good]
    big = [d for d in docs if d.name.startswith("bigfeed")]
    times = {n: (best_time(p, small, args.passes), best_time(p, big, max(1, args.passes // 2)))
             for n, p in PARSERS.items()}  # fmt: skip
    base_small, base_big = times["feedparser"]
    for name, (small_s, big_s) in times.items():
        print(
            f"{name:15s} {len(small)} feeds {small_s * 1000:7.1f} ms ({base_small / small_s:4.1f}x)"
            f"   {BIG_FEED_ITEMS} items {big_s * 1000:7.1f} ms ({base_big / big_s:4.1f}x)"
        )
    print(
        "speedup "
        + " ".join(f"{n}={base_big / times[n][1]:.1f}" for n in PARSERS if n != "feedparser")
        + " correct "
        + " ".join(f"{n}={c}/{checks}" for n, c in correct.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
