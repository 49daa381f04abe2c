"""Local HTTP server for the bundled demo news sites, with fault routes for fetcher tests."""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import logging
import random
import signal
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOGGER = logging.getLogger(__name__)

SITE_ROOT = Path(__file__).resolve().parent / "site"
BASE_PLACEHOLDER = b"{{base}}"
FAULT_PREFIX = "/_fault/"

# Per-connection socket timeout: an idle keep-alive client cannot hold a thread forever.
SOCKET_TIMEOUT = 30.0
# How long stop() waits for handler threads after waking them; they are daemons anyway.
SHUTDOWN_GRACE = 2.0
# /_fault/hang gives up after this long even if the server keeps running.
HANG_LIMIT = 300.0
DRIP_INTERVAL = 0.5
BIG_CHUNK = 64 * 1024
MAX_BIG_MB = 2048.0
MAX_FEED_ITEMS = 200_000
BOMB_INFLATED_SIZE = 200 * 1024 * 1024
BINARY_SEED = 20220121
BINARY_SIZE = 64 * 1024
# Prefixes longer than this are not tracked for max_concurrency, to bound memory.
MAX_TRACKED_PREFIX = 256
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
FEED_EPOCH = datetime(2022, 1, 22, 12, 0, tzinfo=UTC)

STATIC_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
XML_SUFFIXES = frozenset({".xml", ".rdf", ".rss", ".atom"})
# Only these get {{base}} substituted; images are served byte for byte.
TEXT_TYPES = frozenset(
    {
        "text/html",
        "text/plain",
        "text/css",
        "text/javascript",
        "image/svg+xml",
        "application/json",
        "application/feed+json",
    }
)


class _Stats:
    """Thread-safe request counters shared by the handler threads of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()
        self._flaky: Counter[str] = Counter()

    def begin(self, path: str) -> None:
        """Count a request and mark it in flight under every prefix of its path."""
        with self._lock:
            self._hits[path] += 1
            for prefix in _prefixes(path):
                current = self._in_flight[prefix] + 1
                self._in_flight[prefix] = current
                self._peak[prefix] = max(self._peak[prefix], current)

    def end(self, path: str) -> None:
        """Mark a request finished."""
        with self._lock:
            for prefix in _prefixes(path):
                remaining = self._in_flight[prefix] - 1
                if remaining > 0:
                    self._in_flight[prefix] = remaining
                else:
                    del self._in_flight[prefix]

    def hits(self, path: str) -> int:
        """Return how many requests were made for exactly this path."""
        with self._lock:
            return self._hits[path]

    def peak(self, prefix: str) -> int:
        """Return the most requests seen in flight at once under a path prefix."""
        with self._lock:
            return self._peak[prefix]

    def flaky_attempt(self, key: str) -> int:
        """Return the 1-based attempt number for a flaky key."""
        with self._lock:
            self._flaky[key] += 1
            return self._flaky[key]

    def reset(self) -> None:
        """Forget hits, peaks and flaky attempts; requests still in flight stay counted."""
        with self._lock:
            self._hits.clear()
            self._flaky.clear()
            # Requests running now still count towards the next peak.
            self._peak = Counter(self._in_flight)


def _prefixes(path: str) -> list[str]:
    """Return every string prefix of a path (bounded), the empty one included."""
    limit = min(len(path), MAX_TRACKED_PREFIX)
    prefixes = [path[:i] for i in range(limit + 1)]
    if len(path) > limit:
        prefixes.append(path)
    return prefixes


@dataclass
class _State:
    """What the handler threads share: the site, the address and the counters."""

    root: Path
    latency: float
    base_url: str = ""
    stats: _Stats = field(default_factory=_Stats)
    stopping: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class DemoServer:
    """A running demo server: its address and its request statistics."""

    base_url: str
    root: Path
    _stats: _Stats = field(repr=False, compare=False)

    def url(self, path: str) -> str:
        """Return the absolute URL of a server path such as '/daily-courier/feed.xml'."""
        return self.base_url + path

    def hits(self, path: str) -> int:
        """Return the number of requests made for a path (any query string is ignored)."""
        return self._stats.hits(urlsplit(path).path)

    def max_concurrency(self, prefix: str = "") -> int:
        """Return the most requests seen in flight at once for paths starting with prefix."""
        return self._stats.peak(prefix)

    def reset_stats(self) -> None:
        """Reset hit counters, concurrency peaks and flaky-route attempt counters."""
        self._stats.reset()


class _DemoHTTPServer(ThreadingHTTPServer):
    """A threading server that can wake and bound its handler threads on shutdown."""

    daemon_threads = True
    # server_close() would join handler threads without a timeout; _stop() bounds the wait.
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: list[threading.Thread] = []
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a daemon thread for the connection and remember it for shutdown."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"newsingest-demo-handler-{self.server_address[1]}",
            daemon=True,
        )
        with self._conn_lock:
            self._connections.add(request)
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget a finished connection, then close it."""
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler errors at debug level: clients hanging up are expected here."""
        LOGGER.debug("error while serving %s", client_address, exc_info=True)

    def wake_all(self) -> None:
        """Shut down every open connection so blocked reads and writes return."""
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        """Wait up to timeout seconds in total for the handler threads to finish."""
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    """Serves static demo files and the /_fault/ routes."""

    server: _DemoHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "newsingest-demo/1.0"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    # Headers and body leave in separate writes; with Nagle's algorithm on, the
    # client's delayed ACK then stalls every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Send the access log to the module logger at debug level instead of stderr."""
        LOGGER.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        """Serve a GET request."""
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        """Serve a HEAD request: the GET headers without a body."""
        self._dispatch(head=True)

    # -- plumbing ------------------------------------------------------------------------

    @property
    def _state(self) -> _State:
        return self.server.state

    def _dispatch(self, *, head: bool) -> None:
        """Count the request, apply the latency, and route it."""
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        stats = self._state.stats
        stats.begin(path)
        try:
            if self._state.latency > 0 and self._state.stopping.wait(self._state.latency):
                self.close_connection = True
                return
            if path.startswith(FAULT_PREFIX):
                self._fault(path[len(FAULT_PREFIX) :], query, head=head)
            else:
                self._static(path, head=head)
        except (ConnectionError, TimeoutError):
            # The client went away or the server is stopping; nothing to answer.
            self.close_connection = True
        finally:
            stats.end(path)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        head: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with a Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_text(self, status: int, text: str, *, head: bool, **headers: str) -> None:
        """Send a short plain-text response."""
        body = text.encode("utf-8")
        self._send(status, body, "text/plain; charset=utf-8", head=head, headers=headers)

    # -- static files ---------------------------------------------------------------------

    def _static(self, path: str, *, head: bool) -> None:
        """Serve a file under the site root, with {{base}} substituted and validators."""
        file = _resolve(self._state.root, path)
        if file is None:
            self._send_text(HTTPStatus.NOT_FOUND, f"not found: {path}\n", head=head)
            return
        data = file.read_bytes()
        content_type = _content_type(file, data)
        if content_type.split(";")[0] in TEXT_TYPES or file.suffix in XML_SUFFIXES:
            data = data.replace(BASE_PLACEHOLDER, self._state.base_url.encode("ascii"))
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        mtime = int(file.stat().st_mtime)
        validators = {
            "ETag": etag,
            "Last-Modified": email.utils.formatdate(mtime, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if _not_modified(self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"),
                         etag, mtime):  # fmt: skip
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self._send(HTTPStatus.OK, data, content_type, head=head, headers=validators)

    # -- fault routes ---------------------------------------------------------------------

    def _fault(self, route: str, query: dict[str, str], *, head: bool) -> None:
        """Route /_fault/<name>/... to its handler."""
        name, _, rest = route.partition("/")
        handlers = {
            "status": self._fault_status,
            "flaky": self._fault_flaky,
            "hang": self._fault_hang,
            "drip": self._fault_drip,
            "big": self._fault_big,
            "gzipbomb": self._fault_gzipbomb,
            "binary": self._fault_binary,
            "charset": self._fault_charset,
            "charset-meta": self._fault_charset_meta,
            "redirect-loop": self._fault_redirect_loop,
            "redirect": self._fault_redirect,
            "xml-bomb": self._fault_xml_bomb,
            "bigfeed": self._fault_bigfeed,
            "page": self._fault_page,
            "dupguids": self._fault_dupguids,
        }
        handler = handlers.get(name)
        if handler is None:
            self._send_text(HTTPStatus.NOT_FOUND, f"no fault route {name!r}\n", head=head)
            return
        try:
            handler(rest, query, head)
        except ValueError as exc:
            self._send_text(HTTPStatus.BAD_REQUEST, f"bad fault request: {exc}\n", head=head)

    def _fault_status(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Answer with the status code named in the path, plus Retry-After if asked."""
        code = _int_param(rest, "status code", low=200, high=599)
        headers: dict[str, str] = {}
        if "retry_after" in query:
            headers["Retry-After"] = str(_int_param(query["retry_after"], "retry_after", low=0))
        if code in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
            # These statuses must not carry a body or a Content-Length.
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self._send_text(code, f"{code} {_phrase(code)}\n", head=head, **headers)

    def _fault_flaky(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Fail `fail` times per key with `code`, then serve a 200 page."""
        if not rest:
            raise ValueError("flaky needs a key: /_fault/flaky/<key>")
        failures = _int_param(query.get("fail", "1"), "fail", low=0)
        code = _int_param(query.get("code", "500"), "code", low=400, high=599)
        attempt = self._state.stats.flaky_attempt(rest)
        if attempt <= failures:
            headers: dict[str, str] = {}
            if "retry_after" in query:
                headers["Retry-After"] = str(_int_param(query["retry_after"], "retry_after", low=0))
            text = f"{code} {_phrase(code)}: attempt {attempt} of {failures} failing\n"
            self._send_text(code, text, head=head, **headers)
            return
        body = _html_page(
            f"Recovered: {rest}",
            [f"The flaky route {rest!r} answered after {failures} failed attempts."],
        )
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8", head=head)

    def _fault_hang(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Accept the request and never answer, until the server stops."""
        self._state.stopping.wait(HANG_LIMIT)
        self.close_connection = True

    def _fault_drip(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send headers at once, then one body byte every DRIP_INTERVAL seconds."""
        seconds = _float_param(query.get("seconds", "5"), "seconds", low=0.0, high=HANG_LIMIT)
        count = max(1, round(seconds / DRIP_INTERVAL))
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        if head:
            return
        self.wfile.flush()
        for _ in range(count):
            if self._state.stopping.wait(DRIP_INTERVAL):
                self.close_connection = True
                return
            self.wfile.write(b".")
            self.wfile.flush()

    def _fault_big(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Stream `mb` megabytes of HTML, with or without a Content-Length."""
        megabytes = _float_param(query.get("mb", "1"), "mb", low=0.0, high=MAX_BIG_MB)
        size = int(megabytes * 1024 * 1024)
        no_length = query.get("nolength", "0") not in ("", "0", "false")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if no_length:
            # The body ends when the connection closes.
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if head:
            return
        for chunk in _big_html(size):
            if self._state.stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(chunk)

    def _fault_gzipbomb(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send a small gzip body that inflates to BOMB_INFLATED_SIZE bytes of zeros."""
        body = _gzip_bomb()
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8", head=head, headers=headers)

    def _fault_binary(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send seeded random bytes labelled as HTML."""
        body = random.Random(BINARY_SEED).randbytes(BINARY_SIZE)  # noqa: S311 (test data)
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8", head=head)

    def _fault_charset(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send a Latin-1 page whose header wrongly claims UTF-8."""
        body = _html_page(
            "Zürich, café, über",
            [
                "Zürich, café, über: the café on the Bahnhofstrasse serves crème brûlée.",
                "Grüße aus Zürich. Le café est ouvert à midi.",
            ],
            charset=None,
        ).decode("utf-8")
        self._send(HTTPStatus.OK, body.encode("latin-1"), "text/html; charset=utf-8", head=head)

    def _fault_charset_meta(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send a cp1252 page declared only by <meta charset="windows-1252">."""
        body = _html_page(
            "Café prices \N{EN DASH} “smart quotes”",
            [
                "The café raised its prices: a croissant now costs €2.40 \N{EN DASH} up 20%.",
                "“We had no choice,” said the owner, Zoë Müller. Naïve? Perhaps.",
            ],
            charset="windows-1252",
        ).decode("utf-8")
        self._send(HTTPStatus.OK, body.encode("cp1252"), "text/html", head=head)

    def _fault_redirect_loop(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Redirect to itself forever."""
        location = self._state.base_url + FAULT_PREFIX + "redirect-loop"
        self._send_text(HTTPStatus.FOUND, f"see {location}\n", head=head, Location=location)

    def _fault_redirect(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Redirect to the `to` URL with `code` (default 302)."""
        target = query.get("to")
        if not target:
            raise ValueError("redirect needs ?to=URL")
        code = _int_param(query.get("code", "302"), "code", low=300, high=399)
        if code not in REDIRECT_CODES:
            raise ValueError(f"code must be one of {sorted(REDIRECT_CODES)}")
        self._send_text(code, f"see {target}\n", head=head, Location=target)

    def _fault_xml_bomb(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send an RSS feed whose DTD expands to a billion 'lol's (billion laughs)."""
        body = _xml_bomb(self._state.base_url)
        self._send(HTTPStatus.OK, body, "application/rss+xml; charset=utf-8", head=head)

    def _fault_bigfeed(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send an RSS 2.0 feed with n items linking /_fault/page/<i>."""
        count = _int_param(query.get("n", "10000"), "n", low=0, high=MAX_FEED_ITEMS)
        body = _rss(self._state.base_url, "Big feed", [
            (f"Bulk item {i}", f"/_fault/page/{i}", f"/_fault/page/{i}", i)
            for i in range(count)
        ])  # fmt: skip
        self._send(HTTPStatus.OK, body, "application/rss+xml; charset=utf-8", head=head)

    def _fault_page(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send a small, valid, deterministic article page number <i>."""
        if not rest.isdigit():
            self._send_text(HTTPStatus.NOT_FOUND, "page numbers are integers\n", head=head)
            return
        body = _bulk_article(self._state.base_url, int(rest))
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8", head=head)

    def _fault_dupguids(self, rest: str, query: dict[str, str], head: bool) -> None:
        """Send an RSS feed whose items all repeat one guid and link."""
        body = _rss(self._state.base_url, "Duplicate guids", [
            (f"Duplicate item {i}", "/_fault/page/1", "/_fault/page/1", i) for i in range(5)
        ])  # fmt: skip
        self._send(HTTPStatus.OK, body, "application/rss+xml; charset=utf-8", head=head)


# -- helpers ---------------------------------------------------------------------------------


def _resolve(root: Path, path: str) -> Path | None:
    """Map a URL path to a file under root, or None (never outside root)."""
    relative = path.lstrip("/")
    if not relative or relative.endswith("/"):
        relative += "index.html"
    try:
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None
    except (OSError, ValueError):
        # NUL bytes or over-long names in the URL: treat as not found.
        return None


def _content_type(file: Path, data: bytes) -> str:
    """Return the Content-Type for a static file, sniffing feeds by their root element."""
    suffix = file.suffix.lower()
    if suffix in XML_SUFFIXES:
        head = data[:2048]
        if b"<rss" in head:
            kind = "application/rss+xml"
        elif b"<feed" in head:
            kind = "application/atom+xml"
        elif b"<rdf:RDF" in head:
            kind = "application/rdf+xml"
        else:
            kind = "application/xml"
        return kind + "; charset=utf-8"
    if suffix == ".json":
        is_feed = b"jsonfeed.org/version/" in data[:1024]
        return ("application/feed+json" if is_feed else "application/json") + "; charset=utf-8"
    kind = STATIC_TYPES.get(suffix, "application/octet-stream")
    return kind + "; charset=utf-8" if kind.startswith("text/") or kind.endswith("+xml") else kind


def _not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str,
                  mtime: int) -> bool:  # fmt: skip
    """Apply RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    if if_none_match is not None:
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)
    if not if_modified_since:
        return False
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return mtime <= since.timestamp()


def _int_param(raw: str, name: str, *, low: int, high: int | None = None) -> int:
    """Parse a bounded integer parameter or raise ValueError naming it."""
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float_param(raw: str, name: str, *, low: float, high: float) -> float:
    """Parse a bounded number parameter or raise ValueError naming it."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _phrase(code: int) -> str:
    """Return the reason phrase for a status code, or '' for unassigned codes."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _html_page(title: str, paragraphs: list[str], *, charset: str | None = "utf-8") -> bytes:
    """Build a small HTML page (UTF-8 bytes; callers re-encode for charset tests)."""
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head>{meta}<title>{title}</title></head>\n'
        f"<body><article><h1>{title}</h1>\n{body}</article></body></html>\n"
    ).encode()


def _big_html(size: int) -> Iterator[bytes]:
    """Yield exactly size bytes of HTML in BIG_CHUNK pieces."""
    head = b"<!DOCTYPE html>\n<html><head><title>Big page</title></head><body>\n"
    tail = b"</body></html>\n"
    line = b"<p>" + b"All work and no play makes a very large page. " * 3 + b"</p>\n"
    filler = line * (BIG_CHUNK // len(line) + 1)
    if size < len(head) + len(tail):
        yield (head + tail)[:size]
        return
    yield head
    remaining = size - len(head) - len(tail)
    while remaining > 0:
        piece = filler[: min(remaining, BIG_CHUNK)]
        remaining -= len(piece)
        yield piece
    yield tail


_BOMB_LOCK = threading.Lock()
_BOMB: list[bytes] = []


def _gzip_bomb() -> bytes:
    """Return (computing once per process) gzip bytes of BOMB_INFLATED_SIZE zeros."""
    with _BOMB_LOCK:
        if not _BOMB:
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
            zeros = bytes(1024 * 1024)
            parts = [compressor.compress(zeros) for _ in range(BOMB_INFLATED_SIZE // len(zeros))]
            parts.append(compressor.flush())
            _BOMB.append(b"".join(parts))
        return _BOMB[0]


def _xml_bomb(base_url: str) -> bytes:
    """Build a billion-laughs RSS document (ten levels of ten-fold entity expansion)."""
    entities = ['  <!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'  <!ENTITY lol{level} "' + f"&lol{level - 1};" * 10 + '">')
    dtd = "\n".join(entities)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"<!DOCTYPE rss [\n{dtd}\n]>\n"
        '<rss version="2.0"><channel><title>&lol9;</title>'
        f"<link>{base_url}/</link><description>Billion laughs</description>"
        f"<item><title>&lol9;</title><link>{base_url}/_fault/page/1</link></item>"
        "</channel></rss>\n"
    ).encode()


def _rss(base_url: str, title: str, items: list[tuple[str, str, str, int]]) -> bytes:
    """Build an RSS 2.0 feed from (title, link path, guid path, minutes before epoch)."""
    rows = []
    for item_title, link, guid, minutes in items:
        date = email.utils.format_datetime(FEED_EPOCH - timedelta(minutes=minutes))
        rows.append(
            f"<item><title>{item_title}</title><link>{base_url}{link}</link>"
            f'<guid isPermaLink="true">{base_url}{guid}</guid><pubDate>{date}</pubDate>'
            f"<description>{item_title}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>{base_url}/_fault/</link>"
        f"<description>{title} (newsingest demo fault route)</description>\n"
        + "\n".join(rows)
        + "\n</channel></rss>\n"
    ).encode()


_WORDS = (
    "harbour", "council", "budget", "river", "market", "school", "bridge", "library",
    "festival", "storm", "ferry", "bakery", "museum", "station", "orchard", "hospital",
    "stadium", "tram", "workshop", "garden", "village", "quarry", "lighthouse", "mayor",
    "teacher", "engineer", "farmer", "nurse", "captain", "student", "volunteer", "driver",
    "baker", "painter", "opened", "closed", "announced", "approved", "delayed", "repaired",
    "visited", "measured", "counted", "praised", "quietly", "early", "late", "again", "twice",
    "finally", "nearby", "upstream", "downtown", "overnight",
)  # fmt: skip


def _bulk_article(base_url: str, number: int) -> bytes:
    """Build a small article page whose text is unique per number and stable across runs."""
    rng = random.Random(number)  # noqa: S311 (deterministic filler text, not security)
    paragraphs = []
    for _ in range(4):
        sentences = []
        for _ in range(4):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 14))]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    published = (FEED_EPOCH - timedelta(minutes=number)).isoformat()
    url = f"{base_url}/_fault/page/{number}"
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Bulk article {number}</title>"
        f'<link rel="canonical" href="{url}">'
        f'<meta property="article:published_time" content="{published}">'
        '<meta name="author" content="Demo Desk"></head>\n'
        f"<body><article><h1>Bulk article {number}</h1>\n{body}</article></body></html>\n"
    ).encode()


# -- entry points ----------------------------------------------------------------------------


@contextmanager
def serve(
    root: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency: float = 0.0,
) -> Iterator[DemoServer]:
    """Serve the demo site (default root: the bundled site) on host:port (0 = free port).

    Args:
        root: directory to serve; `{{base}}` in its text files becomes the server's base URL.
        host: interface to bind.
        port: TCP port, 0 for any free port.
        latency: seconds to wait before answering every request.

    Returns:
        A context manager yielding the running DemoServer; the server stops on exit.
    """
    state = _State(root=(root or SITE_ROOT).resolve(), latency=latency)
    httpd = _DemoHTTPServer((host, port), state)
    bound_port = httpd.server_address[1]
    shown_host = f"[{host}]" if ":" in host else host
    state.base_url = f"http://{shown_host}:{bound_port}"
    loop = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"newsingest-demo-server-{bound_port}",
        daemon=True,
    )
    loop.start()
    LOGGER.debug("demo server listening on %s (root %s)", state.base_url, state.root)
    try:
        yield DemoServer(base_url=state.base_url, root=state.root, _stats=state.stats)
    finally:
        # Wake sleeping routes first, so shutdown never waits on a hang or a drip.
        state.stopping.set()
        httpd.shutdown()
        httpd.wake_all()
        httpd.join_handlers(SHUTDOWN_GRACE)
        httpd.server_close()
        loop.join(SHUTDOWN_GRACE)
        LOGGER.debug("demo server on %s stopped", state.base_url)


def run_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    root: Path | None = None,
    latency: float = 0.0,
) -> None:
    """Serve the demo site until SIGINT or SIGTERM, printing the base URL first.

    Args:
        host: interface to bind.
        port: TCP port (0 for any free port).
        root: directory to serve (default: the bundled site).
        latency: seconds to wait before answering every request.
    """
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        with serve(root, host=host, port=port, latency=latency) as server:
            print(server.base_url, flush=True)
            # A timed wait keeps the main thread responsive to signals.
            while not stop.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m newsingest.demo.server [--host H] [--port P] [--latency S]."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    run_forever(args.host, args.port, root=args.root, latency=args.latency)


if __name__ == "__main__":
    main()
