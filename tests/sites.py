"""A real HTTP server on 127.0.0.1 serving whatever a test puts in its routes."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGES = Path(__file__).parent / "fixtures" / "pages"


@dataclass
class StaticSite:
    """Routes (path -> content type, body) served by a live server; tests change them freely.

    A hook of a path runs (in the server's thread) before each answer to it; a path
    with a status in statuses is answered with that status instead of its route.
    """

    base_url: str
    routes: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    hooks: dict[str, Callable[[], None]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def put(self, path: str, content_type: str, body: str | bytes) -> str:
        """Serve body at path; returns the absolute URL."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        self.routes[path] = (content_type, data)
        return self.base_url + path


@contextmanager
def serve() -> Iterator[StaticSite]:
    """Run a StaticSite on a free port until the block ends."""
    site = StaticSite(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.hits[path] = site.hits.get(path, 0) + 1
            if path in site.hooks:
                site.hooks[path]()
            if path in site.statuses:
                self.send_error(site.statuses[path])
                return
            if path not in site.routes:
                self.send_error(404)
                return
            content_type, body = site.routes[path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def article_page(name: str, *, canonical: str = "", published: str = "") -> str:
    """A real article page of the fixtures, with its canonical URL and date replaced.

    Args:
        name: fixture file stem, e.g. "lakeshorecourier_2024_03_14".
        canonical: the rel=canonical URL to declare (none when empty).
        published: article:published_time to declare (the fixture's when empty).
    """
    html = gzip.decompress((PAGES / f"{name}.html.gz").read_bytes()).decode("utf-8")
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    html = re.sub(r'<link rel="canonical"[^>]*>', link, html)
    # The fixtures' og:url names their real site, which the extractor would prefer.
    html = re.sub(r'<meta property="og:url"[^>]*>', "", html)
    if published:
        html = re.sub(
            r'(<meta property="article:published_time" content=")[^"]*', rf"\g<1>{published}", html
        )
    return html


def rss(items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 feed of (title, link, pubDate) items."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate></item>"
        for t, link, d in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )
