"""The README's data dictionary matches the migrated schema's comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest import datadict

README = Path(__file__).parents[2] / "README.md"


def test_readme_dictionary_is_in_sync(warehouse_dsn: str) -> None:
    readme = README.read_text(encoding="utf-8")
    expected = datadict.replace_section(readme, datadict.render(warehouse_dsn))
    assert readme == expected, (
        "README.md's data dictionary is stale: run "
        "`newsingest data-dictionary --write README.md` against a migrated warehouse"
    )


def test_dictionary_names_every_column(warehouse_dsn: str) -> None:
    text = datadict.render(warehouse_dsn)
    assert "#### `news.articles` (table)" in text
    assert "| `canonical_url` | text | Normalised URL" in text
    assert "#### `news.unique_stories` (view)" in text


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        datadict.replace_section("# no markers", "x")
