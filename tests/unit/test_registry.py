"""Tests of newsingest.registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest.registry import RegistryError, load_registry, parse_registry


def test_loads_entries_in_order(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - name: one\n    url: https://a.example/rss\n    kind: rss\n    outlet: A\n"
        "  - name: two\n    url: https://b.example/\n    kind: homepage\n    max_pages: 5\n"
        "    include: ['/news/']\n"
    )
    feeds = load_registry(path)
    assert [f.name for f in feeds] == ["one", "two"]
    assert feeds[0].outlet == "A"
    assert feeds[1].max_pages == 5
    assert feeds[1].include == ("/news/",)


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ([{"name": "a", "url": "https://x"}, {"name": "a", "url": "https://y"}], "duplicate"),
        ([{"name": "Bad Name", "url": "https://x"}], "must match"),
        ([{"name": "a", "url": "ftp://x"}], "http"),
        ([{"name": "a", "url": "https://x", "kind": "podcast"}], "kind"),
        ([{"name": "a", "url": "https://x", "colour": "red"}], "unknown keys"),
        ([{"name": "a", "url": "https://x", "max_pages": 0}], "max_pages"),
    ],
)
def test_invalid_entries_are_named(feeds: list[dict[str, object]], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry({"feeds": feeds})


def test_unreadable_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [unclosed")
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(bad)
