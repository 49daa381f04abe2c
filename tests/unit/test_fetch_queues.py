"""Tests of the per-host queues that fetch_many hands URLs out from."""

from __future__ import annotations

from newsingest.downloads import _HostQueues

A, B, C = "http://a.example", "http://b.example", "http://c.example"


def hosts_taken(queues: _HostQueues, count: int) -> list[str]:
    taken = []
    for _ in range(count):
        job = queues.take()
        assert job is not None
        taken.append(job[0])
    return taken


def test_urls_grouped_by_host_are_spread_over_hosts() -> None:
    urls = [f"{h}/{i}" for h in (A, B, C) for i in range(3)]
    queues = _HostQueues(urls, per_host=1, next_start=lambda host: 0.0)
    assert queues.hosts == 3
    assert hosts_taken(queues, 3) == ["a.example", "b.example", "c.example"]


def test_a_host_at_its_limit_waits_for_done() -> None:
    queues = _HostQueues([f"{A}/1", f"{A}/2", f"{B}/1"], per_host=1, next_start=lambda h: 0.0)
    assert queues.take() == ("a.example", 0)
    assert queues.take() == ("b.example", 2)
    queues.done("a.example")
    assert queues.take() == ("a.example", 1)
    assert queues.take() is None


def test_per_host_limit_above_one_takes_the_same_host_again() -> None:
    queues = _HostQueues([f"{A}/1", f"{A}/2", f"{A}/3"], per_host=2, next_start=lambda h: 0.0)
    assert [queues.take(), queues.take()] == [("a.example", 0), ("a.example", 1)]


def test_the_host_allowed_to_start_first_is_preferred() -> None:
    starts = {"a.example": 10.0, "b.example": 5.0, "c.example": 0.0}
    queues = _HostQueues([f"{A}/1", f"{B}/1", f"{C}/1"], per_host=1, next_start=starts.__getitem__)
    assert hosts_taken(queues, 3) == ["c.example", "b.example", "a.example"]


def test_every_url_is_handed_out_once() -> None:
    urls = [f"{h}/{i}" for i in range(4) for h in (A, B)] + ["not a url"]
    queues = _HostQueues(urls, per_host=2, next_start=lambda h: 0.0)
    indexes = []
    while (job := queues.take()) is not None:
        indexes.append(job[1])
        queues.done(job[0])
    assert sorted(indexes) == list(range(len(urls)))
