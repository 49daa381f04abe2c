"""Tests of newsingest.downloads against the fault-injecting local server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from newsingest.downloads import Fetcher, parse_retry_after
from newsingest.settings import Settings


@pytest.fixture
def fetcher(settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(settings) as client:
        yield client


def classes(outcome: Any) -> list[str | None]:
    return [a.error_class for a in outcome.attempts if a.target != "robots"]


def test_page_ok(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/page/1")
    assert outcome.ok
    assert outcome.response.status == 200
    assert outcome.response.content_type == "text/html"
    assert classes(outcome) == [None]


def test_500_then_success_is_retried(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/flaky/t500?fail=2&code=500")
    assert outcome.ok
    assert classes(outcome) == ["http_5xx", "http_5xx", None]
    assert [a.attempt for a in outcome.attempts if a.target == "page"] == [1, 2, 3]


def test_429_waits_for_retry_after(settings: Settings, demo_site: Any) -> None:
    waits: list[float] = []
    with Fetcher(settings, sleep=waits.append) as client:
        outcome = client.fetch(
            demo_site.base_url + "/_fault/flaky/t429?fail=1&code=429&retry_after=2"
        )
    assert outcome.ok
    assert classes(outcome) == ["http_429", None]
    assert waits and max(waits) >= 2.0


def test_retry_after_beyond_the_cap_fails_without_waiting(
    settings: Settings, demo_site: Any
) -> None:
    waits: list[float] = []
    with Fetcher(settings.replace(retry_after_max=5), sleep=waits.append) as client:
        outcome = client.fetch(demo_site.base_url + "/_fault/status/429?retry_after=3600")
    assert outcome.error_class == "http_429"
    assert waits == []


def test_404_is_not_retried(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/status/404")
    assert outcome.error_class == "http_4xx"
    assert len(classes(outcome)) == 1


def test_connection_refused(settings: Settings) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Fetcher(settings.replace(retries=1, respect_robots=False)) as client:
        outcome = client.fetch(f"http://127.0.0.1:{port}/x")
    assert outcome.error_class == "refused"
    assert classes(outcome) == ["refused", "refused"]
    # With robots.txt on, the unreachable host is reported with the network error.
    with Fetcher(settings.replace(retries=0)) as client:
        outcome = client.fetch(f"http://127.0.0.1:{port}/x")
    assert outcome.error_class == "refused"


def test_server_that_never_answers_times_out(settings: Settings, demo_site: Any) -> None:
    started = time.monotonic()
    with Fetcher(settings.replace(read_timeout=1, total_timeout=2, retries=0)) as client:
        outcome = client.fetch(demo_site.base_url + "/_fault/hang")
    assert outcome.error_class == "timeout"
    assert time.monotonic() - started < 5


def test_slow_drip_is_cut_at_the_deadline(settings: Settings, demo_site: Any) -> None:
    started = time.monotonic()
    with Fetcher(settings.replace(read_timeout=2, total_timeout=2, retries=0)) as client:
        outcome = client.fetch(demo_site.base_url + "/_fault/drip?seconds=30")
    assert outcome.error_class == "timeout"
    assert time.monotonic() - started < 6


@pytest.mark.parametrize("query", ["mb=50", "mb=50&nolength=1"])
def test_50_mb_page_hits_the_size_cap(fetcher: Fetcher, demo_site: Any, query: str) -> None:
    outcome = fetcher.fetch(demo_site.base_url + f"/_fault/big?{query}")
    assert outcome.error_class == "too_large"
    assert outcome.attempts[-1].bytes <= fetcher.settings.max_page_bytes + 2 * 65_536


def test_gzip_bomb_is_stopped(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/gzipbomb")
    assert outcome.error_class == "too_large"


def test_binary_served_as_html(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/binary")
    assert outcome.error_class == "bad_content_type"


def test_wrong_declared_charset_is_fetched(fetcher: Fetcher, demo_site: Any) -> None:
    from newsingest.charsets import decode_html

    outcome = fetcher.fetch(demo_site.base_url + "/_fault/charset")
    assert outcome.ok
    text, _ = decode_html(outcome.response.body, outcome.response.charset)
    assert "Zürich" in text


def test_redirect_loop(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/_fault/redirect-loop")
    assert outcome.error_class == "redirect_loop"


def test_redirect_to_a_blocked_address(settings: Settings, demo_site: Any) -> None:
    # 127.0.0.1 is allowed so the redirect is followed; its target (metadata service) is not.
    target = "http://169.254.169.254/latest/meta-data/"
    with Fetcher(settings) as client:
        outcome = client.fetch(demo_site.base_url + f"/_fault/redirect?to={target}")
    assert outcome.error_class == "blocked_address"
    assert "169.254.169.254" in outcome.error


def test_loopback_is_blocked_unless_allowed(demo_site: Any) -> None:
    with Fetcher(Settings(host_delay=0, retries=0)) as client:
        outcome = client.fetch(demo_site.base_url + "/_fault/page/1")
    assert outcome.error_class == "blocked_address"
    assert "NEWSINGEST_ALLOW_HOSTS" in outcome.error


def test_wrong_content_type_for_a_page(fetcher: Fetcher, demo_site: Any) -> None:
    outcome = fetcher.fetch(demo_site.base_url + "/wirewire/feed.json")
    assert outcome.error_class == "bad_content_type"


def test_conditional_get_304(fetcher: Fetcher, demo_site: Any) -> None:
    url = demo_site.base_url + "/daily-courier/feed.xml"
    first = fetcher.fetch(url, target="feed")
    etag = first.response.headers["ETag"]
    second = fetcher.fetch(url, target="feed", headers={"If-None-Match": etag})
    assert second.response.status == 304
    assert classes(second) == ["not_modified"]


def test_robots_disallow_and_crawl_delay(settings: Settings, tmp_path: Path) -> None:
    from newsingest.demo.server import serve

    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "a.html").write_text("<html><body>secret</body></html>")
    (tmp_path / "open.html").write_text("<html><body>open</body></html>")
    waits: list[float] = []
    with serve(tmp_path) as site, Fetcher(settings, sleep=waits.append) as client:
        blocked = client.fetch(site.base_url + "/private/a.html")
        first = client.fetch(site.base_url + "/open.html")
        second = client.fetch(site.base_url + "/open.html")
        assert site.hits("/private/a.html") == 0
    assert blocked.error_class == "robots_disallowed"
    assert first.ok and second.ok
    assert any(w > 0.5 for w in waits), waits


class _RobotsDown(BaseHTTPRequestHandler):
    """robots.txt answers 503; every other path answers a small page."""

    def do_GET(self) -> None:
        status = 503 if self.path == "/robots.txt" else 200
        body = b"<html><body>page</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_robots_5xx_means_not_now(settings: Settings) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RobotsDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Fetcher(settings.replace(retries=0)) as client:
            outcome = client.fetch(f"http://127.0.0.1:{server.server_port}/story.html")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert outcome.error_class == "robots_unavailable"
    assert [a.target for a in outcome.attempts] == ["robots", "page"]


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_fetch_many_spreads_hosts_within_their_limit(settings: Settings, tmp_path: Path) -> None:
    from contextlib import ExitStack

    from newsingest.demo.server import serve

    (tmp_path / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    with ExitStack() as stack:
        sites = [stack.enter_context(serve(tmp_path, latency=0.2)) for _ in range(3)]
        # Listed host by host, as a sitemap index expands: all hosts still work at once.
        urls = [site.url(f"/_fault/page/{i}") for site in sites for i in range(6)]
        with Fetcher(settings.replace(host_concurrency=2, global_concurrency=6)) as client:
            outcomes = client.fetch_many(urls)
        peaks = [site.max_concurrency("/_fault/") for site in sites]
        robots_hits = [site.hits("/robots.txt") for site in sites]
    assert [o.url for o in outcomes] == urls
    assert all(o.ok for o in outcomes)
    assert peaks == [2, 2, 2]
    # Workers reaching a new host together fetch its robots.txt once, logged once.
    assert robots_hits == [1, 1, 1]
    assert sum(a.target == "robots" for o in outcomes for a in o.attempts) == 3
