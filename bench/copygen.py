"""A second labelled near-duplicate set, written apart from newsingest.variants.

The engine and newsingest.variants were written together; this generator
was written from the issue's description of real copies instead, with its
own perturbation code and intensities, and no site, URL or date on any
document (the engine sees text only). Kinds of copy:

- trunc_paras: the first 1-3 paragraphs, then 1-3 junk lines or the long footer;
- trunc_share: the first 20-50% of the words (cut at a sentence end), then junk;
- stitched: 50-80% of story A, an optional separator, then 30-60% of story B;
- heavy: 25-30% of words spun, 30% of sentences dropped, paragraphs
  reordered, 2% typos;
- mt: a machine-translation-like rewrite (20% synonyms, articles dropped,
  prepositions swapped);
- templated: the story whole inside an outlet's navigation and footer lines;
- run_together: the story with its paragraphs run together and no space
  after the full stop ("below.The blaze"), as badly extracted pages come;
- caption: a 45-70 word photo caption, then the first 1-2 paragraphs.

Negatives: hard negatives (another real text on the "same topic": it takes
the story's names, numbers and three of its sentences as quotes) and short
unrelated texts all carrying one shared footer of about 1.5 kB; pairs of
short independent reports built around one long quoted statement
(shared_statement: their own one or two sentences, then 3-5 sentences of
another text as the statement, in other quote marks, one sentence maybe
dropped); reports of the story's facts in other words (shared_facts: for
each of its first sentences, a sentence of another text given that
sentence's names, numbers and two or three of its ordinary words). Outlet
templates (navigation at the top, a footer at the end) are put on copies and
negatives alike, as syndication networks and content-farm templates do.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

COPY_KINDS = ("trunc_paras", "trunc_share", "stitched", "heavy", "mt", "templated",
              "run_together", "caption")  # fmt: skip
NEGATIVE_KINDS = ("same_topic", "footer", "shared_statement", "shared_facts")
# Kinds added later draw on a random source of their own, so the earlier kinds stay as they were.
_FIRST_KINDS = COPY_KINDS[:6]
_LATER_SEED = 7919

_SENTENCE_END = re.compile(r"([.!?][\"”»’)]?)\s+")
_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:\s[A-Z][a-z]{2,})?\b")
_TOKEN_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_ORDINARY = re.compile(r"\b[a-z]{4,}\b")
_STATEMENT_MARKS = (("“", "”"), ('"', '"'), ("«", "»"), ("„", "“"))
_SPEAKERS = ("The palace", "A spokesperson", "The company", "The ministry", "The club",
             "Police", "The cardinal", "Management")  # fmt: skip
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_ARTICLES = {"the", "a", "an", "The", "A", "An"}
_PREPOSITIONS = {"in": "at", "at": "in", "on": "upon", "of": "from", "to": "towards",
                 "for": "to", "with": "along with", "by": "through"}  # fmt: skip
# A thesaurus of its own (not newsingest.variants'): general verbs, nouns and adjectives.
_THESAURUS = {
    "announced": "declared", "decision": "ruling", "group": "organisation",
    "state": "province", "national": "countrywide", "public": "general", "number": "figure",
    "including": "among them", "during": "throughout", "despite": "in spite of",
    "according": "as per", "percent": "per cent", "million": "mn", "several": "a number of",
    "recent": "latest", "major": "key", "former": "ex", "however": "nevertheless",
    "would": "could", "could": "might", "should": "ought to", "will": "shall",
    "said": "noted", "says": "notes", "added": "continued", "called": "named",
    "found": "discovered", "began": "kicked off", "last": "previous", "first": "initial",
    "high": "elevated", "low": "reduced", "around": "roughly", "across": "throughout",
    "into": "inside", "between": "among", "against": "versus", "under": "beneath",
    "young": "youthful", "old": "aged", "family": "household", "children": "kids",
    "women": "females", "men": "males", "house": "home", "school": "academy",
    "money": "cash", "market": "marketplace", "health": "wellbeing", "work": "labour",
    "working": "labouring", "power": "authority", "water": "H2O", "world": "globe",
    "team": "squad", "game": "match", "win": "victory", "won": "secured", "lost": "dropped",
    "city": "municipality", "area": "region", "place": "location", "time": "period",
    "day": "date", "days": "dates", "week": "weekend", "month": "period", "year": "season",
    "good": "fine", "great": "terrific", "bad": "poor", "big": "sizeable", "little": "slight",
    "help": "aid", "need": "want", "want": "wish", "take": "grab", "took": "grabbed",
    "give": "hand", "gave": "handed", "make": "produce", "made": "produced", "see": "observe",
    "seen": "observed", "know": "realise", "known": "recognised", "told": "advised",
}  # fmt: skip
_SEPARATORS = (
    "Meanwhile", "Related:", "In other news", "READ MORE",
    "Please consider a donation: independent journalism depends on readers like you.",
)  # fmt: skip
_JUNK_TEMPLATES = (
    "Advertisement", "Share on Facebook | Share on X | Email", "Comments ({n})",
    "Photo: {name}/{agency}", "Read more: {line}", "Sponsored: {line}", "Loading...",
    "Click here to get our daily briefing delivered to your inbox",
    "© {year} {name} Media. All rights reserved.", "Tags: {words}",
)  # fmt: skip
_AGENCIES = ("AFP", "AP", "Reuters", "dpa", "EFE", "ANSA", "PA", "Xinhua")


@dataclass(frozen=True, slots=True)
class Doc:
    """A generated text and its label."""

    doc_id: str
    text: str
    story: str
    kind: str  # original, a copy kind or a negative kind
    source: str = ""  # the original it copies or mimics
    secondary: str = ""  # stitched: the original of the second story


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph (cut after . ! ? and any closing quote)."""
    pieces = _SENTENCE_END.split(paragraph.strip())
    found, current = [], ""
    for i, piece in enumerate(pieces):
        current += piece
        if i % 2 == 1:
            found.append(current.strip())
            current = ""
    if current.strip():
        found.append(current.strip())
    return found


def _paras(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class _Perturber:
    """Every perturbation, on one random source."""

    def __init__(self, rng: random.Random, filler: Sequence[str]) -> None:
        self.rng = rng
        self.filler = list(filler)

    def junk_line(self) -> str:
        template = self.rng.choice(_JUNK_TEMPLATES)
        words = self.rng.choice(self.filler).split()
        return template.format(
            n=self.rng.randrange(1, 400), name=self.rng.choice(("Kim", "Ortega", "Haas", "Novak")),
            agency=self.rng.choice(_AGENCIES), line=" ".join(words[:12]),
            year=self.rng.randrange(2019, 2026), words=", ".join(words[:4]),
        )  # fmt: skip

    def typo(self, word: str) -> str:
        if len(word) < 4:
            return word
        at = self.rng.randrange(1, len(word) - 1)
        action = self.rng.randrange(3)
        if action == 0:
            return word[:at] + word[at + 1 :]  # a letter lost
        if action == 1:
            return word[:at] + word[at] + word[at:]  # a letter doubled
        return word[:at] + self.rng.choice("aeiourstnl") + word[at + 1 :]  # a letter wrong

    def respell(self, paragraph: str, spun: float, typos: float) -> str:
        """Swap `spun` of the words (thesaurus, else a word of the same paragraph), add typos."""
        words = paragraph.split()
        pool = [w for w in words if w.isalpha() and len(w) > 3]
        for i, word in enumerate(words):
            core = word.rstrip(",.;:!?\"”'’)")
            tail = word[len(core) :]
            if core and self.rng.random() < spun:
                swap = _THESAURUS.get(core.lower())
                if swap is None and pool:
                    swap = self.rng.choice(pool).lower()
                if swap:
                    core = swap.capitalize() if core[:1].isupper() else swap
            if self.rng.random() < typos:
                core = self.typo(core)
            words[i] = core + tail
        return " ".join(words)

    def heavy(self, text: str) -> str:
        """25-30% spun, 30% of sentences dropped, paragraphs reordered, 2% typos."""
        spun = self.rng.uniform(0.25, 0.30)
        out = []
        for paragraph in _paras(text):
            kept = [s for s in split_sentences(paragraph) if self.rng.random() >= 0.3]
            if kept:
                out.append(self.respell(" ".join(kept), spun, 0.02))
        self.rng.shuffle(out)
        return "\n".join(out)

    def machine(self, text: str) -> str:
        """20% synonyms, articles dropped, prepositions swapped."""
        out = []
        for paragraph in _paras(text):
            words = []
            for word in self.respell(paragraph, 0.2, 0.0).split():
                core = word.rstrip(",.;:!?")
                if core in _ARTICLES:
                    continue
                swap = _PREPOSITIONS.get(core.lower()) if self.rng.random() < 0.7 else None
                words.append(swap + word[len(core) :] if swap else word)
            out.append(" ".join(words))
        return "\n".join(out)

    def truncate_paragraphs(self, text: str, footer: str) -> str:
        kept = _paras(text)[: self.rng.randint(1, 3)]
        return "\n".join([*kept, *self._tail(footer)])

    def truncate_share(self, text: str, footer: str) -> str:
        share = self.rng.uniform(0.2, 0.5)
        budget, kept = len(text.split()) * share, []
        for paragraph in _paras(text):
            line = []
            for sentence in split_sentences(paragraph):
                if budget <= 0:
                    break
                line.append(sentence)
                budget -= len(sentence.split())
            if line:
                kept.append(" ".join(line))
            if budget <= 0:
                break
        return "\n".join([*kept, *self._tail(footer)])

    def _tail(self, footer: str) -> list[str]:
        if self.rng.random() < 0.3:
            return [footer]
        return [self.junk_line() for _ in range(self.rng.randint(1, 3))]

    def stitch(self, first: str, second: str) -> str:
        a, b = _paras(first), _paras(second)
        head = a[: max(1, round(len(a) * self.rng.uniform(0.5, 0.8)))]
        tail_share = self.rng.uniform(0.3, 0.6)
        start = self.rng.randrange(0, max(1, len(b) - max(1, round(len(b) * tail_share))) + 1)
        tail = b[start : start + max(1, round(len(b) * tail_share))]
        middle = [self.rng.choice(_SEPARATORS)] if self.rng.random() < 0.6 else []
        return "\n".join([*head, *middle, *tail])

    def same_topic(self, story: str, other: str) -> str:
        """Another text given the story's names, numbers and three of its sentences as quotes."""
        names = list(dict.fromkeys(_NAME.findall(story)))[:8] or ["Officials"]
        numbers = _NUMBER.findall(story)[:6] or ["12"]
        body = _NAME.sub(lambda m: self.rng.choice(names), "\n".join(_paras(other)))
        body = _NUMBER.sub(lambda m: self.rng.choice(numbers), body)
        quoted = [s for p in _paras(story) for s in split_sentences(p) if len(s.split()) > 7]
        lines = _paras(body)
        for sentence in self.rng.sample(quoted, min(3, len(quoted))):
            speaker = self.rng.choice(names)
            lines.insert(self.rng.randrange(len(lines) + 1),
                         f"“{sentence.rstrip('.')},” {speaker} said on the day.")  # fmt: skip
        return "\n".join(lines)

    def run_together(self, text: str) -> str:
        """The first 40-100% of the paragraphs run together, no space after each full stop."""
        paragraphs = _paras(text)
        kept = paragraphs[: max(2, round(len(paragraphs) * self.rng.uniform(0.4, 1.0)))]
        return "".join(kept)

    def caption(self, text: str) -> str:
        """A 45-70 word photo caption, then the headline and 1-2 paragraphs.

        The caption's words are drawn one by one from the filler texts: text
        of its own, which no other document shares.
        """
        vocabulary = " ".join(self.filler).split()
        words = [
            self.rng.choice(vocabulary).strip(".,;:!?") for _ in range(self.rng.randint(45, 70))
        ]
        cut = self.rng.randrange(15, 30)
        caption = f"{' '.join(words[:cut]).capitalize()}. {' '.join(words[cut:]).capitalize()}"
        credit = (
            f"(Photo: {self.rng.choice(('Kim', 'Ortega', 'Haas'))}/{self.rng.choice(_AGENCIES)})"
        )
        paragraphs = _paras(text)
        body = [n for n, p in enumerate(paragraphs) if len(p.split()) >= 12]
        end = body[min(len(body), self.rng.randint(1, 2)) - 1] + 1 if body else len(paragraphs)
        return "\n".join([f"{caption}. {credit}", *paragraphs[:end]])

    def statement_report(self, framing: str, statement: Sequence[str], marks: int) -> str:
        """A short report of its own: one or two sentences, then the statement quoted whole."""
        opening, closing = _STATEMENT_MARKS[marks % len(_STATEMENT_MARKS)]
        own = split_sentences(" ".join(_paras(framing)[:2]))[: self.rng.randint(1, 2)]
        said = list(statement)
        if len(said) > 3 and self.rng.random() < 0.5:
            del said[self.rng.randrange(len(said))]
        speaker = self.rng.choice(_SPEAKERS)
        return "\n".join([" ".join(own), f"{speaker} said in a statement: {opening}"
                          f"{' '.join(said)}{closing}"])  # fmt: skip

    def shared_facts(self, story: str, sentences: Sequence[str]) -> str:
        """The story's first sentences told in other words: their facts on other sentences.

        Each sentence of the story gives its names, numbers, one run of 3-4
        of its words around a name or number (a stock phrase: "for 250
        yards and") and 25-40% of its other ordinary words to a sentence of
        another text of about its length, which takes them in place of some
        of its own words.
        """
        told = []
        pool = list(sentences)
        body = [p for p in _paras(story) if len(p.split()) >= 12]
        for source in [s for p in body[:4] for s in split_sentences(p)][:8]:
            words = source.split()
            facts = _TOKEN_NAME.findall(" ".join(words[1:])) + _NUMBER.findall(source)
            ordinary = list(dict.fromkeys(_ORDINARY.findall(source)))
            share = self.rng.uniform(0.25, 0.4)
            facts += self.rng.sample(ordinary, min(len(ordinary), round(len(ordinary) * share)))
            anchors = [n for n, w in enumerate(words) if _NUMBER.search(w) or _TOKEN_NAME.match(w)]
            at = self.rng.choice(anchors) if anchors else self.rng.randrange(len(words))
            run = [w.rstrip(",.;:!?") for w in words[max(0, at - 1) : at + self.rng.randint(2, 3)]]
            host = min(self.rng.sample(pool, min(12, len(pool))),
                       key=lambda s: abs(len(s.split()) - len(words))).split()  # fmt: skip
            spots = self.rng.sample(
                range(1, max(2, len(host))), min(len(facts), max(1, len(host) - 1))
            )
            for spot, fact in zip(spots, facts, strict=False):
                tail = host[spot][len(host[spot].rstrip(",.;:!?")) :]
                host[spot] = fact + tail
            place = self.rng.randrange(1, max(2, len(host)))
            told.append(" ".join([*host[:place], *run, *host[place:]]))
        return "\n".join(" ".join(told[i : i + 2]) for i in range(0, len(told), 2))


@dataclass(frozen=True, slots=True)
class _Outlet:
    header: tuple[str, ...]
    footer: tuple[str, ...]


def _outlets(rng: random.Random, filler: Sequence[str], count: int) -> list[_Outlet]:
    outlets = []
    for i in range(count):
        words = rng.choice(filler).split()
        sections = rng.sample(("World", "Politics", "Business", "Sport", "Culture", "Opinion",
                               "Tech", "Health", "Local", "Video", "Weather"), 5)  # fmt: skip
        header = (f"Outlet {i} News", " | ".join(["Home", *sections]), "Subscribe   Log in")
        footer = (f"About {' '.join(words[:3])} | Careers | Contact | Privacy policy",
                  f"Copyright {2020 + i % 5} Outlet {i} Publishing Ltd")  # fmt: skip
        outlets.append(_Outlet(header, footer))
    return outlets


def _shared_footer(rng: random.Random, filler: Sequence[str]) -> str:
    """About 1.5 kB of network boilerplate: one footer many sites carry."""
    sentences = [s for text in filler for p in _paras(text) for s in split_sentences(p)]
    footer, picked = "", rng.sample(sentences, min(60, len(sentences)))
    lines = []
    for sentence in picked:
        if len(footer) > 1500:
            break
        lines.append(sentence)
        footer += sentence + " "
    return "\n".join([" ".join(lines[i : i + 3]) for i in range(0, len(lines), 3)])


def generate(texts: Sequence[str], *, seed: int) -> list[Doc]:
    """A labelled set from real texts (each used in one role only).

    Args:
        texts: article texts, paragraphs on separate lines.
        seed: random seed (same texts and seed: same set).

    Returns:
        Documents in a shuffled order.
    """
    rng = random.Random(seed)
    usable = [t for t in texts if len(_paras(t)) >= 4 and len(t.split()) >= 200]
    rng.shuffle(usable)
    n_stories = len(usable) * 45 // 100
    stories, rest = usable[:n_stories], usable[n_stories:]
    filler, rest = rest[:20], rest[20:]
    others = iter(rest)
    perturb = _Perturber(rng, filler)
    outlets = _outlets(rng, filler, 8)
    footer = _shared_footer(rng, filler)
    docs: list[Doc] = []

    def dress(text: str, *, always: bool = False) -> str:
        if not always and rng.random() < 0.5:
            return text
        outlet = rng.choice(outlets)
        return "\n".join([*outlet.header, text, *outlet.footer])

    for i, text in enumerate(stories):
        story, original = f"st{i:04d}", f"st{i:04d}/original"
        docs.append(Doc(original, dress(text), story, "original", original))
        for n in range(rng.randint(3, 6)):
            kind = rng.choice(_FIRST_KINDS)
            doc_id, secondary = f"{story}/{kind}/{n}", ""
            if kind == "trunc_paras":
                body = perturb.truncate_paragraphs(text, footer)
            elif kind == "trunc_share":
                body = perturb.truncate_share(text, footer)
            elif kind == "stitched":
                j = rng.choice([k for k in range(len(stories)) if k != i])
                body, secondary = perturb.stitch(text, stories[j]), f"st{j:04d}/original"
            elif kind == "heavy":
                body = perturb.heavy(text)
            elif kind == "mt":
                body = perturb.machine(text)
            else:
                body = text
            docs.append(Doc(doc_id, dress(body, always=kind == "templated"), story, kind,
                            original, secondary))  # fmt: skip
        if rng.random() < 0.5 and (other := next(others, None)) is not None:
            docs.append(Doc(f"{story}/same_topic", dress(perturb.same_topic(text, other)),
                            f"{story}-topic", "same_topic", original))  # fmt: skip
    remaining = list(others)
    for k, other in enumerate(remaining[:25]):
        short = " ".join(split_sentences(" ".join(_paras(other)[:2]))[: rng.randint(2, 4)])
        docs.append(Doc(f"fn{k:03d}/footer", dress(f"{short}\n{footer}"), f"fn{k:03d}", "footer"))
    docs += _later_kinds(stories, remaining[25:], filler, seed=seed)
    rng.shuffle(docs)
    return docs


def _later_kinds(
    stories: Sequence[str], others: Sequence[str], filler: Sequence[str], *, seed: int
) -> list[Doc]:
    """run_together and caption copies, shared_statement and shared_facts negatives."""
    rng = random.Random(seed * _LATER_SEED + 1)
    perturb = _Perturber(rng, filler)
    docs: list[Doc] = []
    for i, text in enumerate(stories):
        story, original = f"st{i:04d}", f"st{i:04d}/original"
        for kind in ("run_together", "caption"):
            if rng.random() < 0.5:
                body = (
                    perturb.run_together(text) if kind == "run_together" else perturb.caption(text)
                )
                docs.append(Doc(f"{story}/{kind}/l", body, story, kind, original))
    half = len(others) // 2
    sentences = [s for t in others[half:] for p in _paras(t) for s in split_sentences(p)
                 if len(s.split()) >= 8]  # fmt: skip
    for i, text in enumerate(stories):
        if rng.random() < 0.25:
            docs.append(Doc(f"st{i:04d}/shared_facts", perturb.shared_facts(text, sentences),
                            f"st{i:04d}-facts", "shared_facts", f"st{i:04d}/original"))  # fmt: skip
    # Three texts per statement: the statement's, and each report's own framing.
    for k in range(half // 3):
        said, *framings = others[3 * k : 3 * k + 3]
        statement = split_sentences(" ".join(_paras(said)[:2]))[: rng.randint(3, 5)]
        for side, framing in zip("ab", framings, strict=True):
            report = perturb.statement_report(framing, statement, rng.randrange(4))
            docs.append(Doc(f"ss{k:03d}/{side}", report, f"ss{k:03d}/{side}", "shared_statement"))
    return docs


def halves(items: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Texts in two fixed halves by a hash of their ids (thresholds on one, report the other)."""
    first, second = [], []
    for item_id, text in items:
        (first if zlib.crc32(item_id.encode()) % 2 == 0 else second).append(text)
    return first, second
