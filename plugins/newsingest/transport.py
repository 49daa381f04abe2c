"""The HTTP transport: every connection goes to an address the guard checked, until a deadline.

A requests adapter asks newsingest.addresses for each request's destination
(every redirect hop is a request of its own) and takes its connection from a
pool keyed by the checked addresses. The connection class keeps the host name
for the Host header, the TLS server name (SNI) and the certificate check, but
opens its socket to those addresses: the name is never resolved a second time.
A deadline shuts down the sockets a thread uses once its time is up, so that
a server dripping headers (or a body) a byte at a time cannot outlast it.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import socket
import threading
import time
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.client import HTTPException
from typing import Any

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolKey, PoolManager, _default_key_normalizer
from urllib3.response import (
    BrotliDecoder,
    ContentDecoder,
    DeflateDecoder,
    GzipDecoder,
    GzipDecoderState,
    HTTPResponse,
    MultiDecoder,
)
from urllib3.util.connection import create_connection

from newsingest.addresses import AddressGuard

LOGGER = logging.getLogger(__name__)

PINNED = "pinned_addresses"
_CURRENT = threading.local()


class Deadline:
    """Shuts down the sockets of the connections attached to it once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self._expired or time.monotonic() >= self.at

    def remaining(self) -> float:
        """Seconds left (0 once expired)."""
        return max(0.0, self.at - time.monotonic())

    def attach(self, connection: HTTPConnection) -> None:
        """Cut this connection at the deadline (at once when it has passed)."""
        with self._lock:
            self._connections.append(connection)
            if self._expired:
                _shut(connection)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    """Shut a connection's socket down in both directions; its blocked reads return at once."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Cut every connection this thread opens or reuses inside the block after `seconds`.

    Args:
        seconds: the time the block's requests (connect, headers, body) may take together.

    Yields:
        The deadline, to ask whether it has expired.
    """
    current = Deadline(seconds)
    previous = getattr(_CURRENT, "deadline", None)
    _CURRENT.deadline = current
    current._timer.start()
    try:
        yield current
    finally:
        current._timer.cancel()
        _CURRENT.deadline = previous


def _attach_current(connection: HTTPConnection) -> None:
    """Attach a connection to the deadline of the calling thread, if any."""
    current: Deadline | None = getattr(_CURRENT, "deadline", None)
    if current is not None:
        current.attach(connection)


def _expired() -> bool:
    """True when the calling thread's deadline has passed."""
    current: Deadline | None = getattr(_CURRENT, "deadline", None)
    return current is not None and current.expired


class _PinnedConnection(HTTPConnection):
    """An HTTP connection that opens its socket to checked addresses, not to its host's name."""

    def __init__(self, *args: Any, pinned_addresses: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not pinned_addresses:
            raise ValueError("a pinned connection needs the checked addresses")
        self._pinned = pinned_addresses

    def _new_conn(self) -> socket.socket:
        """Connect to the first pinned address that answers, in the resolver's order."""
        error: OSError | None = None
        for address in self._pinned:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} ({address}) timed out"
                ) from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def connect(self) -> None:
        """Connect within the calling thread's deadline."""
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Send a request within the calling thread's deadline (a reused connection too)."""
        _attach_current(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        """Read the response head; one the deadline cut off is a timeout, not a shorter head."""
        try:
            response = super().getresponse()
        except (OSError, HTTPException) as exc:
            if _expired():
                raise TimeoutError("total deadline passed while reading the response head") from exc
            raise
        if _expired():
            response.close()
            raise TimeoutError("total deadline passed while reading the response head")
        return response


class _PinnedHTTPSConnection(_PinnedConnection, HTTPSConnection):
    """The TLS variant: SNI and the certificate check use the host name, the socket the address."""


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


# A pool serves one host at one set of checked addresses: a new answer gets a new pool.
_PinnedPoolKey = collections.namedtuple(  # type: ignore[misc]
    "_PinnedPoolKey", [*PoolKey._fields, "key_" + PINNED]
)


class _PinnedPoolManager(PoolManager):
    """Pools of pinned connections, keyed by host, port, TLS options and pinned addresses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}
        key = functools.partial(_default_key_normalizer, typing.cast(type[PoolKey], _PinnedPoolKey))
        self.key_fn_by_scheme = {"http": key, "https": key}


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose every request is checked by an AddressGuard and pinned.

    Proxies are never used: a proxy would resolve the name itself.

    Args:
        guard: decides each request's destination.
        kwargs: as for HTTPAdapter (pool sizes, max_retries).
    """

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Create the pool manager of pinned connections (called by HTTPAdapter)."""
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _PinnedPoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> HTTPConnectionPool:
        """The pool for the checked destination of the request's URL (raises URLRefusedError)."""
        destination = self.guard.check(request.url or "")
        _, tls = self.build_connection_pool_key_attributes(
            request, True if verify is None else verify, cert
        )
        pool: HTTPConnectionPool = self.poolmanager.connection_from_host(
            destination.host,
            destination.port,
            destination.scheme,
            pool_kwargs={**tls, PINNED: destination.addresses},
        )
        return pool


def stream_cut_off(response: HTTPResponse) -> bool:
    """Whether a body read to its end stopped short of its content coding's end marker.

    urllib3 decodes gzip, deflate and brotli as the bytes arrive, and a
    decompressor fed half a stream hands out half the text without an error:
    a connection closed mid-stream (with a Content-Length of the bytes sent,
    or none) reads as a shorter, complete page. Only its decoders know; they
    are asked through their (private) state, which the truncation tests of
    tests/integration/test_fetch_hostile.py pin for every coding accepted.
    """
    decoder = response._decoder
    # No body at all (an empty answer labelled gzip) was not cut: there is nothing to decode.
    return decoder is not None and response.tell() > 0 and _unfinished(decoder)


def _unfinished(decoder: ContentDecoder) -> bool:
    """Whether a urllib3 content decoder has not seen the end of its stream."""
    if isinstance(decoder, MultiDecoder):
        return any(_unfinished(part) for part in decoder._decoders)
    if isinstance(decoder, GzipDecoder):
        # After a complete member, urllib3 drops bytes that do not decode (trailing garbage).
        return decoder._state != GzipDecoderState.SWALLOW_DATA and not decoder._obj.eof
    if isinstance(decoder, DeflateDecoder):
        return not decoder._obj.eof
    if isinstance(decoder, BrotliDecoder):
        return not decoder._obj.is_finished()
    return False  # a coding the fetcher does not ask for, and urllib3 may decode: no way to tell


def guarded_session(guard: AddressGuard, *, pool_size: int) -> requests.Session:
    """A session whose http and https requests all go through a GuardedAdapter.

    Args:
        guard: decides each request's destination.
        pool_size: connection pools kept, and connections per pool.

    Returns:
        The session; it reads no proxy, .netrc or CA settings from the environment.
    """
    session = requests.Session()
    # Proxies and .netrc from the environment would bypass the pinning or leak credentials.
    session.trust_env = False
    adapter = GuardedAdapter(
        guard, pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
