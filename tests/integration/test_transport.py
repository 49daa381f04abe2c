"""Tests of newsingest.transport on real local servers: pinning, TLS names, the deadline."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests
import trustme

from newsingest import transport
from newsingest.addresses import AddressGuard, URLRefusedError
from tests.integration.hostile import RawServer, drip, respond


class RebindingDNS:
    """Answers first with one address and with another afterwards, as a rebinding attacker does."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first, then]
        self.calls = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls += 1
        return [self.answers[min(self.calls, 2) - 1]]


@pytest.fixture
def twin_servers() -> Iterator[tuple[RawServer, RawServer]]:
    """A server on 127.0.0.1 (checked) and one on 127.0.0.2, same port (the rebinding target)."""
    checked = RawServer(respond(b"checked"), host="127.0.0.1")
    other = RawServer(respond(b"other"), host="127.0.0.2", port=checked.port)
    with checked, other:
        yield checked, other


def test_connection_goes_to_the_checked_address(twin_servers: tuple[RawServer, RawServer]) -> None:
    checked, other = twin_servers
    dns = RebindingDNS("127.0.0.1", "127.0.0.2")
    session = transport.guarded_session(AddressGuard(["127.0.0.1"], dns), pool_size=2)
    with session:
        response = session.get(f"http://rebind.example:{checked.port}/a", timeout=5)
    assert response.content == b"checked"
    assert (checked.hits(), other.hits()) == (1, 0)
    assert dns.calls == 1
    # The Host header names the host, not the address connected to.
    assert checked.requests[0].headers["host"] == f"rebind.example:{checked.port}"


def test_a_new_answer_gets_a_new_check(twin_servers: tuple[RawServer, RawServer]) -> None:
    checked, other = twin_servers
    dns = RebindingDNS("127.0.0.1", "127.0.0.2")
    session = transport.guarded_session(AddressGuard(["127.0.0.1"], dns), pool_size=2)
    with session:
        assert session.get(f"http://rebind.example:{checked.port}/a", timeout=5).ok
        # The second request's answer (127.0.0.2) is checked, and refused, before any connection.
        with pytest.raises(URLRefusedError, match=r"127\.0\.0\.2"):
            session.get(f"http://rebind.example:{checked.port}/b", timeout=5)
    assert other.hits() == 0


def test_every_request_of_the_session_is_checked() -> None:
    with (
        RawServer(respond()) as server,
        transport.guarded_session(AddressGuard([]), pool_size=1) as session,
    ):
        with pytest.raises(URLRefusedError) as info:
            session.get(server.base_url + "/x", timeout=5)
        # Redirects followed by requests itself are requests of the session too.
        assert info.value.error_class == "blocked_address"
    assert server.hits() == 0


def test_proxies_from_the_environment_are_not_used(
    monkeypatch: pytest.MonkeyPatch, twin_servers: tuple[RawServer, RawServer]
) -> None:
    checked, other = twin_servers
    # A proxy resolves names itself: the pinning would be lost through it.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.2:{other.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.2:{other.port}")
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    with transport.guarded_session(AddressGuard(["127.0.0.1"], dns), pool_size=1) as session:
        assert session.get(f"http://news.example:{checked.port}/", timeout=5).content == b"checked"
    assert other.hits() == 0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_server(ca: trustme.CA, name: str) -> RawServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return RawServer(respond(b"secure"), tls=context)


def test_tls_keeps_the_server_name_and_checks_the_certificate_against_it(
    ca: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    dns = RebindingDNS("127.0.0.1", "127.0.0.2")
    with (
        _tls_server(ca, "news.example") as server,
        transport.guarded_session(AddressGuard(["127.0.0.1"], dns), pool_size=1) as session,
    ):
        response = session.get(f"https://news.example:{server.port}/", verify=str(bundle))
    assert response.content == b"secure"
    assert server.server_names == ["news.example"]
    assert server.requests[0].headers["host"] == f"news.example:{server.port}"


def test_tls_certificate_for_another_name_is_refused(ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    with (
        _tls_server(ca, "other.example") as server,
        transport.guarded_session(AddressGuard(["127.0.0.1"], dns), pool_size=1) as session,
        pytest.raises(requests.exceptions.SSLError, match=r"news\.example"),
    ):
        session.get(f"https://news.example:{server.port}/", verify=str(bundle))
    assert server.hits() == 0


def test_deadline_cuts_a_header_drip() -> None:
    stop = threading.Event()
    handler = drip(b"HTTP/1.1 200 OK\r\nX-Drip: ", interval=0.1, stop=stop)
    session = transport.guarded_session(AddressGuard(["127.0.0.1"]), pool_size=1)
    started = time.monotonic()
    try:
        with RawServer(handler) as server, session:
            with transport.deadline(0.5) as deadline, pytest.raises(requests.ReadTimeout):
                session.get(server.base_url + "/", timeout=(1, 1))
            assert deadline.expired
    finally:
        stop.set()
    assert time.monotonic() - started < 2
