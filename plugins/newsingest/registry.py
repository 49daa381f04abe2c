"""The feed registry: a YAML file declaring each feed as data."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import yaml

from newsingest.addresses import redacted
from newsingest.records import FeedSource

LOGGER = logging.getLogger(__name__)

FEED_KINDS = frozenset({"auto", "rss", "atom", "rdf", "jsonfeed", "sitemap", "homepage"})
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KNOWN_KEYS = frozenset(
    {"name", "url", "kind", "outlet", "language", "max_pages", "refetch_updated", "include",
     "exclude"}
)  # fmt: skip


class RegistryError(ValueError):
    """The registry file cannot be used; the message names the entry and the problem."""


def load_registry(path: Path) -> list[FeedSource]:
    """Read and validate the feed registry.

    Args:
        path: YAML file with a top-level `feeds:` list.

    Returns:
        The feeds in file order.
    """
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
        lines = _entry_lines(text)
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read feed registry {path}: {exc}") from exc
    return parse_registry(document, source=str(path), lines=lines)


def _entry_lines(text: str) -> list[int]:
    """The 1-based line of each entry of the `feeds:` list, for error messages."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "feeds" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def _where(source: str, index: int, lines: list[int], raw: Any) -> str:
    """`file:line: feed 'name'` for an entry; its 1-based position when it has no name."""
    place = f"{source}:{lines[index]}" if index < len(lines) else source
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{place}: feed {name!r}" if name else f"{place}: feed #{index + 1}"


def parse_registry(
    document: Any, *, source: str = "<registry>", lines: list[int] | None = None
) -> list[FeedSource]:
    """Validate an already-parsed registry document.

    Args:
        document: the YAML value ({"feeds": [...]}).
        source: name used in error messages.
        lines: the line of each entry in source, when known, for error messages.

    Returns:
        The feeds in order.
    """
    if not isinstance(document, dict) or not isinstance(document.get("feeds"), list):
        raise RegistryError(f"{source}: expected a mapping with a 'feeds' list")
    feeds: list[FeedSource] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["feeds"]):
        where = _where(source, index, lines or [], raw)
        if not isinstance(raw, dict):
            raise RegistryError(f"{where}: expected a mapping")
        unknown = set(raw) - KNOWN_KEYS
        if unknown:
            raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
        name = str(raw.get("name", ""))
        if not NAME.match(name):
            raise RegistryError(f"{where}: name {name!r} must match {NAME.pattern}")
        if name in seen:
            raise RegistryError(f"{where}: duplicate feed name {name!r}")
        seen.add(name)
        url = str(raw.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise RegistryError(f"{where}: url must be http(s), got {redacted(url)!r}")
        if redacted(url) != url:
            # The fetcher never sends credentials (it refuses every URL with user info).
            raise RegistryError(f"{where}: url {redacted(url)!r} carries user info; remove it")
        kind = str(raw.get("kind", "auto"))
        if kind not in FEED_KINDS:
            raise RegistryError(f"{where}: kind {kind!r} not in {sorted(FEED_KINDS)}")
        max_pages = raw.get("max_pages")
        if max_pages is not None and (not isinstance(max_pages, int) or max_pages < 1):
            raise RegistryError(f"{where}: max_pages must be a positive integer")
        feeds.append(
            FeedSource(
                name=name,
                url=url,
                kind=kind,
                outlet=str(raw.get("outlet", "")),
                language=str(raw.get("language", "")),
                max_pages=max_pages,
                refetch_updated=bool(raw.get("refetch_updated", False)),
                include=tuple(str(p) for p in raw.get("include", ()) or ()),
                exclude=tuple(str(p) for p in raw.get("exclude", ()) or ()),
            )
        )
    return feeds
