"""Hostile servers and URLs against the Fetcher: SSRF forms, rebinding, drips, bombs, lies, magic.

Every server is real and listens on 127.0.0.1 (or 127.0.0.2). The tests'
settings allow 127.0.0.1 so that those servers can be fetched at all; the
cases here check that no other spelling, name, redirect or second DNS answer
gets through that opening, and that with an empty allow list nothing does.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import logging
import socket
import threading
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import brotli
import psycopg
import pytest

from newsingest import pipeline
from newsingest.demo.server import serve
from newsingest.downloads import Fetcher, FetchOutcome
from newsingest.records import FeedSource
from newsingest.registry import RegistryError, load_registry
from newsingest.settings import Settings
from tests.integration.hostile import RawServer, Request, drip, respond

PUBLIC = "93.184.216.34"  # what the fake DNS answers for public names; never connected to
PAGE = b"<!DOCTYPE html><html><body><p>An ordinary page.</p></body></html>"


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """socket.getaddrinfo answering PUBLIC for *.example names (others as usual).

    Patched at the socket module, so every resolver of the process sees it:
    the fetcher's guard and, were it asked, urllib3's own.
    """
    real = socket.getaddrinfo
    answers: dict[str, str] = {"public.example": PUBLIC, "news.example": PUBLIC}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in answers:
            return real(answers[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """No robots.txt, no retries, one-second timeouts: each case is one request."""
    return settings.replace(
        respect_robots=False, retries=0, connect_timeout=1, read_timeout=1, total_timeout=1
    )


@pytest.fixture
def page_server() -> Iterator[RawServer]:
    with RawServer(respond(PAGE)) as server:
        yield server


def fetch(settings: Settings, url: str, **kwargs: Any) -> FetchOutcome:
    with Fetcher(settings, **kwargs) as client:
        return client.fetch(url)


# -- parser disagreement (issue 11) -----------------------------------------


@pytest.mark.parametrize("allow", [(), ("127.0.0.1",)])
def test_backslash_before_userinfo_does_not_reach_loopback(
    quick: Settings, page_server: RawServer, fake_dns: dict[str, str], allow: tuple[str, ...]
) -> None:
    # urllib.parse reads public.example; requests and urllib3 connect to 127.0.0.1.
    url = f"http://127.0.0.1:{page_server.port}\\@public.example/secret"
    outcome = fetch(quick.replace(allow_hosts=allow), url)
    assert outcome.error_class == "bad_url"
    assert page_server.hits() == 0


def test_backslash_trick_to_the_metadata_address_is_refused(
    quick: Settings, fake_dns: dict[str, str]
) -> None:
    outcome = fetch(quick.replace(allow_hosts=()), "http://169.254.169.254\\@news.example/")
    assert outcome.error_class == "bad_url"
    assert [a.error_class for a in outcome.attempts] == ["bad_url"]


def test_a_feed_link_carrying_the_backslash_trick_is_recorded_and_not_fetched(
    warehouse_dsn: str, settings: Settings, tmp_path: Path, fake_dns: dict[str, str]
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    links = ["{{base}}\\@public.example/_fault/page/1", "\\@public.example/_fault/page/2"]
    items = "".join(
        f"<item><title>t{i}</title><link>{link}</link></item>" for i, link in enumerate(links)
    )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'
    )
    run = pipeline.RunInfo.make(date(2022, 1, 22), "test")
    with serve(root) as site:
        source = FeedSource(name="tricky", url=site.url("/feed.xml"))
        registry = tmp_path / "feeds.yaml"
        registry.write_text(f'feeds:\n  - name: tricky\n    url: "{source.url}"\n')
        pipeline.prepare(warehouse_dsn, registry)
        counts = pipeline.fetch_feed(warehouse_dsn, settings, run, source)
        page_hits = [path for path in site._stats._hits if "_fault" in path]  # type: ignore[attr-defined]
    assert counts.failures == {"bad_url": 2}
    assert page_hits == []
    with psycopg.connect(warehouse_dsn) as conn:
        logged = conn.execute(
            "SELECT error_class FROM news.fetch_log WHERE target = 'page'"
        ).fetchall()
    assert logged == [("bad_url",), ("bad_url",)]


# -- address forms ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "error_class"),
    [
        ("2130706433", "bad_url"),
        ("0177.0.0.1", "bad_url"),
        ("0x7f.1", "bad_url"),
        ("0x7f.0.0.1", "bad_url"),
        ("127.1", "bad_url"),
        ("017700000001", "bad_url"),
        ("127.0.0.1.", "bad_url"),
        ("[::ffff:127.0.0.1]", "blocked_address"),
        ("[::ffff:7f00:1]", "blocked_address"),
        ("[::1]", "blocked_address"),
        ("0.0.0.0", "blocked_address"),
        ("127.0.0.2", "blocked_address"),
    ],
)
def test_other_spellings_of_loopback_are_refused(
    quick: Settings, page_server: RawServer, host: str, error_class: str
) -> None:
    # Only the address 127.0.0.1, written so, is allowed; none of these may reach its server.
    outcome = fetch(quick, f"http://{host}:{page_server.port}/")
    assert outcome.error_class == error_class
    assert page_server.hits() == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0", "[::ffff:127.0.0.1]"])
def test_with_an_empty_allow_list_loopback_is_blocked(
    quick: Settings, page_server: RawServer, host: str
) -> None:
    outcome = fetch(quick.replace(allow_hosts=()), f"http://{host}:{page_server.port}/")
    assert outcome.error_class == "blocked_address"
    assert "NEWSINGEST_ALLOW_HOSTS" in outcome.error
    assert page_server.hits() == 0


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1"])
def test_names_resolving_to_private_addresses_are_blocked(
    quick: Settings, page_server: RawServer, address: str
) -> None:
    outcome = fetch(
        quick.replace(allow_hosts=()),
        f"http://intranet.example:{page_server.port}/",
        resolver=lambda host, port: [address],
    )
    assert outcome.error_class == "blocked_address"
    assert address in outcome.error
    assert page_server.hits() == 0


# -- DNS rebinding (issue 11) -----------------------------------------------


class RebindingDNS:
    """First answer 127.0.0.1 (checked and allowed), every later one 127.0.0.2."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return ["127.0.0.1" if len(self.calls) == 1 else "127.0.0.2"]


@pytest.fixture
def twin_servers() -> Iterator[tuple[RawServer, RawServer]]:
    checked = RawServer(respond(PAGE), host="127.0.0.1")
    other = RawServer(
        respond(b"<html><body>internal</body></html>"), host="127.0.0.2", port=checked.port
    )
    with checked, other:
        yield checked, other


def test_the_connection_goes_to_the_address_that_was_checked(
    quick: Settings, twin_servers: tuple[RawServer, RawServer]
) -> None:
    checked, other = twin_servers
    dns = RebindingDNS()
    with Fetcher(quick, resolver=dns) as client:
        first = client.fetch(f"http://rebind.example:{checked.port}/a")
        second = client.fetch(f"http://rebind.example:{checked.port}/b")
    assert first.ok and first.response is not None and first.response.body == PAGE
    assert checked.requests[0].headers["host"] == f"rebind.example:{checked.port}"
    # The second answer is checked as well: refused before any connection.
    assert second.error_class == "blocked_address"
    assert other.hits() == 0
    assert dns.calls == ["rebind.example", "rebind.example"]


def test_robots_txt_and_the_page_are_each_checked(
    settings: Settings, twin_servers: tuple[RawServer, RawServer]
) -> None:
    checked, other = twin_servers
    dns = RebindingDNS()
    with Fetcher(settings.replace(retries=0), resolver=dns) as client:
        outcome = client.fetch(f"http://rebind.example:{checked.port}/a")
    assert [a.target for a in outcome.attempts] == ["robots", "page"]
    assert outcome.error_class == "blocked_address"
    assert checked.hits("/robots.txt") == 1
    assert other.hits() == 0


# -- redirects --------------------------------------------------------------


def _redirect_to(location: Callable[[int], str]) -> Callable[[socket.socket, Request], None]:
    """A handler redirecting /start to location(port) and serving PAGE everywhere else."""

    def handle(conn: socket.socket, request: Request) -> None:
        port = conn.getsockname()[1]
        if request.path == "/start":
            respond(b"", status="302 Found", headers={"Location": location(port)})(conn, request)
        else:
            respond(PAGE)(conn, request)

    return handle


@pytest.mark.parametrize(
    ("location", "error_class"),
    [
        (lambda port: "http://169.254.169.254/latest/meta-data/", "blocked_address"),
        (lambda port: "http://10.0.0.1/", "blocked_address"),
        (lambda port: f"http://[::1]:{port}/inside", "blocked_address"),
        (lambda port: f"http://0.0.0.0:{port}/inside", "blocked_address"),
        (lambda port: f"http://2130706433:{port}/inside", "bad_url"),
        (lambda port: f"http://0x7f.1:{port}/inside", "bad_url"),
        (lambda port: f"http://127.0.0.1:{port}\\@public.example/inside", "bad_url"),
        (lambda port: "/\\169.254.169.254/inside", "bad_url"),
        (lambda port: f"http://user:pw@127.0.0.1:{port}/inside", "bad_url"),
        (lambda port: "file:///etc/passwd", "bad_url"),
        (lambda port: f"gopher://127.0.0.1:{port}/_INFO", "bad_url"),
        (lambda port: "ftp://127.0.0.1/pub", "bad_url"),
        (lambda port: "dict://127.0.0.1:11211/stat", "bad_url"),
    ],
)
def test_redirects_to_private_addresses_and_other_schemes_are_refused(
    quick: Settings, location: Callable[[int], str], error_class: str
) -> None:
    with RawServer(_redirect_to(location)) as server:
        outcome = fetch(quick, server.base_url + "/start")
    assert outcome.error_class == error_class
    assert [a.error_class for a in outcome.attempts] == [error_class]  # refused, not retried
    assert server.hits("/inside") == 0


def test_an_allowed_redirect_is_followed(quick: Settings) -> None:
    with RawServer(_redirect_to(lambda port: f"http://127.0.0.1:{port}/inside")) as server:
        outcome = fetch(quick, server.base_url + "/start")
    assert outcome.ok and outcome.response is not None
    assert outcome.response.final_url.endswith("/inside")


# -- the total deadline (issue 11) ------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 20",  # the status line dripped
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Drip: ",  # a header dripped
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 999999\r\n\r\n<html>",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",  # a body without length
        b"HTTP/1.1 302 Found\r\nLocation: /next\r\nX-Drip: ",  # a redirect's headers
    ],
)
def test_a_drip_is_cut_at_the_total_deadline(quick: Settings, head: bytes) -> None:
    stop = threading.Event()
    # A byte every 0.25 s: each read returns well within read_timeout, so only the total stops it.
    with RawServer(drip(head, interval=0.25, stop=stop)) as server:
        started = time.monotonic()
        try:
            outcome = fetch(quick, server.base_url + "/")
        finally:
            stop.set()
        elapsed = time.monotonic() - started
    assert outcome.error_class == "timeout"
    assert "deadline" in outcome.error
    assert elapsed < 2.5


def test_a_tls_handshake_drip_is_cut_at_the_total_deadline(quick: Settings) -> None:
    stop = threading.Event()

    def handshake_drip(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)  # the ClientHello
            conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KB, to come
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.25)
                conn.sendall(b"\x02")

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        server = threading.Thread(target=lambda: handshake_drip(listener.accept()[0]), daemon=True)
        server.start()
        started = time.monotonic()
        try:
            outcome = fetch(quick, f"https://127.0.0.1:{port}/")
        finally:
            stop.set()
        elapsed = time.monotonic() - started
        server.join(timeout=5)
    assert outcome.error_class == "timeout", outcome.error
    assert elapsed < 2.5


def test_the_deadline_covers_every_redirect_hop(quick: Settings) -> None:
    def slow_hops(conn: socket.socket, request: Request) -> None:
        time.sleep(0.4)  # each hop answers within read_timeout; together they exceed the total
        hop = int(request.path.strip("/") or 0)
        respond(b"", status="302 Found", headers={"Location": f"/{hop + 1}"})(conn, request)

    with RawServer(slow_hops) as server:
        started = time.monotonic()
        outcome = fetch(quick.replace(max_redirects=10), server.base_url + "/0")
    assert outcome.error_class == "timeout"
    assert time.monotonic() - started < 2


# -- lying servers ----------------------------------------------------------


def test_content_length_longer_than_the_body_is_truncated(quick: Settings) -> None:
    def short(conn: socket.socket, request: Request) -> None:
        respond(PAGE, length=len(PAGE) + 500, headers={"Connection": "close"})(conn, request)
        conn.shutdown(socket.SHUT_RDWR)

    with RawServer(short) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.error_class == "truncated"
    assert "IncompleteRead" in outcome.error or "incomplete" in outcome.error.lower()
    assert outcome.attempts[-1].error_class == "truncated"


def test_a_chunked_body_without_its_last_chunk_is_truncated(quick: Settings) -> None:
    def cut(conn: socket.socket, request: Request) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.sendall(head.encode() + b"%x\r\n" % len(PAGE) + PAGE + b"\r\n")  # no "0" chunk
        conn.shutdown(socket.SHUT_RDWR)

    with RawServer(cut) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.error_class == "truncated"


def test_content_length_shorter_than_the_body_poisons_no_later_response(quick: Settings) -> None:
    forged = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\nforged"

    def lying(conn: socket.socket, request: Request) -> None:
        respond(PAGE + forged, length=len(PAGE))(conn, request)

    with RawServer(lying) as server, Fetcher(quick.replace(retries=1)) as client:
        first = client.fetch(server.base_url + "/1")
        second = client.fetch(server.base_url + "/2")
    assert first.ok and first.response is not None and first.response.body == PAGE
    # The bytes left over are never read as the answer to the next request.
    assert second.response is None or second.response.body == PAGE


@pytest.mark.parametrize("length", ["-1", "abc", "10, 20", "99999999999999999999"])
def test_unreadable_content_length_is_a_clean_outcome(quick: Settings, length: str) -> None:
    def handle(conn: socket.socket, request: Request) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {length}\r\n"
        conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + PAGE)
        conn.shutdown(socket.SHUT_RDWR)

    with RawServer(handle) as server, warnings.catch_warnings():
        # urllib3 refuses "10, 20" while building its response and leaves http.client's
        # response holding the socket; the garbage collector closes it (a ResourceWarning).
        warnings.simplefilter("ignore", ResourceWarning)
        outcome = fetch(quick, server.base_url + "/")
        gc.collect()
    assert outcome.ok or outcome.error_class in {"connection", "too_large"}
    assert outcome.attempts


# -- content type by bytes (issue 11) ---------------------------------------

TEXT = b"Quarterly report. " * 400
BINARIES = {
    "PDF": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Length 5000 >> stream\n" + TEXT,
    "PDF after a newline": b"\r\n%PDF-1.7\n" + TEXT,
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + TEXT,
    "gzip": gzip.compress(TEXT),
    "PNG": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + TEXT,
    "JPEG": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + TEXT,
    "GIF": b"GIF89a\x01\x00\x01\x00" + TEXT,
    "RIFF WEBP": b"RIFF\x24\x00\x00\x00WEBPVP8 " + TEXT,
    "ISO media": b"\x00\x00\x00\x18ftypmp42" + TEXT,
    "zstd": b"\x28\xb5\x2f\xfd" + TEXT,
    "Ogg": b"OggS\x00\x02" + TEXT,
    "ELF": b"\x7fELF\x02\x01\x01\x00" + TEXT,
    "OLE": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + TEXT,
    "WOFF2": b"wOF2\x00\x01\x00\x00" + TEXT,
}


@pytest.mark.parametrize("name", list(BINARIES))
def test_binary_formats_served_as_html_are_refused(quick: Settings, name: str) -> None:
    with RawServer(respond(BINARIES[name])) as server:
        outcome = fetch(quick, server.base_url + "/page.html")
    assert outcome.error_class == "bad_content_type"
    assert name.split(maxsplit=1)[0].lower() in outcome.error.lower()


def test_a_pdf_served_as_a_feed_is_refused(quick: Settings) -> None:
    handler = respond(BINARIES["PDF"], content_type="application/rss+xml")
    with RawServer(handler) as server, Fetcher(quick) as client:
        outcome = client.fetch(server.base_url + "/feed.xml", target="feed")
    assert outcome.error_class == "bad_content_type"
    assert "PDF" in outcome.error


@pytest.mark.parametrize(
    "body",
    [PAGE, b"\xef\xbb\xbf" + PAGE, b"\n\n  " + PAGE, b"GIF wins word of the year <html></html>"],
)
def test_text_pages_are_not_taken_for_binary(quick: Settings, body: bytes) -> None:
    with RawServer(respond(body)) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.ok


# -- compression bombs in every encoding the fetcher accepts -----------------

BOMB_BYTES = 200_000_000


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    zeros = b"\0" * BOMB_BYTES
    return {
        "gzip": gzip.compress(zeros, 9),
        "deflate": zlib.compress(zeros, 9),
        "deflate-raw": _deflate_raw(zeros),
        "br": brotli.compress(zeros, quality=5),
        "gzip, gzip": gzip.compress(gzip.compress(zeros, 9), 9),
    }


def test_the_fetcher_accepts_gzip_deflate_and_brotli(quick: Settings) -> None:
    with RawServer(respond(PAGE)) as server:
        fetch(quick, server.base_url + "/")
    accepted = {e.strip() for e in server.requests[0].headers["accept-encoding"].split(",")}
    assert accepted == {"gzip", "deflate", "br"}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br", "gzip, gzip"])
def test_compression_bombs_stop_at_the_cap_in_bounded_memory(
    quick: Settings, bombs: dict[str, bytes], encoding: str
) -> None:
    header = "deflate" if encoding == "deflate-raw" else encoding
    handler = respond(bombs[encoding], headers={"Content-Encoding": header})
    settings = quick.replace(max_page_bytes=1_000_000, read_timeout=5, total_timeout=10)
    with RawServer(handler) as server:
        tracemalloc.start()
        try:
            outcome = fetch(settings, server.base_url + "/")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert outcome.error_class == "too_large"
    assert outcome.attempts[-1].bytes <= settings.max_page_bytes + 2 * 65_536
    assert peak < 40_000_000, f"{encoding} bomb held {peak} bytes"


def test_a_brotli_page_is_decoded(quick: Settings) -> None:
    with RawServer(respond(brotli.compress(PAGE), headers={"Content-Encoding": "br"})) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.ok and outcome.response is not None
    assert outcome.response.body == PAGE


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_broken_compressed_bodies_are_decode_errors(quick: Settings, encoding: str) -> None:
    # A valid header and then a block of the reserved type 3 (gzip, zlib); bytes no brotli
    # stream starts with.
    body = {
        "gzip": gzip.compress(PAGE)[:10] + b"\x07" + b"\x00" * 40,
        "deflate": b"\x78\x9c\x07" + b"\x00" * 40,
        "br": b"\xff" * 40,
    }[encoding]
    with RawServer(respond(body, headers={"Content-Encoding": encoding})) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.error_class == "decode_error"


# A page long enough that its compressed form arrives in several reads and decodes in
# several steps (urllib3 decodes at most a chunk at a time).
LONG_PAGE = (
    b"<html><body>"
    + b"".join(
        b"<p>Paragraph %d of the council's report on the harbour.</p>" % n for n in range(6000)
    )
    + b"</body></html>"
)
ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": _deflate_raw,
    "br": brotli.compress,
    "gzip, gzip": lambda data: gzip.compress(gzip.compress(data)),
    "gzip, br": lambda data: brotli.compress(gzip.compress(data)),
}


def _framed(body: bytes, encoding: str, framing: str) -> Callable[[socket.socket, Request], None]:
    """A handler sending body with Content-Encoding, then closing the connection.

    framing: "length" (a Content-Length of exactly these bytes), "close" (none: the
    end of the connection ends the body) or "chunked" (complete chunked framing).
    """
    header = "deflate" if encoding == "deflate-raw" else encoding

    def handle(conn: socket.socket, request: Request) -> None:
        lines = ["HTTP/1.1 200 OK", "Content-Type: text/html", f"Content-Encoding: {header}"]
        payload = body
        if framing == "length":
            lines.append(f"Content-Length: {len(body)}")
        elif framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            payload = (
                b"".join(
                    b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
                    for i in range(0, len(body), 4096)
                )
                + b"0\r\n\r\n"
            )
        lines.append("Connection: close")
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        conn.shutdown(socket.SHUT_RDWR)

    return handle


@pytest.mark.parametrize("framing", ["length", "close", "chunked"])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_complete_compressed_pages_are_accepted(
    quick: Settings, encoding: str, framing: str
) -> None:
    outcome = _fetch_framed(quick, ENCODINGS[encoding](LONG_PAGE), encoding, framing)
    assert outcome.ok and outcome.response is not None, outcome.error
    assert outcome.response.body == LONG_PAGE


def test_bytes_after_a_whole_gzip_member_are_ignored_as_before(quick: Settings) -> None:
    # urllib3 drops what does not decode after a complete member, as other gzip clients do.
    outcome = _fetch_framed(quick, gzip.compress(LONG_PAGE) + b"\x00junk\r\n", "gzip", "length")
    assert outcome.ok and outcome.response is not None
    assert outcome.response.body == LONG_PAGE


def test_a_gzip_body_of_several_members_is_accepted_whole(quick: Settings) -> None:
    body = gzip.compress(LONG_PAGE[:1000]) + gzip.compress(LONG_PAGE[1000:])
    outcome = _fetch_framed(quick, body, "gzip", "length")
    assert outcome.ok and outcome.response is not None
    assert outcome.response.body == LONG_PAGE


@pytest.mark.parametrize("framing", ["length", "close", "chunked"])
@pytest.mark.parametrize("cut", ["half", "trailer"])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_compressed_body_cut_off_mid_stream_is_truncated(
    quick: Settings, encoding: str, cut: str, framing: str
) -> None:
    # The HTTP framing is consistent (or absent): only the compressed stream shows the cut.
    # zlib and brotli hand out what they decoded so far without an error.
    whole = ENCODINGS[encoding](LONG_PAGE)
    body = whole[: len(whole) // 2] if cut == "half" else whole[:-4]
    outcome = _fetch_framed(quick, body, encoding, framing)
    assert outcome.error_class == "truncated", (outcome.error_class, outcome.error)
    assert outcome.response is None
    assert ("deflate" if encoding == "deflate-raw" else encoding) in outcome.error


@pytest.mark.parametrize("framing", ["length", "close", "chunked"])
def test_a_gzip_body_cut_off_in_its_second_member_is_truncated(
    quick: Settings, framing: str
) -> None:
    second = gzip.compress(LONG_PAGE)
    outcome = _fetch_framed(
        quick, gzip.compress(PAGE) + second[: len(second) // 2], "gzip", framing
    )
    assert outcome.error_class == "truncated"


def _fetch_framed(settings: Settings, body: bytes, encoding: str, framing: str) -> FetchOutcome:
    with RawServer(_framed(body, encoding, framing)) as server:
        return fetch(settings.replace(read_timeout=5, total_timeout=10), server.base_url + "/")


def test_a_truncated_page_or_feed_is_recorded_and_nothing_is_staged_from_it(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    cut_page = gzip.compress(PAGE)[:-10]
    whole_feed = gzip.compress(_rss(["/ok.html", "/cut.html"]))

    def handle(conn: socket.socket, request: Request) -> None:
        gzipped = {"Content-Encoding": "gzip"}
        if request.path in {"/feed.xml", "/cut-feed.xml"}:
            body = whole_feed if request.path == "/feed.xml" else whole_feed[: len(whole_feed) // 2]
            respond(body, content_type="application/rss+xml", headers=gzipped)(conn, request)
        elif request.path in {"/ok.html", "/cut.html"}:
            body = gzip.compress(PAGE) if request.path == "/ok.html" else cut_page
            respond(body, headers=gzipped)(conn, request)
        else:
            respond(b"not here", status="404 Not Found")(conn, request)

    with RawServer(handle) as server:
        registry = tmp_path / "feeds.yaml"
        registry.write_text(
            f'feeds:\n  - name: whole\n    url: "{server.base_url}/feed.xml"\n'
            f'  - name: cut\n    url: "{server.base_url}/cut-feed.xml"\n'
        )
        whole, cut_feed = pipeline.prepare(warehouse_dsn, registry)
        run = pipeline.RunInfo.make(date(2022, 1, 25), "test")
        counts = pipeline.fetch_feed(warehouse_dsn, settings, run, whole)
        cut_counts = pipeline.fetch_feed(warehouse_dsn, settings, run, cut_feed)
    assert counts.failures == {"truncated": 1}
    assert counts.fetched == 1
    assert cut_counts.feed_failed and cut_counts.failures == {"truncated": 1}
    with psycopg.connect(warehouse_dsn) as conn:
        staged = conn.execute("SELECT requested_url FROM news.raw_pages").fetchall()
        logged = conn.execute(
            "SELECT url, error_class FROM news.fetch_log WHERE target <> 'robots' ORDER BY url"
        ).fetchall()
        state = conn.execute(
            "SELECT last_error_class FROM news.feed_state WHERE feed_name = 'cut'"
        ).fetchone()
    assert staged == [(f"{server.base_url}/ok.html",)]
    # A cut is retried (the next answer may be whole), and each attempt is recorded.
    attempts = settings.retries + 1
    base = server.base_url
    assert logged == [
        *[(f"{base}/cut-feed.xml", "truncated")] * attempts,
        *[(f"{base}/cut.html", "truncated")] * attempts,
        (f"{base}/feed.xml", None),
        (f"{base}/ok.html", None),
    ]
    assert state == ("truncated",)


def test_a_chain_of_many_encodings_is_refused(quick: Settings) -> None:
    body = PAGE
    for _ in range(6):
        body = gzip.compress(body)
    handler = respond(body, headers={"Content-Encoding": ", ".join(["gzip"] * 6)})
    with RawServer(handler) as server:
        outcome = fetch(quick, server.base_url + "/")
    assert outcome.error_class in {"decode_error", "connection"}
    assert not outcome.ok


# -- credentials in URLs (issue 11) -------------------------------------------

PASSWORD = "s3cr3t-pw"


def _site(routes: dict[str, bytes | str]) -> Callable[[socket.socket, Request], None]:
    """A handler serving an RSS feed, pages, and redirects (a str value: its Location)."""

    def handle(conn: socket.socket, request: Request) -> None:
        answer = routes.get(request.path)
        if isinstance(answer, str):
            head = f"HTTP/1.1 302 Found\r\nLocation: {answer}\r\nContent-Length: 0\r\n\r\n"
            conn.sendall(head.encode())
        elif answer is None:
            respond(b"not here", status="404 Not Found")(conn, request)
        else:
            kind = "application/rss+xml" if request.path.endswith(".xml") else "text/html"
            respond(answer, content_type=kind)(conn, request)

    return handle


def _rss(links: Sequence[str]) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><link>{link}</link></item>" for i, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'
    ).encode()


def _rows_holding(dsn: str, text: str) -> dict[str, int]:
    """Rows of every table of schema news whose text form contains text, by table."""
    found = {}
    with psycopg.connect(dsn) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'news' AND table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            query = f"SELECT count(*) FROM news.{table} AS r WHERE r::text LIKE %s"
            row = conn.execute(query, (f"%{text}%",)).fetchone()
            if row and row[0]:
                found[table] = row[0]
    return found


def test_a_password_in_a_link_or_a_redirect_is_written_nowhere(
    warehouse_dsn: str, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    routes: dict[str, bytes | str] = {"/ok.html": PAGE, "/other.html": PAGE}
    with RawServer(_site(routes)) as server:
        netloc = f"127.0.0.1:{server.port}"
        secret = f"http://reader:{PASSWORD}@{netloc}"
        routes["/moved.html"] = f"{secret}/ok.html"
        routes["/feed.xml"] = _rss(
            [f"{secret}/other.html", f"http://{netloc}/moved.html", f"http://{netloc}/ok.html"]
        )
        registry = tmp_path / "feeds.yaml"
        registry.write_text(f'feeds:\n  - name: creds\n    url: "http://{netloc}/feed.xml"\n')
        [source] = pipeline.prepare(warehouse_dsn, registry)
        run = pipeline.RunInfo.make(date(2022, 1, 23), "test")
        counts = pipeline.fetch_feed(warehouse_dsn, settings, run, source)
    assert counts.failures == {"bad_url": 2}
    assert counts.fetched == 1
    # The request was refused, not sent: the fetcher never passes credentials on.
    assert all("authorization" not in r.headers for r in server.requests)
    with psycopg.connect(warehouse_dsn) as conn:
        logged = conn.execute(
            "SELECT url, final_url, error FROM news.fetch_log WHERE error_class = 'bad_url'"
            " ORDER BY attempt_id"
        ).fetchall()
    assert len(logged) == 2
    assert all("user info" in error for _, _, error in logged)
    assert _rows_holding(warehouse_dsn, PASSWORD) == {}
    assert [r.getMessage() for r in caplog.records if PASSWORD in r.getMessage()] == []


@pytest.mark.parametrize("scheme", ["https", "ftp"])
def test_a_password_in_a_registry_url_is_refused_without_being_shown(
    tmp_path: Path, scheme: str
) -> None:
    registry = tmp_path / "feeds.yaml"
    url = f"{scheme}://reader:{PASSWORD}@feeds.example/x.xml"
    registry.write_text(f'feeds:\n  - name: creds\n    url: "{url}"\n')
    with pytest.raises(RegistryError, match="feed 'creds'") as refused:
        load_registry(registry)
    assert PASSWORD not in str(refused.value)


def test_feed_links_with_unreadable_ports_are_bad_urls_and_the_rest_is_fetched(
    warehouse_dsn: str, settings: Settings, tmp_path: Path
) -> None:
    # canonical_url and host_of raised ValueError on these, losing the whole feed.
    routes: dict[str, bytes | str] = {"/ok.html": PAGE}
    with RawServer(_site(routes)) as server:
        netloc = f"127.0.0.1:{server.port}"
        routes["/feed.xml"] = _rss(
            ["http://127.0.0.1:99999/a", "http://127.0.0.1:x/b", f"http://{netloc}/ok.html"]
        )
        registry = tmp_path / "feeds.yaml"
        registry.write_text(f'feeds:\n  - name: ports\n    url: "http://{netloc}/feed.xml"\n')
        [source] = pipeline.prepare(warehouse_dsn, registry)
        run = pipeline.RunInfo.make(date(2022, 1, 24), "test")
        counts = pipeline.fetch_feed(warehouse_dsn, settings, run, source)
    assert counts.failures == {"bad_url": 2}
    assert counts.fetched == 1
    assert server.hits("/ok.html") == 1


def test_a_truncated_robots_txt_allows_nothing(settings: Settings) -> None:
    # Half of robots.txt may lack the very rule that forbids the page (RFC 9309 2.3.1.4:
    # an unreachable robots.txt means full disallow).
    robots = gzip.compress(b"User-agent: *\nAllow: /\n" * 200 + b"Disallow: /private/\n")

    def handle(conn: socket.socket, request: Request) -> None:
        if request.path == "/robots.txt":
            headers = {"Content-Encoding": "gzip"}
            respond(robots[: len(robots) // 2], content_type="text/plain", headers=headers)(
                conn, request
            )
        else:
            respond(PAGE)(conn, request)

    with RawServer(handle) as server, Fetcher(settings.replace(retries=0)) as client:
        outcome = client.fetch(server.base_url + "/private/page.html")
    assert outcome.error_class == "truncated"
    assert server.hits("/private/") == 0
