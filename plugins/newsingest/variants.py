"""A seeded generator of labelled near-duplicate sets: wire rewrites and hard negatives.

Given original article texts, it writes the copies content farms and
syndication make of a wire story (each kind below) and documents that must
NOT join it (independent texts quoting it, unrelated texts sharing a site's
boilerplate). Every document carries the story it belongs to, so a clusterer
can be scored. Used by bench/dedup.py and its tests.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LOGGER = logging.getLogger(__name__)

POSITIVE_KINDS = (
    "headline", "dateline", "quotes", "typos", "spin05", "spin15", "spin30", "dropped",
    "reordered", "truncated", "junk", "version", "stitched",
)  # fmt: skip
NEGATIVE_KINDS = ("shared_quotes", "shared_boilerplate")
PUNCTUATION = ".,;:!?\"'()“”«»‘’"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"«])")
# A small thesaurus of news words, as article spinners use; other words are
# swapped for a word of similar length from the same text.
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "asked": "requested",
    "government": "administration", "president": "leader", "minister": "secretary",
    "country": "nation", "people": "individuals", "new": "fresh", "big": "large",
    "large": "huge", "small": "little", "important": "crucial", "help": "assist",
    "show": "demonstrate", "shows": "demonstrates", "make": "create", "made": "created",
    "use": "utilise", "used": "utilised", "start": "begin", "started": "began",
    "end": "finish", "ended": "finished", "week": "seven days", "year": "twelve months",
    "city": "town", "company": "firm", "companies": "firms", "money": "funds",
    "increase": "rise", "decrease": "drop", "fast": "quick", "quickly": "rapidly",
    "many": "numerous", "often": "frequently", "also": "additionally", "but": "however",
    "about": "regarding", "after": "following", "before": "prior to", "because": "since",
    "problem": "issue", "problems": "issues", "plan": "scheme", "plans": "schemes",
    "talks": "discussions", "meeting": "gathering", "officials": "authorities",
    "police": "officers", "killed": "slain", "attack": "assault", "war": "conflict",
    "troops": "soldiers", "leaders": "chiefs", "expected": "anticipated", "need": "require",
    "buy": "purchase", "get": "obtain", "got": "obtained", "think": "believe",
    "difficult": "hard", "easy": "simple", "begin": "commence", "try": "attempt",
    "change": "alteration", "report": "account", "reported": "stated", "move": "step",
    "moves": "steps", "support": "backing", "warned": "cautioned", "agreed": "concurred",
}  # fmt: skip
CITIES = ("GENEVA", "PARIS", "LONDON", "BERLIN", "MADRID", "ROME", "NAIROBI", "TOKYO")
AGENCIES = ("AFP", "Reuters", "AP", "dpa", "EFE", "ANSA")
JUNK = (
    "Support independent journalism. Your contribution helps us keep delivering the stories "
    "that matter to you.",
    "Sign up for our newsletter to get the top headlines in your inbox every morning.",
    "Follow us on Twitter, Facebook and Instagram for the latest updates.",
    "Share this article: copy link, email, print.",
)


@dataclass(frozen=True, slots=True)
class LabelledDoc:
    """A generated document and its ground truth."""

    doc_id: str
    text: str
    site: str
    published_at: datetime
    story: str  # documents of one story belong in one cluster
    kind: str  # "original", a positive kind, or a negative kind
    source: str  # doc id of the original it derives from or mimics
    secondary: str = ""  # for stitched pages: the second story


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs (lines) of a text."""
    return [p.strip() for p in text.splitlines() if p.strip()]


def sentences(text: str) -> list[str]:
    """Sentences of a text, split after terminal punctuation."""
    return [s for p in paragraphs(text) for s in SENTENCE.split(p) if s.strip()]


class _Writer:
    """Applies one kind of rewrite with a shared random source."""

    def __init__(self, rng: random.Random, prose: Sequence[str]) -> None:
        self.rng = rng
        # Fresh sentences for new leads and updates, each used once, from texts
        # that are neither stories nor negatives (so they link nothing by accident).
        self.prose = iter([s for text in prose for s in sentences(text)])

    def fresh_sentences(self, count: int) -> list[str]:
        taken = list(itertools.islice(self.prose, count))
        if len(taken) < count:
            raise ValueError("too few texts for fresh prose: give more texts or fewer variants")
        return taken

    def spin(self, text: str, share: float) -> str:
        """Replace share of the words by a synonym (or a same-length word of the text)."""
        words = text.split(" ")
        cores = [w.strip(PUNCTUATION) for w in words]
        candidates = [i for i, core in enumerate(cores) if core.isalpha() and len(core) > 2]
        lengths: dict[int, list[str]] = {}
        for core in cores:
            if core.isalpha():
                lengths.setdefault(len(core), []).append(core.lower())
        for i in self.rng.sample(candidates, min(len(candidates), round(len(words) * share))):
            core = cores[i]
            swap = SYNONYMS.get(core.lower())
            others = [w for w in lengths[len(core)] if w != core.lower()]
            if swap is None:
                swap = self.rng.choice(others) if others else core[::-1]
            swap = swap.capitalize() if core[0].isupper() else swap
            words[i] = words[i].replace(core, swap, 1)
        return " ".join(words)

    def typos(self, text: str) -> str:
        words = text.split(" ")
        for i in self.rng.sample(range(len(words)), max(1, len(words) // 50)):
            word = words[i]
            if len(word) > 3:
                j = self.rng.randrange(len(word) - 1)
                words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        return " ".join(words)

    def rewrite(self, kind: str, text: str) -> str:
        """The text rewritten as the kind says."""
        paras = paragraphs(text)
        rng = self.rng
        if kind == "headline":
            first = sentences(paras[0])
            paras[0] = " ".join(self.fresh_sentences(1) + first[1:])
        elif kind == "dateline":
            paras[0] = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) — {paras[0]}"
        elif kind == "quotes":
            marks = rng.choice((("«", "»"), ("„", "“"), ('"', '"')))
            paras = [p.replace("“", marks[0]).replace("”", marks[1]) for p in paras]
            paras = [self.typos(p) if rng.random() < 0.3 else p for p in paras]
        elif kind == "typos":
            paras = [self.typos(p) for p in paras]
        elif kind.startswith("spin"):
            share = int(kind[4:]) / 100
            paras = [self.spin(p, share) for p in paras]
        elif kind == "dropped":
            found = sentences(text)
            keep = sorted(rng.sample(range(len(found)), max(2, round(len(found) * 0.75))))
            paras = [" ".join(found[i] for i in keep)]
        elif kind == "reordered":
            rest = paras[1:]
            rng.shuffle(rest)
            paras = [paras[0], *rest]
        elif kind == "truncated":
            found = sentences(text)
            paras = [" ".join(found[: max(3, round(len(found) * rng.uniform(0.25, 0.5)))])]
        elif kind == "junk":
            paras += rng.sample(JUNK, 3)
        elif kind == "version":
            paras = [" ".join(self.fresh_sentences(2)), *paras]
            paras[-1] = self.spin(paras[-1], 0.2)
        return "\n".join(paras)


def _second_story(
    rng: random.Random, dates: Sequence[datetime], when: datetime, current: int
) -> int | None:
    """An earlier story published within a week (so both are in the search window)."""
    nearby = [k for k in range(current) if abs(dates[k] - when) <= timedelta(days=7)]
    return rng.choice(nearby) if nearby else None


def _stitch(main: str, second: str) -> str:
    """The main story followed by most of a second, shorter one."""
    budget, extra = len(main.split()) * 0.5, []
    for paragraph in paragraphs(second):
        budget -= len(paragraph.split())
        if budget < 0:
            break
        extra.append(paragraph)
    return "\n".join([main, *(extra or [" ".join(sentences(second)[:4])])])


def _quoting(other: str, story: str) -> str:
    """An unrelated text that quotes three sentences of the story mid-way."""
    quoted = [s for s in sentences(story) if len(s.split()) > 8][:3]
    body = paragraphs(other)
    body.insert(len(body) // 2, " ".join(f"“{s.rstrip('.')},” an official said." for s in quoted))
    return "\n".join(body)


def generate(
    texts: Sequence[str], *, seed: int = 20240501, variants_per_story: int = 4
) -> list[LabelledDoc]:
    """Build a labelled set from original texts.

    60% of the texts become stories: each is published by a wire site and
    rewritten by variants_per_story other sites, one kind each, cycling through
    POSITIVE_KINDS. The rest is never a story and each text is used once: as
    fresh prose for new leads, as an independent report quoting a story, or as
    an unrelated short text on a site whose footer it shares with others.

    Args:
        texts: original article texts (paragraphs on separate lines).
        seed: random seed; the same seed and texts give the same set.
        variants_per_story: rewrites per story.

    Returns:
        The documents, in a shuffled (seeded) order.
    """
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    usable = [t for t in texts if len(sentences(t)) >= 6]
    rng.shuffle(usable)
    cut = max(2, len(usable) * 3 // 5)
    stories, spare = usable[:cut], usable[cut:]
    prose_share = max(1, len(spare) // 3)
    writer = _Writer(rng, spare[:prose_share])
    half = (len(spare) + prose_share) // 2
    quoting, unrelated = iter(spare[prose_share:half]), spare[half:]
    # Every other site appends the same footer to all its articles.
    footers = {
        f"site{i:02d}": "\n".join([*rng.sample(JUNK, 2), f"© 2022 Site {i:02d}. Terms of use."])
        for i in range(0, 40, 2)
    }
    sites = [f"site{i:02d}" for i in range(40)]
    base = datetime(2022, 1, 1, tzinfo=UTC)
    docs: list[LabelledDoc] = []

    def publish(text: str, site: str, **fields: object) -> None:
        body = text + ("\n" + footers[site] if site in footers else "")
        docs.append(LabelledDoc(text=body, site=site, **fields))  # type: ignore[arg-type]

    kinds = list(POSITIVE_KINDS)
    originals = [f"s{i:04d}/original" for i in range(len(stories))]
    dates: list[datetime] = []
    for i, text in enumerate(stories):
        story = f"s{i:04d}"
        when = base + timedelta(days=rng.randrange(60), hours=rng.randrange(24))
        dates.append(when)
        publish(text, "wire", doc_id=originals[i], published_at=when, story=story,
                kind="original", source=originals[i])  # fmt: skip
        for n, site in enumerate(rng.sample(sites, variants_per_story)):
            kind = kinds[(i * variants_per_story + n) % len(kinds)]
            later = when + timedelta(hours=rng.randrange(1, 48))
            doc_id = f"{story}/{kind}/{n}"
            if kind == "stitched":
                j = _second_story(rng, dates, when, i)
                if j is None:
                    continue
                publish(_stitch(text, stories[j]), site, doc_id=doc_id,
                        published_at=max(later, dates[j]) + timedelta(hours=1), story=story,
                        kind=kind, source=originals[i], secondary=originals[j])  # fmt: skip
                continue
            publish(writer.rewrite(kind, text), site, doc_id=doc_id, published_at=later,
                    story=story, kind=kind, source=originals[i])  # fmt: skip
        other = next(quoting, None)
        if other is None:
            continue
        publish(_quoting(other, text), rng.choice(sites), doc_id=f"{story}/shared_quotes",
                published_at=when + timedelta(hours=3), story=f"{story}-quotes",
                kind="shared_quotes", source=originals[i])  # fmt: skip
    for k, other in enumerate(unrelated):
        site = rng.choice(sorted(footers))
        short = " ".join(sentences(other)[:3])
        publish(short, site, doc_id=f"neg{k:04d}/shared_boilerplate",
                published_at=base + timedelta(days=rng.randrange(60)), story=f"neg{k:04d}",
                kind="shared_boilerplate", source="")  # fmt: skip
    rng.shuffle(docs)
    return docs
