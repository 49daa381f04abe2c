"""Properties of newsingest.urls (hypothesis): canonical URLs are fixed points, never crash,
and every tracking, skin and spelling variant of one article URL collapses to one key.

The examples are derandomised (the "ci" profile of tests/conftest.py): every run checks the
same ones. HYPOTHESIS_PROFILE=explore searches with fresh ones.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from newsingest.urls import VARIANT_HOST_PREFIXES, VARIANT_PARAMS, canonical_url, host_of

LOWER = string.ascii_lowercase + string.digits
# Characters of URLs as feeds write them, and the ones that break parsers.
URLISH = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%\\ \t\n\x00\x7fäé中\u202e"
# Query keys an article URL may carry (none is a tracker or a variant switch).
CONTENT_KEYS = ("id", "p", "storyid", "page", "section", "articleId")
# Trackers courlan removes, named as real sites name them.
TRACKERS = ("fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "xtor", "at_medium")
SKIN_PREFIXES = tuple(p.rstrip(".") for p in VARIANT_HOST_PREFIXES)


@dataclass(frozen=True)
class Article:
    """The parts of one article URL, before any variant is made of it."""

    scheme: str
    host: str
    port: int | None
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]

    def url(self) -> str:
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        path = "/" + "/".join(self.segments)
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in self.query)
        return f"{self.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


label = st.text(LOWER, min_size=1, max_size=8).filter(lambda s: s not in SKIN_PREFIXES)
segment = st.text(LOWER + "-_.", min_size=1, max_size=12).filter(
    lambda s: s != "amp" and not s.endswith(".amp") and s not in {".", ".."}
)
value = st.text(LOWER + " äé-", min_size=1, max_size=10).map(str.strip).filter(bool)
articles = st.builds(
    Article,
    scheme=st.sampled_from(["http", "https"]),
    host=st.lists(label, min_size=1, max_size=3).map(lambda ls: ".".join([*ls, "example"])),
    port=st.one_of(st.none(), st.integers(1024, 65535)),
    segments=st.lists(segment, min_size=1, max_size=4).map(tuple),
    query=st.lists(
        st.tuples(st.sampled_from(CONTENT_KEYS), value), max_size=3, unique_by=lambda kv: kv[0]
    ).map(tuple),
)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def variant(draw: st.DrawFn, article: Article) -> str:
    """One URL of the article as a feed, a share button or a mobile site may give it."""
    scheme = _random_case(draw, article.scheme)
    host = article.host
    if draw(st.booleans()):
        host = draw(st.sampled_from(VARIANT_HOST_PREFIXES)) + host
    host = _random_case(draw, host)
    port = article.port
    if port is None and draw(st.booleans()):
        port = 80 if article.scheme == "http" else 443  # the default port, spelled out
    netloc = host if port is None else f"{host}:{port}"
    segments = list(article.segments)
    amp = draw(st.sampled_from(["none", "segment", "suffix"]))
    if amp == "segment":
        segments.insert(draw(st.integers(0, len(segments))), "amp")
    elif amp == "suffix":
        segments[-1] += ".amp"
    # Dot segments, which the HTTP client resolves before it asks: "/./a" and "/x/../a".
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(segments) - 1))
        segments[at:at] = draw(st.sampled_from([["."], ["x", ".."], ["a", "b", "..", ".."]]))
    path = "/" + "/".join(segments) + "/" * draw(st.integers(0, 2))
    params = [(k, quote(v, safe="")) for k, v in article.query]
    tag = st.text(LOWER, min_size=1, max_size=6)
    for tracker in draw(st.lists(st.sampled_from(TRACKERS), unique=True, max_size=3)):
        params.append((tracker, draw(tag)))
    for _ in range(draw(st.integers(0, 2))):
        params.append(("utm_" + draw(st.sampled_from(["source", "medium", "campaign"])), draw(tag)))
    switches = st.lists(st.sampled_from(sorted(VARIANT_PARAMS)), unique=True, max_size=2)
    params += [(_random_case(draw, switch), "1") for switch in draw(switches)]
    params = draw(st.permutations(params))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.one_of(st.just(""), st.text(LOWER + "-=&", max_size=10).map("#{}".format)))
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "") + fragment


@settings(max_examples=300)
@given(st.data(), articles)
def test_variants_of_one_article_collapse_to_one_url(data: st.DataObject, article: Article) -> None:
    key = canonical_url(article.url())
    for _ in range(3):
        url = data.draw(variant(article))
        assert canonical_url(url) == key, url


@settings(max_examples=300)
@given(articles)
def test_the_canonical_url_of_an_article_is_a_fixed_point(article: Article) -> None:
    once = canonical_url(article.url())
    assert canonical_url(once) == once
    assert once.startswith(f"{article.scheme}://")
    assert host_of(once) == host_of(article.url())


@st.composite
def url_shaped(draw: st.DrawFn) -> str:
    """Something a broken or hostile feed could put in a link: URL parts, any of them odd."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", "", "h\ttp"]))
    userinfo = draw(st.one_of(st.just(""), st.text(URLISH, max_size=8).map("{}@".format)))
    host = draw(st.one_of(
        st.text(LOWER + ".-", min_size=1, max_size=15),
        st.text(URLISH, max_size=15),
        st.sampled_from(["[::1]", "[::1", "::1]", "[fe80::1%eth0]", "xn--", "xn--zz.example"]),
        st.integers(0, 2**32).map(str),
    ))  # fmt: skip
    port = draw(st.one_of(
        st.just(""),
        st.integers(-5, 10**6).map(":{}".format),
        st.text(URLISH, max_size=6).map(":{}".format),
    ))  # fmt: skip
    rest = draw(st.text(URLISH, max_size=40))
    return f"{scheme}://{userinfo}{host}{port}{rest}"


def _canonical_is_total(text: str) -> None:
    once = canonical_url(text)
    assert isinstance(once, str)
    assert canonical_url(once) == once
    assert isinstance(host_of(text), str)
    assert isinstance(host_of(once), str)


@settings(max_examples=400)
@given(url_shaped())
@example("http://a.example:99999/")  # urllib's .port raised ValueError on these
@example("http://a.example:x/")
@example("http://a.example:-1/")
@example("http://[::1/")
@example("http://a.example/x/amp.amp")  # canonical once: /x/amp; twice: /x
@example("http://a.example/amp/amp/x")
@example("http://a.example/x/y.amp.amp")
def test_url_shaped_text_never_crashes_and_canonicalises_to_a_fixed_point(text: str) -> None:
    _canonical_is_total(text)


@settings(max_examples=300)
@given(st.text(st.characters(exclude_categories=()), max_size=60))
def test_any_text_never_crashes_and_canonicalises_to_a_fixed_point(text: str) -> None:
    # Surrogates included: a JSON feed may carry "\ud800" in a link.
    _canonical_is_total(text)


# -- explicit regressions of what the properties found ------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://a.example:99999/", "a.example:99999"),
        ("http://a.example:x/", "a.example:x"),
        ("http://user:pw@A.example:-1/x", "a.example:-1"),
        ("http://[::1/", "[::1"),
    ],
)
def test_an_unreadable_port_or_bracket_keeps_its_url_and_host(url: str, host: str) -> None:
    # Such a URL is refused by the fetcher (bad_url); until then it must not crash the feed.
    assert canonical_url(url) == url
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://a.example/x/amp.amp", "http://a.example/x"),
        ("http://a.example/amp/amp/x", "http://a.example/x"),
        ("http://a.example/x/y.amp.amp/", "http://a.example/x/y"),
        ("http://a.example/amp", "http://a.example/"),
    ],
)
def test_amp_segments_and_suffixes_go_in_one_pass(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_the_default_port_is_not_part_of_the_host_key() -> None:
    # Per-host limits: the same host spelled with its default port is the same host.
    assert host_of("HTTP://News.example:80/a") == host_of("http://news.example/b") == "news.example"
    assert host_of("https://news.example:443/a") == "news.example"
    assert host_of("http://news.example:443/a") == "news.example:443"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # courlan decodes HTML entities of a string, "&sect", "&reg", "&para" with no semicolon too.
        ("http://a.example/n?id=3&section=world", "http://a.example/n?id=3&section=world"),
        ("http://a.example/n?region=eu&param=2&q=1", "http://a.example/n?param=2&q=1&region=eu"),
        ("http://a.example/n?fbclid=0&amp=1", "http://a.example/n"),
    ],
)
def test_query_parameters_named_like_html_entities_survive(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url("http://a.example/n?section=world&id=3").endswith("?id=3&section=world")


def test_an_ipv6_host_keeps_its_brackets() -> None:
    assert canonical_url("http://[::1]:8080/x/") == "http://[::1]:8080/x"
    assert host_of("http://[::1]:8080/x") == "[::1]:8080"
