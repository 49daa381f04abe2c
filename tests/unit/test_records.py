"""Tests of newsingest.records: every record round-trips through JSON and pickle."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import pytest

from newsingest.records import (
    Article,
    DedupResult,
    FeedEntry,
    FeedSource,
    FetchAttempt,
    FetchedPage,
    from_json,
    to_json,
)

WHEN = datetime(2022, 1, 21, 14, 5, tzinfo=UTC)
ENTRY = FeedEntry(feed_name="f", url="https://a.example/x", title="T", published_at=WHEN)
RECORDS = [
    FeedSource(name="f", url="https://a.example/feed", include=("/news/",)),
    ENTRY,
    FetchAttempt(target="page", url="https://a.example/x", status=500, error_class="http_5xx"),
    Article(
        url="https://a.example/x",
        canonical_url="https://a.example/x",
        feed_name="f",
        authors=("A", "B"),
        published_at=WHEN,
        wire_agencies=("AFP",),
    ),
    DedupResult(canonical_url="https://a.example/x", cluster_key="cluster:3", similarity=0.9),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_round_trip(record: object) -> None:
    text = json.dumps(to_json(record))
    assert from_json(type(record), json.loads(text)) == record
    assert pickle.loads(pickle.dumps(record)) == record


def test_bytes_do_not_travel_as_json() -> None:
    page = FetchedPage(
        feed_name="f",
        url="u",
        requested_url="u",
        final_url="u",
        status=200,
        content_type="text/html",
        charset=None,
        fetched_at=WHEN,
        body=b"<html>",
        entry=ENTRY,
    )
    assert pickle.loads(pickle.dumps(page)) == page
    with pytest.raises(TypeError, match="bytes"):
        to_json(page)


def test_a_fetch_attempt_keeps_no_user_info() -> None:
    attempt = FetchAttempt(
        target="page", url="http://reader:pw@a.example/x", final_url="https://u:pw@b.example/"
    )
    assert (attempt.url, attempt.final_url) == ("http://***@a.example/x", "https://***@b.example/")
    assert pickle.loads(pickle.dumps(attempt)) == attempt
    assert from_json(FetchAttempt, json.loads(json.dumps(to_json(attempt)))) == attempt
