"""Tests for the demo HTTP server: static serving, validators, fault routes and counters."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsingest.demo.server import DemoServer, serve

EXPECTED = json.loads(
    (Path(__file__).parents[2] / "plugins/newsingest/demo/expected.json").read_text("utf-8")
)
ARTICLE = next(p["path"] for p in EXPECTED["pages"] if p["is_article"])


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with serve() as running:
        yield running


class Response:
    """A fully read HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, elapsed: float):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed


def request(
    server: DemoServer,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    """Send one request on a fresh connection (no redirects, no decoding) and read it all."""
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        found = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, found, body, time.monotonic() - start)
    finally:
        conn.close()


def demo_threads(running: DemoServer) -> list[threading.Thread]:
    """Return the threads still alive for one server (their names end with its port)."""
    port = urlsplit(running.base_url).port
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("newsingest-demo") and t.name.endswith(f"-{port}")
    ]


# -- static files ----------------------------------------------------------------------------


def test_page_has_base_substituted(server: DemoServer) -> None:
    resp = request(server, ARTICLE)
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    text = resp.body.decode("utf-8")
    assert "{{base}}" not in text
    assert f'<link rel="canonical" href="{server.base_url}{ARTICLE}">' in text
    assert int(resp.headers["content-length"]) == len(resp.body)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/daily-courier/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/metro-ledger/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/valley-post/feed.rdf", "application/rdf+xml; charset=utf-8"),
        ("/wirewire/feed.json", "application/feed+json; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
        ("/daily-courier/static/placeholder.svg", "image/svg+xml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_content_types(server: DemoServer, path: str, content_type: str) -> None:
    resp = request(server, path)
    assert resp.status == 200
    assert resp.headers["content-type"] == content_type
    assert b"{{base}}" not in resp.body


def test_feed_links_use_server_address(server: DemoServer) -> None:
    body = request(server, "/wirewire/feed.json").body
    feed = json.loads(body)
    assert feed["feed_url"] == server.url("/wirewire/feed.json")
    assert all(item["url"].startswith(server.base_url + "/wirewire/") for item in feed["items"])


def test_conditional_get(server: DemoServer) -> None:
    first = request(server, ARTICLE)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and etag.endswith('"')

    by_etag = request(server, ARTICLE, headers={"If-None-Match": etag})
    assert by_etag.status == 304
    assert by_etag.body == b""
    assert by_etag.headers["etag"] == etag

    weak = request(server, ARTICLE, headers={"If-None-Match": f'"nope", W/{etag}'})
    assert weak.status == 304

    by_date = request(server, ARTICLE, headers={"If-Modified-Since": last_modified})
    assert by_date.status == 304

    changed = request(server, ARTICLE, headers={"If-None-Match": '"something-else"'})
    assert changed.status == 200 and changed.body == first.body

    old = request(server, ARTICLE, headers={"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
    assert old.status == 200


def test_etag_is_stable_and_differs_per_file(server: DemoServer) -> None:
    a1 = request(server, "/daily-courier/feed.xml").headers["etag"]
    a2 = request(server, "/daily-courier/feed.xml").headers["etag"]
    b = request(server, "/metro-ledger/atom.xml").headers["etag"]
    assert a1 == a2 != b


@pytest.mark.parametrize(
    "path",
    [
        "/no/such/page.html",
        "/daily-courier/nothing.xml",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/bad%00name.html",
        "/" + "x" * 5000,
        "/_fault/x",
    ],
)
def test_unknown_paths_are_404(server: DemoServer, path: str) -> None:
    assert request(server, path).status == 404


def test_head_sends_headers_only(server: DemoServer) -> None:
    get = request(server, "/harbor-times/feed.xml")
    head = request(server, "/harbor-times/feed.xml", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(get.body))
    assert head.headers["etag"] == get.headers["etag"]


def test_custom_root(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<a href="{{base}}/x">x</a>', encoding="utf-8")
    (tmp_path / "data.json").write_text('{"u": "{{base}}"}', encoding="utf-8")
    with serve(tmp_path) as running:
        page = request(running, "/")
        assert page.body.decode() == f'<a href="{running.base_url}/x">x</a>'
        data = request(running, "/data.json")
        assert data.headers["content-type"] == "application/json; charset=utf-8"
        assert json.loads(data.body) == {"u": running.base_url}


# -- fault routes ----------------------------------------------------------------------------


def test_status_route(server: DemoServer) -> None:
    resp = request(server, "/_fault/status/503?retry_after=7")
    assert resp.status == 503
    assert resp.headers["retry-after"] == "7"
    assert b"503" in resp.body
    assert request(server, "/_fault/status/429").status == 429
    assert "retry-after" not in request(server, "/_fault/status/500").headers
    no_content = request(server, "/_fault/status/204")
    assert no_content.status == 204 and no_content.body == b""
    assert request(server, "/_fault/status/teapot").status == 400


def test_flaky_fails_then_recovers(server: DemoServer) -> None:
    path = "/_fault/flaky/test-flaky-a?fail=2&code=503"
    statuses = [request(server, path).status for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert b"<html" in request(server, path).body
    # Keys are independent, and the default is one failure with 500.
    assert [request(server, "/_fault/flaky/test-flaky-b").status for _ in range(2)] == [500, 200]
    assert server.hits("/_fault/flaky/test-flaky-a") == 5


def test_hang_times_out_client(server: DemoServer) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        request(server, "/_fault/hang", timeout=0.3)
    assert time.monotonic() - start < 1.5
    assert request(server, "/robots.txt").status == 200


def test_hang_does_not_block_shutdown() -> None:
    errors: list[BaseException] = []

    def client(running: DemoServer) -> None:
        try:
            request(running, "/_fault/hang", timeout=10)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(exc)

    with serve() as running:
        worker = threading.Thread(target=client, args=(running,))
        worker.start()
        deadline = time.monotonic() + 3
        while running.max_concurrency("/_fault/hang") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert running.max_concurrency("/_fault/hang") == 1
        stop_started = time.monotonic()
    assert time.monotonic() - stop_started < 1.5
    worker.join(5)
    assert not worker.is_alive()
    assert errors, "the hung request should end with a closed connection"
    assert demo_threads(running) == []


def test_drip_is_slow_but_complete(server: DemoServer) -> None:
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        start = time.monotonic()
        conn.request("GET", "/_fault/drip?seconds=1")
        resp = conn.getresponse()
        headers_after = time.monotonic() - start
        body = resp.read()
        total = time.monotonic() - start
    finally:
        conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == "2"
    assert body == b".."
    assert headers_after < 0.4
    assert 0.9 <= total < 2.5


def test_big_with_length(server: DemoServer) -> None:
    resp = request(server, "/_fault/big?mb=1")
    assert resp.status == 200
    assert resp.headers["content-length"] == str(1024 * 1024)
    assert len(resp.body) == 1024 * 1024
    assert resp.body.startswith(b"<!DOCTYPE html>") and resp.body.endswith(b"</html>\n")
    head = request(server, "/_fault/big?mb=500", method="HEAD")
    assert head.headers["content-length"] == str(500 * 1024 * 1024)
    assert head.body == b""


def test_big_without_length(server: DemoServer) -> None:
    resp = request(server, "/_fault/big?mb=0.25&nolength=1")
    assert resp.status == 200
    assert "content-length" not in resp.headers
    assert "chunked" not in resp.headers.get("transfer-encoding", "")
    assert len(resp.body) == 256 * 1024


def test_gzip_bomb_is_small_on_the_wire(server: DemoServer) -> None:
    resp = request(server, "/_fault/gzipbomb", timeout=10)
    assert resp.status == 200
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["content-type"].startswith("text/html")
    assert int(resp.headers["content-length"]) == len(resp.body) < 1024 * 1024
    inflater = zlib.decompressobj(31)
    first = inflater.decompress(resp.body, 1024 * 1024)
    assert first == bytes(1024 * 1024)
    assert inflater.unconsumed_tail, "the body must inflate far beyond what was read"


def test_binary_is_deterministic_noise(server: DemoServer) -> None:
    first = request(server, "/_fault/binary")
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert first.body == request(server, "/_fault/binary").body
    assert len(first.body) >= 1024
    with pytest.raises(UnicodeDecodeError):
        first.body.decode("utf-8")


def test_charset_header_lies(server: DemoServer) -> None:
    resp = request(server, "/_fault/charset")
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        resp.body.decode("utf-8")
    assert "Zürich, café, über" in resp.body.decode("latin-1")


def test_charset_from_meta_only(server: DemoServer) -> None:
    resp = request(server, "/_fault/charset-meta")
    assert resp.headers["content-type"] == "text/html"
    assert b'<meta charset="windows-1252">' in resp.body
    text = resp.body.decode("cp1252")
    assert "€2.40" in text and "“We had no choice,”" in text


def test_redirects(server: DemoServer) -> None:
    loop = request(server, "/_fault/redirect-loop")
    assert loop.status == 302
    assert loop.headers["location"] == server.url("/_fault/redirect-loop")
    target = server.url("/robots.txt")
    hop = request(server, f"/_fault/redirect?to={target}")
    assert hop.status == 302 and hop.headers["location"] == target
    moved = request(server, f"/_fault/redirect?to={target}&code=301")
    assert moved.status == 301
    assert request(server, "/_fault/redirect").status == 400


def test_xml_bomb(server: DemoServer) -> None:
    resp = request(server, "/_fault/xml-bomb")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("application/rss+xml")
    assert len(resp.body) < 4096
    assert b"<!ENTITY lol9" in resp.body and b"&lol9;" in resp.body


def test_bigfeed_and_pages(server: DemoServer) -> None:
    small = ET.fromstring(request(server, "/_fault/bigfeed?n=25").body)
    links = [item.findtext("link") for item in small.iter("item")]
    assert links == [server.url(f"/_fault/page/{i}") for i in range(25)]
    big = request(server, "/_fault/bigfeed?n=10000").body
    assert big.count(b"<item>") == 10000
    page = request(server, "/_fault/page/7")
    assert page.status == 200
    assert f'<link rel="canonical" href="{server.url("/_fault/page/7")}">'.encode() in page.body
    assert page.body == request(server, "/_fault/page/7").body
    assert page.body != request(server, "/_fault/page/8").body.replace(b"/8", b"/7")
    assert request(server, "/_fault/page/seven").status == 404


def test_dupguids(server: DemoServer) -> None:
    root = ET.fromstring(request(server, "/_fault/dupguids").body)
    items = list(root.iter("item"))
    assert len(items) >= 3
    assert len({item.findtext("guid") for item in items}) == 1
    assert len({item.findtext("link") for item in items}) == 1
    assert len({item.findtext("title") for item in items}) == len(items)


# -- counters and lifecycle --------------------------------------------------------------------


def test_hits_and_reset(server: DemoServer) -> None:
    path = "/valley-post/feed.rdf"
    server.reset_stats()
    for _ in range(3):
        request(server, path)
    request(server, path + "?utm_source=x")
    assert server.hits(path) == 4
    assert server.hits(path + "?anything") == 4
    assert server.hits("/metro-ledger/atom.xml") == 0
    # A handler thread may still be finishing after its client has read the response;
    # reset keeps requests still in flight, so retry until the last one is done.
    for _ in range(200):
        server.reset_stats()
        if server.max_concurrency("/valley-post/") == 0:
            break
        time.sleep(0.01)
    assert server.hits(path) == 0
    assert server.max_concurrency("/valley-post/") == 0


def test_max_concurrency_per_prefix() -> None:
    paths = [p["path"] for p in EXPECTED["pages"] if p["outlet"] == "daily-courier"][:4]
    with serve(latency=0.5) as running:
        threads = [threading.Thread(target=request, args=(running, p)) for p in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        request(running, "/robots.txt")
        assert demo_threads(running), "threads are named after the server's port"
        assert running.max_concurrency("/daily-courier/") == 4
        assert running.max_concurrency("") == 4
        assert running.max_concurrency("/robots.txt") == 1
        assert running.max_concurrency("/metro-ledger/") == 0
        assert running.hits(paths[0]) == 1
    assert demo_threads(running) == []


def test_run_forever_stops_on_sigterm() -> None:
    code = "from newsingest.demo.server import run_forever; run_forever('127.0.0.1', 0)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        parts = urlsplit(base)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            conn.request("GET", "/robots.txt")
            assert conn.getresponse().read() == b"User-agent: *\nAllow: /\n"
        finally:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=5)
        assert proc.returncode == 0, stderr
        assert stderr == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
