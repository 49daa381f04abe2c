"""Plain records passed between pipeline stages; each round-trips through JSON and pickle."""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from newsingest.addresses import redacted

T = TypeVar("T")

# PostgreSQL's text and jsonb refuse NUL and lone surrogates (Python strings can hold both:
# a JSON feed's "\ud800" decodes to one); a str code point in this range is always lone.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """The text without NUL characters, lone surrogates replaced by U+FFFD.

    Every string read from outside (feeds, pages, servers) goes through this
    before it is stored; to_json applies it to every string it writes.
    """
    if not UNSTORABLE.search(text):
        return text
    return UNSTORABLE.sub(lambda m: "" if m.group(0) == "\x00" else "\ufffd", text)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSource:
    """One registry entry: a feed (or a homepage whose feeds are discovered)."""

    name: str
    url: str
    kind: str = "auto"
    outlet: str = ""
    language: str = ""
    max_pages: int | None = None
    refetch_updated: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One item of a feed: where the article is and what the feed says of it."""

    feed_name: str
    url: str
    title: str = ""
    published_at: datetime | None = None
    updated_at: datetime | None = None
    guid: str = ""
    summary: str = ""
    author: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchAttempt:
    """One HTTP request as the fetch log records it.

    Its URLs are kept without user info: a feed link or a redirect may carry
    a password, which the fetcher refuses to send and the log must not keep.
    """

    target: str  # "feed", "page" or "robots"
    url: str
    final_url: str = ""
    status: int | None = None
    bytes: int = 0
    elapsed_ms: int = 0
    attempt: int = 1
    error_class: str | None = None
    error: str = ""

    def __post_init__(self) -> None:
        # Frozen: the redacted URLs are set the way dataclasses set fields.
        object.__setattr__(self, "url", redacted(self.url))
        object.__setattr__(self, "final_url", redacted(self.final_url))


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchedPage:
    """An article page as downloaded, before extraction."""

    feed_name: str
    url: str  # canonical URL, the page's key
    requested_url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    fetched_at: datetime
    body: bytes
    entry: FeedEntry
    etag: str = ""
    last_modified: str = ""
    # Fetched again on purpose: the feed says the loaded story was updated.
    refetch: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """The clean record extracted from one page (skipped_reason set when not loadable)."""

    url: str
    canonical_url: str
    feed_name: str
    outlet: str = ""
    site_name: str = ""
    title: str = ""
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    published_at_source: str = ""
    fetched_at: datetime | None = None
    language: str = ""  # declared: the page's <html lang>, else the registry's
    language_detected: str = ""  # identified from the body ("" when undecided)
    language_disagrees: bool = False
    body: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    image_url: str = ""
    wire_agencies: tuple[str, ...] = ()
    wire_evidence: tuple[str, ...] = ()
    content_hash: str = ""
    extractor_version: str = ""
    extraction_method: str = ""  # the candidate that won (newsingest.candidates)
    extraction_confidence: float | None = None
    extraction_low_confidence: bool = False
    skipped_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupDoc:
    """What near-duplicate search needs of an article."""

    doc_id: str  # the canonical URL in the pipeline
    text: str
    published_at: datetime | None = None
    site: str = ""
    content_hash: str = ""


def dedup_site(outlet: str, site_name: str) -> str:
    """The site near-duplicate search learns boilerplate for: the registry's outlet, else
    the page's site name."""
    return outlet or site_name


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupResult:
    """Where an article sits among stories already seen.

    cluster_key is "cluster:<id>" for a stored cluster, else the doc id of the
    batch article that founded the cluster. Founders carry their fingerprint
    (samples) and sketch so that the load can store them with the row.
    """

    canonical_url: str
    cluster_key: str
    duplicate_of: str | None = None
    similarity: float = 1.0
    relation: str = "original"  # original, exact, near, stitched
    secondary_of: str | None = None  # the second story of a stitched page
    samples: str = ""  # founders: dedup.fingerprints.keys_to_text()
    sketch: str = ""  # founders: dedup.verify.Sketch.to_text()


@dataclass(slots=True)
class FeedCounts:
    """What one feed yielded in one run (mutable: stages add to it)."""

    feed_name: str
    entries: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped_known: int = 0
    failed: int = 0
    feed_failed: bool = False
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, error_class: str) -> None:
        """Count one failure of the given class."""
        self.failed += 1
        self.failures[error_class] = self.failures.get(error_class, 0) + 1


def to_json(record: Any) -> dict[str, Any]:
    """Turn a record into JSON values (datetimes as ISO 8601, strings storable, bytes refused).

    Args:
        record: an instance of one of the dataclasses above.

    Returns:
        A dict of plain JSON values.
    """
    out: dict[str, Any] = {}
    for item in dataclasses.fields(record):
        out[item.name] = _dump(getattr(record, item.name))
    return out


def _dump(value: Any) -> Any:
    """Convert one field value to JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, bytes):
        raise TypeError("bytes do not travel as JSON; store them in the warehouse")
    if isinstance(value, str):
        return storable(value)
    return value


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a record of type cls from to_json output (unknown keys ignored).

    Args:
        cls: the record class.
        data: the dict produced by to_json.

    Returns:
        The record.
    """
    kwargs: dict[str, Any] = {}
    for name, hint in _field_hints(cls):  # type: ignore[arg-type]
        if name in data:
            kwargs[name] = _load(hint, data[name])
    return cls(**kwargs)


@functools.cache
def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, resolved type) of a record's fields; get_type_hints is slow, so once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((item.name, hints[item.name]) for item in dataclasses.fields(cls))


def _load(hint: Any, value: Any) -> Any:
    """Convert one JSON value back to the field's declared type."""
    if value is None:
        return None
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], value) if inner else value
    if hint is datetime:
        return datetime.fromisoformat(value)
    if origin is tuple:
        # JSON already holds scalars as they are: no call per item.
        scalar = args[0] in (int, float, str)
        return tuple(value) if scalar else tuple(_load(args[0], v) for v in value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_json(hint, value)
    return value
