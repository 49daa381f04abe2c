"""HTTP downloads: timeouts, size caps, retries, robots.txt and per-host limits.

Where a request may go is decided by newsingest.addresses, and enforced for
every request and redirect hop by the session of newsingest.transport.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests
from protego import Protego
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from newsingest import transport
from newsingest.addresses import AddressGuard, Resolver, URLRefusedError, system_resolver
from newsingest.records import FetchAttempt
from newsingest.settings import Settings
from newsingest.signatures import binary_format
from newsingest.urls import host_of

LOGGER = logging.getLogger(__name__)

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("xml", "rss", "atom", "json", "text/", "rdf")
ROBOTS_MAX_BYTES = 512_000
CHUNK = 65_536
# Control bytes other than tab/newline/CR/FF/ESC are absent from real text.
BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
BINARY_SHARE = 0.05


class FetchError(Exception):
    """One request failed; error_class is the fetch-log class."""

    def __init__(
        self,
        error_class: str,
        message: str,
        *,
        status: int | None = None,
        final_url: str = "",
        retry_after: float | None = None,
        retryable: bool = False,
        received: int = 0,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.status = status
        self.final_url = final_url
        self.retry_after = retry_after
        self.retryable = retryable
        self.received = received


@dataclass(frozen=True, slots=True)
class Response:
    """A complete, size-capped response."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str
    charset: str | None


@dataclass(slots=True)
class FetchOutcome:
    """The result of fetching one URL: a response or an error class, plus every attempt."""

    url: str
    response: Response | None = None
    error_class: str | None = None
    error: str = ""
    attempts: list[FetchAttempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when a response (200 or 304) arrived."""
        return self.response is not None


@dataclass(slots=True)
class _HostGate:
    """Concurrency and spacing of requests to one host."""

    slots: threading.Semaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0
    next_start: float = 0.0


class _HostQueues:
    """The URLs of a fetch_many call, queued per host and handed to worker threads.

    A worker takes the next URL of a host that has a free concurrency slot and
    whose next allowed start is earliest (ties in input order), as Nutch's
    per-host fetch queues do. Threads thus spread over hosts whatever the
    input order: handed out in input order, a list grouped by host kept every
    thread queued behind one or two hosts' delays while the other hosts idled.
    """

    def __init__(
        self, urls: Sequence[str], per_host: int, next_start: Callable[[str], float]
    ) -> None:
        self._pending: dict[str, deque[int]] = {}
        for index, url in enumerate(urls):
            self._pending.setdefault(host_of(url), deque()).append(index)
        self._busy: Counter[str] = Counter()
        self._per_host = per_host
        self._next_start = next_start
        self._changed = threading.Condition()

    @property
    def hosts(self) -> int:
        """Number of hosts with URLs not yet handed out."""
        with self._changed:
            return len(self._pending)

    def take(self) -> tuple[str, int] | None:
        """Hand out the next URL as (host, input index); None once every URL is handed out.

        Blocks while every host with URLs left already has per_host URLs in progress.
        """
        with self._changed:
            while self._pending:
                free = [h for h in self._pending if self._busy[h] < self._per_host]
                if free:
                    host = min(free, key=self._next_start)
                    queue = self._pending[host]
                    index = queue.popleft()
                    if not queue:
                        del self._pending[host]
                    self._busy[host] += 1
                    return host, index
                self._changed.wait()
            return None

    def done(self, host: str) -> None:
        """Mark a URL of host as finished, freeing its slot for another worker."""
        with self._changed:
            self._busy[host] -= 1
            self._changed.notify_all()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def looks_binary(body: bytes) -> bool:
    """True when the first kilobytes hold too many control bytes to be text."""
    sample = body[:8192]
    return bool(sample) and len(BINARY_BYTES.findall(sample)) / len(sample) > BINARY_SHARE


def _classify(exc: requests.RequestException) -> tuple[str, bool]:
    """Map a requests exception to an error class and whether a retry may help."""
    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return "timeout", True
    if isinstance(exc, requests.Timeout):
        return "timeout", False
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "decode_error", False
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "dns", False
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "refused", True
    return "connection", True


class Fetcher:
    """A polite HTTP client shared by the feed and page stages.

    Args:
        settings: limits, timeouts and politeness settings.
        sleep: the sleep function (tests pass a recorder).
        resolver: host, port -> addresses; each request's host is resolved once
            through it, and its connection goes to the address checked.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self.guard = AddressGuard(settings.allow_hosts, resolver)
        self._session = transport.guarded_session(self.guard, pool_size=settings.global_concurrency)
        self._session.headers["User-Agent"] = settings.user_agent
        self._session.headers["Accept-Encoding"] = "gzip, deflate, br"
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, Protego | FetchError | None] = {}
        # One lock per origin, so that threads reaching a new host together fetch
        # its robots.txt once rather than once each.
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        target: str = "page",
        headers: Mapping[str, str] | None = None,
    ) -> FetchOutcome:
        """Fetch one URL with robots, politeness, retries and caps applied.

        Args:
            url: absolute http(s) URL.
            target: "page", "feed" or "robots" (selects size cap and accepted types).
            headers: extra request headers (conditional GET validators).

        Returns:
            The outcome; never raises for network or HTTP problems.
        """
        outcome = FetchOutcome(url=url)
        try:
            self.guard.parse(url)
        except URLRefusedError as exc:
            outcome.error_class, outcome.error = exc.error_class, str(exc)
            outcome.attempts.append(
                FetchAttempt(
                    target=target, url=url, error_class=exc.error_class, error=str(exc)[:500]
                )
            )
            return outcome
        if target != "robots" and self.settings.respect_robots:
            verdict = self._robots_verdict(url, outcome)
            if verdict is not None:
                outcome.error_class, outcome.error = verdict
                outcome.attempts.append(
                    FetchAttempt(target=target, url=url, error_class=verdict[0], error=verdict[1])
                )
                return outcome
        gate = self._gate(url)
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    outcome.response = self._polite_attempt(
                        gate,
                        url=url,
                        target=target,
                        headers=headers or {},
                        number=number,
                        log=outcome.attempts,
                    )
        except FetchError as exc:
            outcome.error_class, outcome.error = exc.error_class, str(exc)
        return outcome

    def fetch_many(self, urls: Iterable[str], *, target: str = "page") -> list[FetchOutcome]:
        """Fetch many URLs in parallel across hosts, within per-host limits.

        Args:
            urls: absolute URLs, in any order (they are scheduled per host).
            target: as for fetch.

        Returns:
            One outcome per URL, in input order.
        """
        todo = list(urls)
        if not todo:
            return []
        per_host = self.settings.host_concurrency
        queues = _HostQueues(todo, per_host, self._next_start)
        outcomes = [FetchOutcome(url=url) for url in todo]

        def work() -> None:
            while (job := queues.take()) is not None:
                host, index = job
                try:
                    outcomes[index] = self.fetch(todo[index], target=target)
                finally:
                    queues.done(host)

        # More threads than hosts x per-host slots would only wait in take().
        workers = min(self.settings.global_concurrency, len(todo), queues.hosts * per_host)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            for future in [pool.submit(work) for _ in range(workers)]:
                future.result()
        return outcomes

    # -- retries --------------------------------------------------------

    def _should_retry(self, exc: BaseException) -> bool:
        """Retry transient failures, unless the server asks for a wait we will not make."""
        if not isinstance(exc, FetchError) or not exc.retryable:
            return False
        return exc.retry_after is None or exc.retry_after <= self.settings.retry_after_max

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, never shorter than Retry-After."""
        backoff = wait_exponential_jitter(
            multiplier=self.settings.backoff_base,
            max=self.settings.backoff_max,
            jitter=self.settings.backoff_base,
        )(state)
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(float(backoff), float(retry_after))

    # -- politeness -----------------------------------------------------

    def _next_start(self, host: str) -> float:
        """Monotonic time before which the host's gate makes a new request wait (0: none yet)."""
        with self._lock:
            gate = self._gates.get(host)
        return gate.next_start if gate is not None else 0.0

    def _gate(self, url: str) -> _HostGate:
        host = host_of(url)
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = _HostGate(
                    slots=threading.Semaphore(self.settings.host_concurrency),
                    delay=self.settings.host_delay,
                )
                self._gates[host] = gate
            return gate

    def _polite_attempt(
        self,
        gate: _HostGate,
        *,
        url: str,
        target: str,
        headers: Mapping[str, str],
        number: int,
        log: list[FetchAttempt],
    ) -> Response:
        """One attempt inside the host's concurrency slot, spaced by its delay."""
        with gate.slots:
            with gate.lock:
                now = time.monotonic()
                wait = gate.next_start - now
                gate.next_start = max(now, gate.next_start) + gate.delay
            if wait > 0:
                self._sleep(wait)
            started = time.monotonic()
            try:
                response = self._attempt(url, target, headers)
            except FetchError as exc:
                log.append(
                    FetchAttempt(
                        target=target,
                        url=url,
                        final_url=exc.final_url,
                        status=exc.status,
                        bytes=exc.received,
                        elapsed_ms=int((time.monotonic() - started) * 1000),
                        attempt=number,
                        error_class=exc.error_class,
                        error=str(exc)[:500],
                    )
                )
                raise
            log.append(
                FetchAttempt(
                    target=target,
                    url=url,
                    final_url=response.final_url,
                    status=response.status,
                    bytes=len(response.body),
                    elapsed_ms=int((time.monotonic() - started) * 1000),
                    attempt=number,
                    error_class="not_modified" if response.status == 304 else None,
                )
            )
            return response

    def _robots_verdict(self, url: str, outcome: FetchOutcome) -> tuple[str, str] | None:
        """(error_class, message) when robots.txt forbids the URL now, else None."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:
            return self._robots_rules(url, origin, outcome)

    def _robots_rules(self, url: str, origin: str, outcome: FetchOutcome) -> tuple[str, str] | None:
        """The verdict of _robots_verdict, fetching robots.txt first if needed (origin locked)."""
        with self._lock:
            known = origin in self._robots
            rules = self._robots.get(origin)
        if not known:
            result = self.fetch(origin + "/robots.txt", target="robots")
            outcome.attempts.extend(result.attempts)
            if result.response is not None:
                text = result.response.body.decode("utf-8", errors="replace")
                rules = Protego.parse(text)
            elif result.error_class in {"http_5xx", "http_429"}:
                # A failing robots.txt means "not now" (RFC 9309 section 2.3.1.4).
                rules = FetchError("robots_unavailable", f"robots.txt of {origin}: {result.error}")
            elif result.error_class in {"timeout", "refused", "connection", "dns", "truncated"}:
                # The host itself is unreachable (or cut robots.txt off: its rules are not
                # all known): say so, with the network error's class.
                rules = FetchError(result.error_class, f"{origin} unreachable: {result.error}")
            else:
                rules = None  # 4xx and the like: no rules, everything allowed
            with self._lock:
                self._robots[origin] = rules
            if isinstance(rules, Protego):
                delay = rules.crawl_delay(self.settings.user_agent)
                if delay:
                    gate = self._gate(url)
                    gate.delay = max(gate.delay, float(delay))
        if isinstance(rules, FetchError):
            return rules.error_class, str(rules)
        if rules is not None and not rules.can_fetch(url, self.settings.user_agent):
            return "robots_disallowed", f"robots.txt of {origin} disallows {url}"
        return None

    # -- one request ----------------------------------------------------

    def _attempt(self, url: str, target: str, headers: Mapping[str, str]) -> Response:
        """Follow redirects by hand, each hop a request of its own, all within total_timeout."""
        settings = self.settings
        with transport.deadline(settings.total_timeout) as deadline:
            current, seen = url, {url}
            for _ in range(settings.max_redirects + 1):
                response = self._request(current, headers, deadline)
                with response:
                    status = response.status_code
                    if status in REDIRECT_CODES and response.headers.get("Location"):
                        target_url = urljoin(current, response.headers["Location"])
                        if target_url in seen:
                            raise FetchError(
                                "redirect_loop", f"redirect loop at {target_url}", status=status
                            )
                        seen.add(target_url)
                        current = target_url
                        continue
                    return self._complete(url, current, response, target, deadline)
        raise FetchError(
            "too_many_redirects", f"more than {settings.max_redirects} redirects from {url}"
        )

    def _request(
        self, url: str, headers: Mapping[str, str], deadline: transport.Deadline
    ) -> requests.Response:
        """Send one request (one hop) and read its headers, within the deadline.

        The URL is parsed as given (the session sees it requoted), then the
        session's adapter resolves, checks and pins its destination.
        """
        settings = self.settings
        try:
            self.guard.parse(url)
            if deadline.expired:
                raise requests.Timeout(f"{settings.total_timeout} s spent before this request")
            remaining = max(deadline.remaining(), 0.001)  # a 0 timeout would mean non-blocking
            response = self._session.get(
                url,
                headers=dict(headers),
                stream=True,
                allow_redirects=False,
                timeout=(
                    min(settings.connect_timeout, remaining),
                    min(settings.read_timeout, remaining),
                ),
            )
        except URLRefusedError as exc:
            raise FetchError(exc.error_class, str(exc), final_url=url) from exc
        except requests.RequestException as exc:
            if deadline.expired:
                raise FetchError("timeout", _late(url, settings.total_timeout, exc)) from exc
            error_class, retryable = _classify(exc)
            raise FetchError(error_class, f"{url}: {exc}", retryable=retryable) from exc
        if deadline.expired:
            # Headers cut off by the deadline can parse as a complete, shorter head.
            response.close()
            raise FetchError("timeout", _late(url, settings.total_timeout, "headers cut off"))
        return response

    def _complete(
        self,
        url: str,
        final: str,
        response: requests.Response,
        target: str,
        deadline: transport.Deadline,
    ) -> Response:
        """Check status and type, then read the body within size and time caps."""
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        media = content_type.split(";")[0].strip().lower()
        if status == 304:
            return Response(url, final, status, dict(response.headers), b"", media, None)
        if status == 429 or status >= 500:
            error_class = "http_429" if status == 429 else "http_5xx"
            raise FetchError(
                error_class,
                f"HTTP {status} from {final}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                retryable=True,
                status=status,
                final_url=final,
            )
        if status >= 400 or status < 200:
            raise FetchError(
                "http_4xx", f"HTTP {status} from {final}", status=status, final_url=final
            )
        accepted = PAGE_TYPES if target == "page" else FEED_TYPES
        if media and target != "robots" and not any(a in media for a in accepted):
            raise FetchError(
                "bad_content_type",
                f"{final} is {media!r}, not {target}",
                status=status,
                final_url=final,
            )
        limit = self.settings.max_page_bytes
        if target == "feed":
            limit = self.settings.max_feed_bytes
        elif target == "robots":
            limit = ROBOTS_MAX_BYTES
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(
                "too_large",
                f"{final} declares {declared} bytes, cap is {limit}",
                status=status,
                final_url=final,
            )
        body = self._read(response, limit=limit, deadline=deadline, final=final, status=status)
        kind = binary_format(body[:1024]) if target != "robots" else None
        if kind is not None:
            raise FetchError(
                "bad_content_type",
                f"{final} is served as {media or 'untyped'} but its bytes are a {kind}",
                received=len(body),
                status=status,
                final_url=final,
            )
        if target == "page" and looks_binary(body):
            raise FetchError(
                "bad_content_type",
                f"{final} is served as {media or 'untyped'} but its bytes are binary",
                received=len(body),
                status=status,
                final_url=final,
            )
        return Response(
            url, final, status, dict(response.headers), body, media, _charset(content_type)
        )

    @staticmethod
    def _read(
        response: requests.Response,
        *,
        limit: int,
        deadline: transport.Deadline,
        final: str,
        status: int,
    ) -> bytes:
        """Stream the decoded body, stopping at the size cap or the deadline."""
        chunks: list[bytes] = []
        size = 0
        raw = response.raw
        try:
            while True:
                # read1 returns what has arrived, so a slow drip cannot outlast the deadline.
                chunk = raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise FetchError(
                        "too_large",
                        f"{final}: body exceeds the {limit}-byte cap",
                        status=status,
                        final_url=final,
                        received=size,
                    )
                if deadline.expired:
                    raise FetchError(
                        "timeout",
                        f"{final}: body not complete within the total deadline",
                        status=status,
                        final_url=final,
                        received=size,
                    )
                chunks.append(chunk)
        except FetchError:
            raise
        except Exception as exc:  # urllib3 raises several unrelated types mid-body
            error_class = "timeout" if "timed out" in str(exc).lower() else "connection"
            if "decod" in type(exc).__name__.lower() or "decod" in str(exc).lower():
                error_class = "decode_error"
            if _incomplete(exc):
                # Fewer bytes than Content-Length, or chunks without the last one.
                error_class = "truncated"
            message = f"{final}: {exc}"
            if deadline.expired:
                error_class, message = "timeout", _late(final, deadline.seconds, exc)
            raise FetchError(
                error_class,
                message,
                status=status,
                final_url=final,
                received=size,
                retryable=error_class == "truncated",
            ) from exc
        if deadline.expired:
            # The deadline shut the socket down: the end of the stream is not the end of the body.
            raise FetchError(
                "timeout",
                _late(final, deadline.seconds, "body cut off"),
                status=status,
                final_url=final,
                received=size,
            )
        if transport.stream_cut_off(raw):
            encoding = response.headers.get("Content-Encoding", "")
            raise FetchError(
                "truncated",
                f"{final}: the {encoding} body ends before its compressed stream does "
                f"({raw.tell()} bytes received, {size} decoded): the connection was cut",
                status=status,
                final_url=final,
                received=size,
                retryable=True,
            )
        return b"".join(chunks)


def _incomplete(exc: BaseException) -> bool:
    """Whether urllib3 raised because the body ended early (an IncompleteRead, wrapped or not)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, http.client.IncompleteRead) or any(
            isinstance(arg, http.client.IncompleteRead) for arg in seen.args
        ):
            return True
        seen = seen.__cause__
    return False


def _late(url: str, total: float, cause: object) -> str:
    """The message of a request cut by the total deadline."""
    return f"{url}: no complete answer within the total deadline of {total} s ({cause})"


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, lower-cased."""
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1).lower() if match else None
