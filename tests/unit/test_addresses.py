"""Tests of newsingest.addresses: one parse, one resolution, one check per URL."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from newsingest.addresses import AddressGuard, URLRefusedError, is_public

PUBLIC = "93.184.216.34"


class FakeDNS:
    """A resolver with fixed answers that counts its calls."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


def refused(guard: AddressGuard, url: str) -> str:
    with pytest.raises(URLRefusedError) as info:
        guard.check(url)
    return info.value.error_class


# Each is refused whatever the allow list says: the loopback address is allowed here.
AMBIGUOUS = [
    "http://127.0.0.1:8080\\@public.example/",
    "http://169.254.169.254\\@news.example/",
    "http://public.example\\@127.0.0.1/",
    "http://news.example\\.127.0.0.1/",
    "http://news.example/\\127.0.0.1/",
    "http://user:secret@news.example/",
    "http://127.0.0.1@news.example/",
    "http://news.example:80@127.0.0.1/",
    "http://news.example%2F@127.0.0.1/",
    "http://ne%77s.example/",
    "http://news.example\x00.127.0.0.1/",
    "http://news.example\t/",
    "http://news.example/\r\nHost: 127.0.0.1",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://127.0.1/",
    "http://017700000001/",
    "http://127.0.0.1./",
    "http://0/",
    "http://127.000.000.001/",
    "http://\u2460\u2461\u2466.0.0.1/",  # circled digits: NFKC makes them 127.0.0.1
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # fullwidth digits
    "http://127\u30020\u30020\u30021/",  # ideographic full stops
    "http://news.example%00/",
    "http://127.0.0.1%09/",
    "http://[::1]news.example/",
    "http://[fe80::1%25eth0]/",
    "http://news.example:99999/",
    "http:///etc/passwd",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://news.example/x",
    "dict://127.0.0.1:11211/stat",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_urls_parsers_read_two_ways_are_refused(url: str) -> None:
    dns = FakeDNS({"news.example": [PUBLIC], "public.example": [PUBLIC]})
    guard = AddressGuard(["127.0.0.1", "169.254.169.254"], dns)
    assert refused(guard, url) == "bad_url"
    assert dns.calls == []


NON_PUBLIC = [
    "http://127.0.0.1/",
    "http://127.255.255.254/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "https://[::1]:8443/",
]


@pytest.mark.parametrize("url", NON_PUBLIC)
def test_non_public_addresses_are_blocked(url: str) -> None:
    assert refused(AddressGuard([]), url) == "blocked_address"


@pytest.mark.parametrize(
    "answers",
    [["10.1.2.3"], ["127.0.0.1"], [PUBLIC, "192.168.0.7"], ["::1"], ["::ffff:10.0.0.1"]],
)
def test_names_resolving_to_private_addresses_are_blocked(answers: list[str]) -> None:
    guard = AddressGuard([], FakeDNS({"intranet.example": answers}))
    with pytest.raises(URLRefusedError) as info:
        guard.check("http://intranet.example/admin")
    assert info.value.error_class == "blocked_address"
    assert "NEWSINGEST_ALLOW_HOSTS" in str(info.value)


def test_a_public_name_is_resolved_once_and_its_addresses_kept() -> None:
    dns = FakeDNS({"news.example": [PUBLIC, "2606:2800:220:1::1"]})
    destination = AddressGuard([], dns).check("https://News.Example/a?b=1")
    assert (destination.scheme, destination.host, destination.port) == (
        "https",
        "news.example",
        443,
    )
    assert destination.addresses == (PUBLIC, "2606:2800:220:1::1")
    assert dns.calls == ["news.example"]


def test_unresolvable_names_are_dns_errors() -> None:
    assert refused(AddressGuard([], FakeDNS({})), "http://nowhere.example/") == "dns"
    assert refused(AddressGuard([], FakeDNS({"empty.example": []})), "http://empty.example/") == (
        "dns"
    )


def test_allow_list_by_name_and_by_address() -> None:
    dns = FakeDNS({"intranet.example": ["10.0.0.5"], "lab.example": ["10.9.0.1"]})
    guard = AddressGuard(["intranet.example", "192.168.0.0/16", "127.0.0.1"], dns)
    assert guard.check("http://intranet.example/").addresses == ("10.0.0.5",)
    assert guard.check("http://192.168.3.4:8080/").addresses == ("192.168.3.4",)
    assert guard.check("http://127.0.0.1:8080/").addresses == ("127.0.0.1",)
    # A name is allowed by the address it resolves to only when that address is listed.
    assert refused(guard, "http://lab.example/") == "blocked_address"
    assert refused(guard, "http://127.0.0.2/") == "blocked_address"
    assert refused(guard, "http://[::1]/") == "blocked_address"


def test_host_port_allow_entry_allows_that_port_only() -> None:
    guard = AddressGuard(["localhost:8080"], FakeDNS({"localhost": ["127.0.0.1"]}))
    assert guard.check("http://localhost:8080/").addresses == ("127.0.0.1",)
    assert refused(guard, "http://localhost:9090/") == "blocked_address"


def test_idn_hosts_are_read_alike_by_both_parsers() -> None:
    dns = FakeDNS({"xn--bcher-kva.example": [PUBLIC]})
    destination = AddressGuard([], dns).check("http://bücher.example/")
    assert destination.host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("::ffff:8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:0a00:1", False),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address(address)) is public


def test_refusals_never_repeat_a_password() -> None:
    for url in ["http://user:s3cret@news.example/", "ftp://admin:s3cret@news.example/x"]:
        with pytest.raises(URLRefusedError) as info:
            AddressGuard([]).check(url)
        assert "s3cret" not in str(info.value)
        assert "***@news.example" in str(info.value)
