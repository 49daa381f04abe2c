"""Cleaning pass: remove the lines trafilatura keeps that a reader would not call the article."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("cleaning_rules.toml")
ANY_LANGUAGE = "any"
# English prompts appear on sites in every language (see cleaning_rules.toml).
SHARED_LANGUAGE = "en"
SCOPES = ("line", "block", "tail")
# The built-in category of lines removed because they repeat an earlier line.
REPEAT = "repeat"
WHITESPACE = re.compile(r"\s+")
LIST_MARKER = re.compile(r"[-•*·▪]\s+")
# A heading ends without sentence punctuation (quotes included: "«...»" is a quotation).
SENTENCE_END = tuple('.!?;:…"”»)')


class RulesError(ValueError):
    """The cleaning rules file is malformed."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern of the rules file; id is category.language.key."""

    id: str
    category: str
    language: str
    pattern: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """A kind of junk and how its matches spread (see the rules file header)."""

    name: str
    scope: str = "line"
    box: bool = False
    list_after: bool = False
    tail_min: int = 2
    skip_reason: str = ""


@dataclass(frozen=True, slots=True)
class Removal:
    """A line the pass removed and the rule that removed it."""

    rule: str
    category: str
    line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleaned:
    """The blocks that are left, what was removed, and the skip reasons of matched categories."""

    blocks: tuple[str, ...]
    removed: tuple[Removal, ...] = ()
    skip_reasons: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The kept blocks as one text, one block per line group."""
        return "\n".join(self.blocks)


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One alternation of every rule that applies to a set of languages."""

    regex: re.Pattern[str] | None
    rules: tuple[Rule, ...]

    def match(self, line: str) -> Rule | None:
        """The rule matching the whole (normalised) line, or None."""
        if self.regex is None:
            return None
        found = self.regex.fullmatch(line)
        if found is None or found.lastgroup is None:
            return None
        return self.rules[int(found.lastgroup[1:])]


class RuleSet:
    """The compiled rules file: categories, rules, and a matcher per language."""

    def __init__(
        self,
        rules: Sequence[Rule],
        categories: Mapping[str, Category],
        *,
        max_line_chars: int,
        min_repeat_chars: int,
        box: Mapping[str, int],
        digest: str,
    ) -> None:
        self.rules = tuple(rules)
        self.categories = {REPEAT: Category(name=REPEAT), **categories}
        self.max_line_chars = max_line_chars
        self.min_repeat_chars = min_repeat_chars
        self.box_min_run = box["min_run"]
        self.box_heading_lines = box["heading_lines"]
        self.heading_max_words = box["heading_max_words"]
        self.digest = digest
        self.languages = frozenset(r.language for r in self.rules) - {ANY_LANGUAGE}
        self._matchers: dict[frozenset[str], _Matcher] = {}

    def matcher(self, language: str) -> _Matcher:
        """The matcher for a page in this language (cached)."""
        language = language.split("-", maxsplit=1)[0].lower()
        if language in self.languages:
            wanted = frozenset({ANY_LANGUAGE, SHARED_LANGUAGE, language})
        else:
            wanted = self.languages | {ANY_LANGUAGE}
        if wanted not in self._matchers:
            chosen = tuple(r for r in self.rules if r.language in wanted)
            alternation = "|".join(f"(?P<r{i}>{r.pattern})" for i, r in enumerate(chosen))
            regex = re.compile(alternation, re.IGNORECASE) if chosen else None
            self._matchers[wanted] = _Matcher(regex, chosen)
        return self._matchers[wanted]


def load_rules(path: Path = RULES_FILE) -> RuleSet:
    """Read and compile a cleaning rules file.

    Args:
        path: the TOML file (see cleaning_rules.toml for its layout).

    Returns:
        The compiled rule set.

    Raises:
        RulesError: an unknown option, a bad scope or a pattern that does not compile.
    """
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    max_line_chars = int(data.pop("max_line_chars"))
    min_repeat_chars = int(data.pop("min_repeat_chars"))
    box = {key: int(value) for key, value in data.pop("box").items()}
    categories: dict[str, Category] = {}
    rules: list[Rule] = []
    for name, table in data.items():
        options = {k: v for k, v in table.items() if not isinstance(v, dict)}
        categories[name] = _category(name, options)
        for language, patterns in table.items():
            if isinstance(patterns, dict):
                rules.extend(_rules(name, language, patterns))
    return RuleSet(
        rules,
        categories,
        max_line_chars=max_line_chars,
        min_repeat_chars=min_repeat_chars,
        box=box,
        digest=hashlib.sha256(raw).hexdigest()[:12],
    )


def _category(name: str, options: dict[str, Any]) -> Category:
    """A category from its options, refusing unknown ones."""
    try:
        category = Category(name=name, **options)
    except TypeError as exc:
        raise RulesError(f"category {name}: {exc}") from exc
    if category.scope not in SCOPES:
        raise RulesError(f"category {name}: scope must be one of {SCOPES}")
    return category


def _rules(category: str, language: str, patterns: dict[str, Any]) -> list[Rule]:
    """The rules of one category and language, each compiled once to report errors early."""
    out = []
    for key, pattern in patterns.items():
        rule_id = f"{category}.{language}.{key}"
        try:
            compiled = re.compile(str(pattern), re.IGNORECASE)
        except re.error as exc:
            raise RulesError(f"rule {rule_id}: {exc}") from exc
        if compiled.groups:
            # Capturing groups would shift the numbering of the combined alternation.
            raise RulesError(f"rule {rule_id}: use non-capturing groups (?:...)")
        out.append(Rule(rule_id, category, language, str(pattern)))
    return out


@cache
def default_rules() -> RuleSet:
    """The rules bundled with the package, compiled once per process."""
    return load_rules()


def normalise(line: str) -> str:
    """A line as rules see it: stripped, single-spaced, without a leading list marker."""
    text = WHITESPACE.sub(" ", line).strip()
    marker = LIST_MARKER.match(text)
    return text[marker.end() :] if marker else text


def clean_text(text: str, language: str = "", rules: RuleSet | None = None) -> Cleaned:
    """Clean a plain text whose lines are its blocks (see clean_blocks).

    Args:
        text: extracted text, one paragraph per line.
        language: ISO 639-1 code of the page ("" when unknown).
        rules: the rule set (default: the bundled rules).

    Returns:
        What is left, and what was removed by which rule.
    """
    return clean_blocks(text.split("\n"), language, rules)


def clean_blocks(
    blocks: Sequence[str], language: str = "", rules: RuleSet | None = None
) -> Cleaned:
    """Remove junk lines from an article's blocks.

    A block is one paragraph, heading, list, table or quotation; its lines are
    separated by newlines. Only whole lines are removed (whole blocks for
    block-scope categories), and a line longer than the rules' max_line_chars
    is never touched.

    Args:
        blocks: the article's blocks in reading order.
        language: ISO 639-1 code of the page ("" when unknown: every language applies).
        rules: the rule set (default: the bundled rules).

    Returns:
        The kept blocks, the removed lines and the skip reasons of matched categories.
    """
    rules = rules or default_rules()
    matcher = rules.matcher(language)
    lines = [block.split("\n") for block in blocks]
    # Positions of non-blank lines in reading order; neighbours are looked up in it.
    order = [
        (b, i) for b, block in enumerate(lines) for i, line in enumerate(block) if line.strip()
    ]
    marks: dict[tuple[int, int], Removal] = {}
    seen: set[str] = set()
    for b, i in order:
        text = normalise(lines[b][i])
        if len(text) >= rules.min_repeat_chars:
            key = text.casefold()
            if key in seen:
                marks[(b, i)] = Removal(REPEAT, REPEAT, lines[b][i])
                continue
            seen.add(key)
        if len(text) > rules.max_line_chars or (rule := matcher.match(text)) is None:
            continue
        if rules.categories[rule.category].scope == "block":
            for j, other in enumerate(lines[b]):
                marks.setdefault((b, j), Removal(rule.id, rule.category, other))
        else:
            marks[(b, i)] = Removal(rule.id, rule.category, lines[b][i])
    _cut_tails(rules, lines, order, marks)
    _spread_boxes(rules, lines, order, marks)
    _drop_lists_after(rules, lines, order, marks)
    kept = []
    for b, block in enumerate(lines):
        left = [line for i, line in enumerate(block) if (b, i) not in marks]
        if any(line.strip() for line in left):
            kept.append("\n".join(left))
    removed = tuple(marks[pos] for pos in sorted(marks))
    if removed:
        LOGGER.debug("cleaning removed %d lines: %s", len(removed), [r.rule for r in removed])
    reasons = dict.fromkeys(
        rules.categories[r.category].skip_reason
        for r in removed
        if rules.categories[r.category].skip_reason
    )
    return Cleaned(blocks=tuple(kept), removed=removed, skip_reasons=tuple(reasons))


def _heading_like(line: str, max_words: int) -> bool:
    """A short line without sentence punctuation at its end."""
    text = normalise(line)
    return bool(text) and len(text.split()) <= max_words and not text.endswith(SENTENCE_END)


def _cut_tails(
    rules: RuleSet,
    lines: list[list[str]],
    order: list[tuple[int, int]],
    marks: dict[tuple[int, int], Removal],
) -> None:
    """Mark everything from the first signature of a comment section to the end of the body."""
    for name, category in rules.categories.items():
        if category.scope != "tail":
            continue
        hits = [n for n, pos in enumerate(order) if (m := marks.get(pos)) and m.category == name]
        if len(hits) < category.tail_min:
            # Too few signatures for a comment section: the lines are the article's.
            for n in hits:
                del marks[order[n]]
            continue
        for b, i in order[hits[0] :]:
            marks.setdefault((b, i), Removal(f"{name}.tail", name, lines[b][i]))


def _spread_boxes(
    rules: RuleSet,
    lines: list[list[str]],
    order: list[tuple[int, int]],
    marks: dict[tuple[int, int], Removal],
) -> None:
    """Mark the short headings above each run of box lines (a slogan and a kicker)."""
    run = 0
    for n, pos in enumerate([*order, (-1, -1)]):
        mark = marks.get(pos)
        if mark is not None and rules.categories[mark.category].box:
            run += 1
            continue
        if run >= rules.box_min_run:
            category = marks[order[n - 1]].category
            for above in reversed(order[max(0, n - run - rules.box_heading_lines) : n - run]):
                b, i = above
                if above in marks or not _heading_like(lines[b][i], rules.heading_max_words):
                    break
                marks[above] = Removal(f"{category}.box-heading", category, lines[b][i])
        run = 0


def _drop_lists_after(
    rules: RuleSet,
    lines: list[list[str]],
    order: list[tuple[int, int]],
    marks: dict[tuple[int, int], Removal],
) -> None:
    """Mark the list items right below a teaser heading ("Read more:" and its links)."""
    current: Removal | None = None
    for b, i in order:
        mark = marks.get((b, i))
        line = lines[b][i]
        item = LIST_MARKER.match(line.lstrip()) is not None
        if mark is not None and rules.categories[mark.category].list_after and not item:
            heading = len(normalise(line).split()) <= rules.heading_max_words
            current = mark if heading else None
        elif current is not None and item:
            marks.setdefault(
                (b, i), Removal(f"{current.category}.list-after", current.category, line)
            )
        else:
            current = None
