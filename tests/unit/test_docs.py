"""Relative links of the README and docs/ resolve to a file, and to a heading when they name one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [
        target
        for target in LINK.findall(text)
        if not target.startswith(("http://", "https://", "mailto:"))
    ]


def _broken(document: Path) -> list[str]:
    """The relative links of a document that lead nowhere, each with the reason."""
    broken = []
    for target in _links(document):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md":
            anchors = {_anchor(h) for h in HEADING.findall(resolved.read_text(encoding="utf-8"))}
            if anchor not in anchors:
                broken.append(f"{target}: no heading #{anchor}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    assert not _broken(document), f"{document.name}: broken links: {_broken(document)}"


def test_readme_links_the_deep_documentation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("fetching", "extraction", "clustering", "benchmarks"):
        assert f"(docs/{name}.md)" in readme, f"README.md does not link docs/{name}.md"


def test_broken_links_and_anchors_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("## Where to read more\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# A title\n\n[a](missing.md) [b](#a-title) [c](#nowhere) [d](other.md#where-to-read-more)"
        " [e](other.md#gone) [f](https://example.org/x)\n\n```\n[g](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert _broken(page) == [
        "missing.md: no such file",
        "#nowhere: no heading #nowhere",
        "other.md#gone: no heading #gone",
    ]
