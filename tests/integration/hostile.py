"""A raw-socket HTTP server for hostile-server tests: each test scripts the bytes it answers."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

Handler = Callable[[socket.socket, "Request"], None]


@dataclass
class Request:
    """What a client sent: the request line and the headers (lower-case names)."""

    line: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.line.split(" ")[1]


@dataclass
class RawServer:
    """Listens on host:port (port 0: a free one) and hands each request to handler.

    The handler writes whatever bytes it likes to the socket, as slowly as it
    likes; the server records every request and stops its threads on exit.
    """

    handler: Handler
    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, self.port))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        if self.tls is not None:
            self.tls.sni_callback = self._remember_sni

    def _remember_sni(self, sock: object, name: str | None, _: ssl.SSLContext) -> None:
        self.server_names.append(name)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._listener.close()
        for conn in list(self._open):  # wake handlers blocked reading an idle keep-alive client
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self._open.append(conn)
            while not self.stopping.is_set():
                request = self._read_request(conn)
                if request is None:
                    return
                self.requests.append(request)
                self.handler(conn, request)
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def _read_request(self, conn: socket.socket) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Request(head[0], headers)

    def hits(self, path: str = "") -> int:
        """Requests received whose path starts with path."""
        return sum(r.path.startswith(path) for r in self.requests)


def respond(
    body: bytes = b"<html><body>page</body></html>",
    *,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> Handler:
    """A handler answering every request with one response (length: a lying Content-Length)."""

    def handle(conn: socket.socket, request: Request) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
        lines.append(f"Content-Length: {len(body) if length is None else length}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    return handle


def drip(head: bytes, *, interval: float, stop: threading.Event) -> Handler:
    """A handler sending head, then one byte every interval until stopped or cut off."""

    def handle(conn: socket.socket, request: Request) -> None:
        conn.sendall(head)
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(interval)
            conn.sendall(b"a")

    return handle
