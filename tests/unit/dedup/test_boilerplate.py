"""Tests of newsingest.dedup.boilerplate: lines beside unrelated texts, whatever their site."""

from __future__ import annotations

from pathlib import Path

from newsingest.dedup.assign import line_hash, line_hashes
from newsingest.dedup.boilerplate import batch_boilerplate
from newsingest.records import DedupDoc

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dedup"
STRIKE = (FIXTURES / "strike.txt").read_text(encoding="utf-8").strip()
RAIL = (FIXTURES / "rail.txt").read_text(encoding="utf-8").strip()
FOOTER = (FIXTURES / "footer.txt").read_text(encoding="utf-8").strip()
SHORT_NEWS = (FIXTURES / "short_news.txt").read_text(encoding="utf-8").strip().splitlines()


def found(docs: list[DedupDoc], stored: dict[int, int] | None = None) -> frozenset[int]:
    hashes = {d.doc_id: line_hashes(d.text) for d in docs}
    return batch_boilerplate(docs, hashes, stored or {}, contexts=4)


def test_a_footer_beside_unrelated_texts_is_boilerplate() -> None:
    docs = [DedupDoc(doc_id=f"n{i}", text=f"{news}\n{FOOTER}") for i, news in enumerate(SHORT_NEWS)]
    assert found(docs) == {line_hash(line) for line in FOOTER.splitlines()}


def test_a_footer_on_too_few_unrelated_texts_is_not() -> None:
    docs = [
        DedupDoc(doc_id=f"n{i}", text=f"{news}\n{FOOTER}") for i, news in enumerate(SHORT_NEWS[:3])
    ]
    assert found(docs) == frozenset()


def test_copies_of_one_story_keep_their_lines() -> None:
    # Six copies share every line of the story, and the rest of their text too.
    lines = STRIKE.splitlines()
    docs = [DedupDoc(doc_id=f"c{i}", text="\n".join(lines[: 5 + i % 3])) for i in range(6)]
    assert found(docs) == frozenset()


def test_stored_founders_count_as_unrelated_texts() -> None:
    docs = [DedupDoc(doc_id="a", text=f"{STRIKE}\n{FOOTER}"),
            DedupDoc(doc_id="b", text=f"{RAIL}\n{FOOTER}")]  # fmt: skip
    footer = {line_hash(line) for line in FOOTER.splitlines()}
    # Two unrelated texts of the batch and two stored founders: four.
    assert found(docs, dict.fromkeys(footer, 2)) == footer
    assert found(docs, dict.fromkeys(footer, 4)) == footer
    assert found(docs, dict.fromkeys(footer, 1)) == frozenset()


def test_a_lead_copied_by_truncated_copies_with_links_of_their_own_is_the_story_s() -> None:
    # The lead stands beside four unrelated-looking texts (three truncated copies, each
    # with its own "Read more" link, and the full story with its copies), but most of
    # its holders are one story's texts: it is that story's line, not boilerplate.
    lines = STRIKE.splitlines()
    full = [DedupDoc(doc_id=f"full{i}", text="\n".join(lines[: len(lines) - i])) for i in range(3)]
    truncated = [
        DedupDoc(doc_id=f"lead{i}", text=f"{lines[0]}\nRead more: {SHORT_NEWS[i]}")
        for i in range(3)
    ]
    assert line_hash(lines[0]) not in found([*full, *truncated])


def test_a_footer_beside_a_few_copies_of_one_story_and_many_other_texts_is_boilerplate() -> None:
    lines = STRIKE.splitlines()
    copies = [DedupDoc(doc_id=f"c{i}", text="\n".join([*lines[: 5 + i], FOOTER])) for i in range(2)]
    others = [
        DedupDoc(doc_id=f"n{i}", text=f"{news}\n{FOOTER}") for i, news in enumerate(SHORT_NEWS)
    ]
    assert found([*copies, *others]) == {line_hash(line) for line in FOOTER.splitlines()}
