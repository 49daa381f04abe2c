"""Properties of newsingest.cleaning (hypothesis): no sentence that no rule names is removed,
whatever junk surrounds it, and cleaning a cleaned body changes nothing.

A sentence here is a line ending in sentence punctuation that no rule of any language
matches; the junk lines are those of tests/unit/test_cleaning.py, one or more per rule.
Examples are derandomised (the "ci" profile of tests/conftest.py).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newsingest.cleaning import Cleaned, clean_blocks, clean_text, default_rules, normalise
from tests.unit.test_cleaning import ARTICLE, JUNK

RULES = default_rules()
LANGUAGES = ["", "en", "de", "fr", "es", "it"]
SCOPE = {rule.id: RULES.categories[rule.category].scope for rule in RULES.rules}
LINE_JUNK = sorted(
    {line for rule, lines in JUNK.items() if SCOPE[rule] == "line" for line in lines}
)
BLOCK_JUNK = sorted(
    {line for rule, lines in JUNK.items() if SCOPE[rule] == "block" for line in lines}
)
TAIL_JUNK = sorted(
    {line for rule, lines in JUNK.items() if SCOPE[rule] == "tail" for line in lines}
)
# Words of news prose, many of them the words junk is made of: a sentence may say
# "share", "support" or "newsletter" and still be the article's.
PROSE = (
    "the council vote harbour ferry support share newsletter comments photo reply follow "
    "subscribe cookies donate read more related home advertising credit report source "
    "minister said on Friday after a long debate residents were told that prices rose by "
    "per cent in March police club members will meet again next week her his their our "
    "Instagram Twitter article story editor reporting free independent journalism"
)
WORDS = PROSE.split()


def _named(line: str) -> bool:
    """Whether any rule, of any language, matches the whole line (as the rules file defines)."""
    text = normalise(line)
    return any(re.fullmatch(rule.pattern, text, re.IGNORECASE) for rule in RULES.rules)


generated = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(st.sampled_from(WORDS), min_size=3, max_size=24),
    st.sampled_from([".", "!", "?", "…", ", she said.", ', "he said".']),
)
curated = st.sampled_from([s for _, s in ARTICLE if s.endswith((".", "!", "?", "”"))])
sentence = st.one_of(generated, curated).filter(lambda s: not _named(s))
sentences = st.lists(sentence, min_size=1, max_size=12, unique_by=lambda s: s.casefold())


@st.composite
def body(draw: st.DrawFn, tail: bool = False) -> tuple[list[str], list[str]]:
    """(blocks, sentences): sentence paragraphs with junk blocks and junk lines between them."""
    wanted = draw(sentences)
    blocks: list[str] = []
    for text in wanted:
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                blocks.append(draw(st.sampled_from(LINE_JUNK)))
            else:  # an embed: junk lines that only together are a block
                blocks.append("\n".join(draw(st.lists(st.sampled_from(BLOCK_JUNK), min_size=1))))
        lines = [text]
        if draw(st.booleans()):  # a prompt or a credit inside the paragraph, on a line of its own
            lines.insert(draw(st.integers(0, 1)), draw(st.sampled_from(LINE_JUNK)))
        blocks.append("\n".join(lines))
    if tail:  # a comment section after the article: signatures and what readers wrote
        blocks += draw(st.lists(st.one_of(st.sampled_from(TAIL_JUNK), sentence), min_size=3))
    return blocks, wanted


def _lines(cleaned: Cleaned) -> list[str]:
    return [line for block in cleaned.blocks for line in block.split("\n")]


@settings(max_examples=250)
@given(body(), st.sampled_from(LANGUAGES))
def test_no_sentence_that_no_rule_names_is_removed(
    drawn: tuple[list[str], list[str]], language: str
) -> None:
    blocks, wanted = drawn
    kept = [line for line in _lines(clean_blocks(blocks, language)) if line in wanted]
    assert kept == wanted


@settings(max_examples=150)
@given(body(tail=True), st.sampled_from(LANGUAGES))
def test_a_comment_section_takes_no_sentence_above_it(
    drawn: tuple[list[str], list[str]], language: str
) -> None:
    blocks, wanted = drawn
    kept = _lines(clean_blocks(blocks, language))
    assert [line for line in kept if line in wanted][: len(wanted)] == wanted


@settings(max_examples=250)
@given(body(tail=True), st.sampled_from(LANGUAGES))
def test_cleaning_a_cleaned_body_changes_nothing(
    drawn: tuple[list[str], list[str]], language: str
) -> None:
    once = clean_blocks(drawn[0], language)
    twice = clean_blocks(once.blocks, language)
    assert twice.blocks == once.blocks
    assert twice.removed == ()


# Lines of every kind the pass treats specially: junk of each scope, list items, short
# headings, blanks and spacing, long repeated lines.
odd_line = st.one_of(
    st.sampled_from(LINE_JUNK + BLOCK_JUNK + TAIL_JUNK),
    sentence,
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),  # headings
    st.builds("{}{}".format, st.sampled_from(["- ", "• ", "* ", "  ", "\t"]), sentence),
    st.sampled_from(["", " ", "Read more:", "Lire aussi :", "- Le permafrost fond", "Reply"]),
    st.text(max_size=30),
)


@settings(max_examples=300)
@given(st.lists(odd_line, max_size=30), st.sampled_from(LANGUAGES))
def test_cleaning_any_text_twice_is_cleaning_it_once(lines: list[str], language: str) -> None:
    once = clean_text("\n".join(lines), language)
    assert clean_text(once.body, language).body == once.body
