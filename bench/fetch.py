"""Fetch-stage benchmark: the polite Fetcher against a naive sequential loop, same URLs, same run.

Serves HOSTS demo-server instances on 127.0.0.1 (each port is a host: the
Fetcher keys hosts by host:port), each with PAGES article pages and LATENCY
seconds of injected latency, then fetches every page twice:

1. with Fetcher.fetch_many (what the pipeline's page stage calls) and the
   default limits of newsingest.settings (only allow_hosts=127.0.0.1 added,
   which the address guard needs for loopback), robots.txt included;
2. with a sequential loop over one requests.Session (keep-alive, so the
   baseline is the fast kind of naive).

The servers count requests in flight per host; their peak shows whether the
per-host concurrency limit held. With the default delay (longer than the
latency) a host never has two requests in flight, so a third run makes the
limit bind: host_delay=0 and only BINDING_HOSTS hosts, fewer than the
workers can spread over.
The URLs are listed host by host; fetch_many schedules per host, so the
order does not matter.

    python bench/fetch.py [--hosts 50] [--pages 20] [--latency 0.1] [--host-delay S]

--host-delay replaces the default per-host delay, to see what another default would give.

The last line is `speedup=<x> max_host_concurrency=<n> host_limit=<n>`: the
speedup of the default limits over the sequential loop, and the highest
per-host peak of both polite runs against host_concurrency.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import requests

from newsingest.demo.server import DemoServer, serve
from newsingest.downloads import Fetcher
from newsingest.settings import Settings, load_settings

ROBOTS = "User-agent: *\nAllow: /\n"
BINDING_HOSTS = 5


def polite(
    urls: Sequence[str], servers: Sequence[DemoServer], settings: Settings
) -> tuple[float, int, int]:
    """Fetch with fetch_many; returns (seconds, pages fetched, peak requests in flight per host)."""
    for server in servers:
        server.reset_stats()
    started = time.perf_counter()
    with Fetcher(settings) as fetcher:
        outcomes = fetcher.fetch_many(urls)
    elapsed = time.perf_counter() - started
    ok = sum(1 for o in outcomes if o.ok)
    return elapsed, ok, max(s.max_concurrency("") for s in servers)


def sequential(urls: Sequence[str], servers: Sequence[DemoServer]) -> tuple[float, int, int]:
    """Fetch one URL after the other with requests; same return shape as polite()."""
    for server in servers:
        server.reset_stats()
    ok = 0
    started = time.perf_counter()
    with requests.Session() as session:
        for url in urls:
            response = session.get(url, timeout=30)
            ok += response.status_code == 200 and bool(response.content)
    elapsed = time.perf_counter() - started
    return elapsed, ok, max(s.max_concurrency("") for s in servers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures; exit 1 if a per-host limit was exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--pages", type=int, default=20, help="pages per host")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per response")
    parser.add_argument("--host-delay", type=float, default=None, help="override host_delay")
    args = parser.parse_args(argv)

    defaults = load_settings({"NEWSINGEST_ALLOW_HOSTS": "127.0.0.1"})
    if args.host_delay is not None:
        defaults = defaults.replace(host_delay=args.host_delay)
    limit = defaults.host_concurrency
    total = args.hosts * args.pages
    # robots.txt is one more request start per host, spaced like the pages.
    floor = args.pages * defaults.host_delay + args.latency
    print(
        f"{args.hosts} hosts x {args.pages} pages = {total} URLs, {args.latency * 1000:.0f} ms "
        f"latency; limits: host_delay={defaults.host_delay}s host_concurrency={limit} "
        f"global_concurrency={defaults.global_concurrency} respect_robots={defaults.respect_robots}"
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        (root / "robots.txt").write_text(ROBOTS)
        servers = [
            stack.enter_context(serve(root, latency=args.latency)) for _ in range(args.hosts)
        ]
        urls = [s.url(f"/_fault/page/{p}") for s in servers for p in range(args.pages)]

        fast, fast_ok, fast_peak = polite(urls, servers, defaults)
        label = "default limits" if args.host_delay is None else f"host_delay={args.host_delay}"
        print(
            f"fetch_many, {label + ':':16s} {fast:7.2f} s  {fast_ok}/{total} pages  "
            f"peak per host {fast_peak}  (host_delay floor {floor:.2f} s)"
        )
        slow, slow_ok, slow_peak = sequential(urls, servers)
        print(
            f"sequential requests loop:    {slow:7.2f} s  {slow_ok}/{total} pages  "
            f"peak per host {slow_peak}"
        )
        few = servers[:BINDING_HOSTS]
        few_urls = [u for u in urls if any(u.startswith(s.base_url + "/") for s in few)]
        free, free_ok, free_peak = polite(few_urls, few, defaults.replace(host_delay=0.0))
        print(
            f"fetch_many, host_delay=0, {len(few)} hosts: {free:5.2f} s  "
            f"{free_ok}/{len(few_urls)} pages  peak per host {free_peak}  (limit binding)"
        )
    print(
        f"with host_delay={defaults.host_delay} the speedup cannot exceed about "
        f"{slow / floor:.1f}x here: {args.pages} pages and robots.txt per host, their starts "
        f"{defaults.host_delay} s apart"
    )
    if min(fast_ok, slow_ok) < total or free_ok < len(few_urls):
        print("some pages failed; the figures are not comparable", file=sys.stderr)
        return 1
    peak = max(fast_peak, free_peak)
    print(f"speedup={slow / fast:.1f} max_host_concurrency={peak} host_limit={limit}")
    return 0 if peak <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
