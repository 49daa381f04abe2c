"""Where a request may go: one parse, one resolution, one check, and the addresses to pin."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

LOGGER = logging.getLogger(__name__)

SCHEMES = {"http": 80, "https": 443}
# C0 controls and DEL: never part of a URL a feed means; parsers strip or keep them differently.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# WHATWG URL: a host whose last label is a number is an IPv4 address, in any of
# the decimal, octal, hex or short forms that inet_aton (and so getaddrinfo) also reads.
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# The user info of an authority (everything before its last @), as urllib.parse reads it.
USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@")
# IPv6 ranges that carry an IPv4 address in their last 32 bits.
IPV4_CARRIERS = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 (RFC 6052)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class URLRefusedError(Exception):
    """A URL may not be fetched; error_class is its fetch-log class.

    bad_url, dns or blocked_address.
    """

    def __init__(self, error_class: str, message: str, *, url: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.url = url


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: the host the HTTP client names (Host header, TLS) and where it connects."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for host, in its order, without duplicates or scope ids."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def redacted(url: str) -> str:
    """The URL with any user info (a password, perhaps) replaced by ***, for messages and logs."""
    return USERINFO.sub(r"\1***@", url, count=1)


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address, judging IPv4 carried inside IPv6 as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and any(address in net for net in IPV4_CARRIERS):
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            return is_public(carried)
    return address.is_global and not address.is_multicast


def _split_host(url: str) -> tuple[str, int | None]:
    """The host and port as urllib.parse reads them (what robots, host keys and logs use)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host, parts.port


class AddressGuard:
    """Decides whether a URL may be fetched and where its connection must go.

    A URL is read by the parser requests and urllib3 connect with
    (urllib3.util.parse_url), refused when urllib.parse reads another host,
    resolved once, checked, and returned as a Destination whose addresses the
    connection uses: a second DNS answer is never asked for.

    Args:
        allow_hosts: host names (optionally host:port) exempt from the address
            check, and IP addresses or networks that names may resolve to.
        resolver: host, port -> IP address strings (tests inject one).
    """

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = system_resolver):
        self._allowed_names: set[str] = set()
        self._allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (e.strip().lower() for e in allow_hosts):
            if not entry:
                continue
            self._allowed_names.add(entry)
            # A host name is matched by name only; an address or network also by address.
            with contextlib.suppress(ValueError):
                self._allowed_networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        self._resolve = resolver

    def parse(self, url: str) -> tuple[str, str, int]:
        """Read a URL as the HTTP client will, refusing any it could read two ways.

        Args:
            url: the URL as a feed, page or redirect gave it.

        Returns:
            (scheme, host, port): the host is lower case, IDNA-encoded, IPv6 without brackets.

        Raises:
            URLRefusedError: bad_url for other schemes, control characters,
                backslashes, user info, numeric hosts in other than dotted-quad
                form, and hosts that urllib3 and urllib.parse read differently.
        """

        def refuse(why: str) -> URLRefusedError:
            return URLRefusedError("bad_url", f"{why}: {redacted(url)!r}", url=url)

        if CONTROL.search(url):
            raise refuse("control character in URL")
        if "\\" in url:
            raise refuse("backslash in URL (parsers disagree on where its host ends)")
        try:
            parsed = parse_url(url)
            split_host, split_port = _split_host(url)
        except (LocationParseError, ValueError, UnicodeError) as exc:
            raise refuse(f"unreadable URL ({exc})") from exc
        scheme = (parsed.scheme or "").lower()
        if scheme not in SCHEMES:
            raise refuse("not an http(s) URL")
        if parsed.auth is not None or "@" in (urlsplit(url).netloc or ""):
            raise refuse("user info in URL")
        host = (parsed.host or "").strip("[]")
        if not host:
            raise refuse("no host in URL")
        if "%" in host:
            raise refuse("scope id or escape in host")
        if host != split_host or parsed.port != split_port:
            raise refuse(f"parsers disagree on the host ({host!r} or {split_host!r})")
        last_label = host.rstrip(".").rsplit(".", 1)[-1]
        if ":" not in host and NUMERIC_LABEL.match(last_label):
            try:
                canonical = str(ipaddress.IPv4Address(host))
            except ValueError:
                canonical = ""
            if canonical != host:
                raise refuse("IPv4 address not in dotted-quad form")
        return scheme, host, parsed.port or SCHEMES[scheme]

    def check(self, url: str) -> Destination:
        """Parse, resolve once and check a URL.

        Args:
            url: absolute http(s) URL.

        Returns:
            The destination, with the checked addresses the connection must use.

        Raises:
            URLRefusedError: bad_url (see parse), dns when the name does not
                resolve, blocked_address when any address it resolves to is
                not public and neither it nor the host is allowed.
        """
        scheme, host, port = self.parse(url)
        addresses = self._addresses(url, host, port)
        if host not in self._allowed_names and f"{host}:{port}" not in self._allowed_names:
            for address in addresses:
                if not is_public(address) and not any(
                    address in net for net in self._allowed_networks
                ):
                    raise URLRefusedError(
                        "blocked_address",
                        f"{host} resolves to non-public address {address}; "
                        "add it to NEWSINGEST_ALLOW_HOSTS to allow it",
                        url=url,
                    )
        return Destination(url, scheme, host, port, tuple(str(a) for a in addresses))

    def _addresses(self, url: str, host: str, port: int) -> list[IPAddress]:
        """The host itself when it is an address, else the resolver's one answer."""
        with contextlib.suppress(ValueError):
            return [ipaddress.ip_address(host)]
        try:
            addresses = [ipaddress.ip_address(a) for a in self._resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise URLRefusedError("dns", f"cannot resolve {host!r}: {exc}", url=url) from exc
        if not addresses:
            raise URLRefusedError("dns", f"{host!r} resolves to no address", url=url)
        return addresses
