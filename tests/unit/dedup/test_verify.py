"""Tests of newsingest.dedup.verify and the two-stage decisions, on small hand-written texts.

Every document here is text only (no site, URL or date), as `newsingest
dedup --input` may be given them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsingest.dedup.assign import Index, deduplicate
from newsingest.dedup.fingerprints import content_hash
from newsingest.dedup.verify import align, decode, sketch
from newsingest.records import DedupDoc, DedupResult
from newsingest.settings import Settings

SETTINGS = Settings()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dedup"


def _text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").strip()


STRIKE = _text("strike.txt")

RAIL = _text("rail.txt")

# Another report of the strike's end: the same event, names, numbers and quote, its own text.
STRIKE_REPORT = _text("strike_report.txt")

FOOTER = _text("footer.txt")

SHORT_NEWS = _text("short_news.txt").splitlines()


def doc(doc_id: str, text: str, published_at: datetime | None = None) -> DedupDoc:
    return DedupDoc(
        doc_id=doc_id, text=text, published_at=published_at, content_hash=content_hash(text)
    )


def run(*docs: DedupDoc) -> dict[str, DedupResult]:
    results = deduplicate(docs, Index(df_cap=SETTINGS.dedup_df_cap), SETTINGS)
    return {r.canonical_url: r for r in results}


def spin(text: str, share: float, seed: int = 3) -> str:
    """Replace share of the longer words by another word of the text, as spinners do."""
    rng = random.Random(seed)
    words = text.split(" ")
    pool = [w for w in words if w.isalpha() and len(w) > 3]
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        if words[i].isalpha() and len(words[i]) > 3:
            words[i] = rng.choice(pool)
    return " ".join(words)


def drop_and_reorder(text: str) -> str:
    """Every third sentence dropped, the rest in reverse order."""
    lines = text.splitlines()
    return "\n".join(reversed([line for i, line in enumerate(lines) if i % 3 != 1]))


def test_sketch_leaves_quotes_and_short_words_out() -> None:
    text = (
        "“We have won what we came for,” she said.\nDockworkers returned to the quays on Saturday."
    )
    found = sketch(text)
    assert found.lengths.tolist() == [4]  # dockworkers returned quays saturday
    assert decode(found.encode()) == found
    assert decode(found.to_bytes()) == found
    # As a decision carries it in JSON; a list of ints (decisions staged before) still reads.
    assert decode(found.to_text()) == found
    assert decode(list(found.encode())) == found


def test_a_truncated_lead_with_junk_is_linked() -> None:
    lead = STRIKE.splitlines()[0]
    truncated = lead + "\nAdvertisement\nShare on Facebook | Share on X | Email"
    results = run(doc("strike", STRIKE), doc("lead", truncated))
    assert results["lead"].duplicate_of == "strike"
    assert results["lead"].relation == "near"


def test_a_heavy_rewrite_is_linked() -> None:
    rewrite = spin(drop_and_reorder(STRIKE), 0.25)
    assert align(sketch(rewrite), sketch(STRIKE), SETTINGS.dedup_sentence_share).share > 0.5
    results = run(doc("strike", STRIKE), doc("rewrite", rewrite))
    assert results["rewrite"].duplicate_of == "strike"


def test_unrelated_texts_sharing_a_long_footer_stay_apart() -> None:
    docs = [doc(f"short{i}", f"{news}\n{FOOTER}") for i, news in enumerate(SHORT_NEWS)]
    results = run(*docs)
    assert {r.relation for r in results.values()} == {"original"}


def test_a_story_copied_with_the_footer_still_links() -> None:
    # The footer is boilerplate (beside unrelated texts); the story's own text still links.
    docs = [doc(f"short{i}", f"{news}\n{FOOTER}") for i, news in enumerate(SHORT_NEWS)]
    docs += [doc("strike", STRIKE), doc("copy", "\n".join(STRIKE.splitlines()[:3]) + "\n" + FOOTER)]
    results = run(*docs)
    # Undated, the longer of the two founds the story (the copy, with its footer).
    assert results["copy"].cluster_key == results["strike"].cluster_key
    assert {results[f"short{i}"].relation for i in range(len(SHORT_NEWS))} == {"original"}


@pytest.mark.parametrize("dated", [True, False], ids=["dated", "text-only"])
def test_a_stitched_page_joins_its_first_story_and_names_the_second(dated: bool) -> None:
    page = "\n".join([*STRIKE.splitlines()[:4], "Meanwhile", *RAIL.splitlines()[2:4]])
    day = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)) if dated else ()
    results = run(
        doc("strike", STRIKE, *day[:1]), doc("rail", RAIL, *day[:1]), doc("page", page, *day[1:])
    )
    assert results["page"].duplicate_of == "strike"
    assert results["page"].relation == "stitched"
    assert results["page"].secondary_of == "rail"
    assert results["rail"].relation == "original"


def test_an_independent_report_of_the_same_event_stays_apart() -> None:
    results = run(doc("strike", STRIKE), doc("report", STRIKE_REPORT))
    assert results["report"].relation == "original"


def test_order_of_an_undated_batch_does_not_matter() -> None:
    lead = "\n".join(STRIKE.splitlines()[:2]) + "\nAdvertisement"
    docs = [doc("strike", STRIKE), doc("lead", lead), doc("rewrite", spin(STRIKE, 0.2)),
            doc("rail", RAIL), doc("report", STRIKE_REPORT)]  # fmt: skip
    forward = run(*docs)
    assert run(*reversed(docs)) == forward
    story = {forward[name].cluster_key for name in ("strike", "lead", "rewrite")}
    assert len(story) == 1
    assert forward["rail"].cluster_key not in story
    assert forward["report"].cluster_key not in story


# One official statement of four sentences, quoted whole by two short reports written apart.
STATEMENT = (
    "The King has today begun a schedule of regular treatments, during which time His Majesty "
    "has been advised by doctors to postpone public-facing duties. Throughout this process, His "
    "Majesty has been grateful to his medical team for their swift intervention. He remains "
    "wholly positive about his treatment and looks forward to returning to full public duty as "
    "soon as possible. His Majesty has chosen to share his diagnosis to prevent speculation."
)


def test_short_reports_quoting_one_long_statement_stay_apart() -> None:
    # Nearly all of each text is the quoted statement: shared quotes are not copying.
    first = (
        "Royal officials confirmed the news on Monday evening.\n"
        f"Buckingham Palace said in a statement: “{STATEMENT}”"
    )
    second = (
        "Well-wishers gathered at the gates as the announcement spread across the capital.\n"
        f'The palace statement read: "{STATEMENT}"'
    )
    results = run(doc("first", first), doc("second", second))
    assert results["second"].relation == "original"
    assert results["first"].relation == "original"


def test_sentences_sharing_only_facts_and_a_stock_phrase_do_not_align() -> None:
    # Same names and numbers, "yards and two touchdowns": an independent report, not a copy.
    report = sketch(
        "Mahomes threw for 250 yards and two touchdowns as Kansas City beat Buffalo.\n"
        "The Chiefs were again led by Mahomes in the fourth quarter."
    )
    other = sketch(
        "Mahomes passed for 250 yards and two touchdowns, Kansas City edging Buffalo.\n"
        "Mahomes and the Chiefs host Denver next week."
    )
    assert align(report, other, SETTINGS.dedup_sentence_share).share == 0.0
    # The same sentences copied keep their ordinary words, and align.
    copy = sketch(
        "Mahomes threw for 250 yards and two touchdowns as Kansas City beat Buffalo on Sunday."
    )
    assert align(copy, report, SETTINGS.dedup_sentence_share).share == 1.0


def test_a_sketch_marks_names_and_numbers_as_facts() -> None:
    found = sketch("Officials in Lisbon counted 1200 boats along the river Tagus yesterday.")
    # officials (first word, not written capitalised elsewhere) counted boats along river
    # yesterday are ordinary; lisbon, tagus (names) and 1200 (a number) are facts.
    assert found.lengths.tolist() == [9]
    assert found.facts.tolist() == [3]
    assert int(found.plain.sum()) == 6
    assert decode(found.to_bytes()) == found


def test_paragraphs_run_together_are_split_into_sentences() -> None:
    together = "".join(STRIKE.splitlines())  # "…for night shifts.Dockworkers had walked out…"
    assert sketch(together).lengths.size == sketch(STRIKE).lengths.size
    results = run(doc("strike", STRIKE), doc("together", together))
    assert results["together"].duplicate_of == "strike"


def test_a_short_copy_behind_a_photo_caption_is_linked() -> None:
    caption = (
        "Cranes stand idle above stacked containers while a lone guard walks past the closed "
        "terminal gates in the early morning light, as pickets shelter from the rain under "
        "umbrellas and makeshift tarpaulin shelters near the entrance. (Photo: Haas/AFP)"
    )
    copy = "\n".join([caption, *STRIKE.splitlines()[:2]])
    results = run(doc("strike", STRIKE), doc("copy", copy))
    assert results["copy"].duplicate_of == "strike"


def test_a_short_copy_joins_its_source_rather_than_a_report_of_the_same_event() -> None:
    bulletin = "\n".join(STRIKE.splitlines()[:2])
    results = run(doc("strike", STRIKE), doc("report", STRIKE_REPORT), doc("bulletin", bulletin))
    assert results["bulletin"].duplicate_of == "strike"
    assert results["report"].relation == "original"


def test_a_photo_caption_longer_than_the_one_paragraph_it_heads_is_a_lead_in() -> None:
    caption = (
        "Cranes stand idle above stacked containers while a lone guard walks past the closed "
        "terminal gates in the early morning light, as pickets shelter from the rain under "
        "umbrellas and makeshift tarpaulin shelters near the entrance. (Photo: Haas/AFP)"
    )
    copy = "\n".join([caption, STRIKE.splitlines()[0]])
    assert sketch(caption).size > sketch(STRIKE.splitlines()[0]).size
    results = run(doc("strike", STRIKE), doc("copy", copy))
    assert results["copy"].duplicate_of == "strike"


def test_a_short_text_of_its_own_sharing_one_line_of_another_stays_apart() -> None:
    # Its own three paragraphs are far more than the shared line: not a lead-in before it.
    own = "\n".join([*SHORT_NEWS[:3], FOOTER.splitlines()[0]])
    results = run(doc("rail", f"{FOOTER.splitlines()[0]}\n{RAIL}"), doc("own", own))
    assert results["own"].relation == "original"


def test_truncated_copies_each_with_a_link_of_its_own_join_their_story() -> None:
    lines = STRIKE.splitlines()
    copies = [doc(f"lead{i}", f"{lines[0]}\nRead more: {SHORT_NEWS[i]}") for i in range(3)]
    full = [doc(f"full{i}", "\n".join(lines[: len(lines) - i])) for i in range(3)]
    results = run(*full, *copies)
    story = results["full0"].cluster_key
    assert [results[f"lead{i}"].cluster_key for i in range(3)] == [story] * 3
