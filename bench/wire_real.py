"""Story clustering on real wire copy found on the web: a held-out test set, never tuned on.

The labels are committed (bench/data/wire_real.jsonl: id, URL, event, story,
relation "copy"/"independent", agency, language, publication date, the query
that finds the page in the stored pages searched to build the set, a note;
bench/data/README.md says how it was built). The page texts are not: they are
read from a git-ignored JSONL file of `{id, url, text}` lines (default
bench/data/wire_real_texts.jsonl, or NEWSINGEST_WIRE_REAL, or the FILE of
`bench/dedup.py --real FILE`); this benchmark says so and exits 0 when it is
absent.

Every page goes to `newsingest dedup --input FILE --output FILE` as a
subprocess, as `{id, text}` lines only (no site, URL or date), exactly as a
user would run it. Copies of one wire story form a gold cluster; every
independent report of the same event is a cluster of its own, so merging it
with anything is a hard-negative false merge. The same pages are clustered by
datasketch MinHash LSH (char 5-grams, thresholds 0.3 and 0.5) in the same run.

    python bench/wire_real.py [--texts FILE] [--verbose]

It prints a check of the labels (longest word runs shared), then for each
engine pairwise precision/recall/F1, B-cubed F1, copies linked per language
and hard negatives merged (with --verbose, the predicted clusters that break
the labels), and ends with `baseline_f1=<f>` (MinHash at the better of its
two thresholds) and
`wire_real pages=<n> stories=<n> f1=<f> hard_negatives_merged=<k>/<m>`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import copygen
from dedup import bcubed, minhash_lsh, pairwise

DATA = Path(__file__).resolve().parent / "data"
LABELS = DATA / "wire_real.jsonl"
TEXTS = Path(os.environ.get("NEWSINGEST_WIRE_REAL") or DATA / "wire_real_texts.jsonl")
# The baseline: MinHash at the better of these two thresholds.
MINHASH_THRESHOLDS = (0.3, 0.5)
# Quoted passages, removed before the label check: shared quotes are not copying.
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]{20,}’|«[^»]*»|„[^“]*“")


@dataclass(frozen=True)
class Page:
    """One labelled page and its text."""

    doc_id: str
    url: str
    event: str
    story: str | None  # the wire story of a copy; None for an independent report
    kind: str  # "copy" or "independent"
    language: str
    text: str

    @property
    def gold(self) -> str:
        """Gold cluster: the story of a copy, the page itself for an independent report."""
        return self.story or f"independent:{self.doc_id}"


class SetMissingError(Exception):
    """The texts file is absent (it exists only where the set was gathered)."""


def load(texts_path: Path = TEXTS) -> list[Page]:
    """Labels joined with the texts by id.

    Raises:
        SetMissingError: the texts file is absent.
        ValueError: labels and texts disagree (a label without text, a text without label).
    """
    if not texts_path.is_file():
        raise SetMissingError(f"the real wire set's texts are not at {texts_path} (they exist only "
                         "on our machines; see bench/data/README.md)")  # fmt: skip
    with texts_path.open(encoding="utf-8") as handle:
        texts = {item["id"]: item["text"] for item in map(json.loads, filter(str.strip, handle))}
    with LABELS.open(encoding="utf-8") as handle:
        labels = [json.loads(line) for line in handle if line.strip()]
    missing = [label["id"] for label in labels if label["id"] not in texts]
    unlabelled = sorted(set(texts) - {label["id"] for label in labels})
    if missing or unlabelled:
        first = (missing or unlabelled)[0]
        raise ValueError(
            f"{texts_path} and {LABELS} disagree: {len(missing)} labelled pages have no text, "
            f"{len(unlabelled)} texts no label (first: {first})"
        )
    return [
        Page(label["id"], label["url"], label["event"],
             label["story"] if label["relation"] == "copy" else None, label["relation"],
             label.get("language") or "?", texts[label["id"]])
        for label in labels
    ]  # fmt: skip


def newsingest_dedup(pages: Sequence[Page]) -> dict[str, str]:
    """Cluster through `newsingest dedup --input/--output`, given {id, text} lines only."""
    with tempfile.TemporaryDirectory(prefix="wire_real_") as tmp:
        source, target = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        source.write_text(
            "".join(json.dumps({"id": p.doc_id, "text": p.text}) + "\n" for p in pages),
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "newsingest.cli", "dedup",
                   "--input", str(source), "--output", str(target)]  # fmt: skip
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode:
            print(f"ERROR: {' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
            sys.exit(1)
        rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    return {row["id"]: str(row["cluster_id"]) for row in rows}


def datasketch(pages: Sequence[Page], threshold: float) -> dict[str, str]:
    """bench/dedup.py's MinHash LSH baseline on the same texts."""
    docs = [copygen.Doc(p.doc_id, p.text, p.gold, p.kind) for p in pages]
    return minhash_lsh(docs, threshold=threshold)


def hard_negatives(pages: Sequence[Page], predicted: dict[str, str]) -> dict[str, int]:
    """Independent reports merged with anything, and with what: copies, reports, other events."""
    members: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        members[predicted[page.doc_id]].append(page)
    found: Counter[str] = Counter()
    for page in pages:
        if page.kind != "independent":
            continue
        found["total"] += 1
        others = [p for p in members[predicted[page.doc_id]] if p.doc_id != page.doc_id]
        found["merged"] += bool(others)
        found["with_copies"] += any(p.kind == "copy" and p.event == page.event for p in others)
        found["with_reports"] += any(p.kind == "independent" and p.event == page.event
                                     for p in others)  # fmt: skip
        found["with_other_events"] += any(p.event != page.event for p in others)
    return found


def story_linkage(pages: Sequence[Page], predicted: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per language (and "all"): copies in the predicted cluster holding most of their story,
    and all copies."""
    by_story: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        if page.story:
            by_story[page.story].append(page)
    linked: Counter[str] = Counter()
    copies: Counter[str] = Counter()
    for group in by_story.values():
        main_cluster = Counter(predicted[p.doc_id] for p in group).most_common(1)[0][0]
        for page in group:
            for key in ("all", page.language):
                copies[key] += 1
                linked[key] += predicted[page.doc_id] == main_cluster
    return {key: (linked[key], copies[key]) for key in copies}


@dataclass(frozen=True)
class Scores:
    """One engine's figures on the real set."""

    f1: float
    merged: int
    independents: int


def report(name: str, pages: Sequence[Page], predicted: dict[str, str]) -> Scores:
    """Print one engine's scores and return them."""
    gold = {p.doc_id: p.gold for p in pages}
    precision, recall, f1 = pairwise(gold, predicted)
    negatives = hard_negatives(pages, predicted)
    linkage = story_linkage(pages, predicted)
    linked, copies = linkage.pop("all")
    languages = ", ".join(f"{k} {n}/{m}" for k, (n, m) in sorted(linkage.items()))
    print(f"{name}: pairwise precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} "
          f"bcubed_f1={bcubed(gold, predicted):.3f} predicted_clusters="
          f"{len(set(predicted.values()))}\n"
          f"  copies in their story's main cluster: {linked}/{copies} ({languages}); hard "
          f"negatives merged: {negatives['merged']}/{negatives['total']} (with a copy of their "
          f"event {negatives['with_copies']}, with another report of it "
          f"{negatives['with_reports']}, with another event "
          f"{negatives['with_other_events']})")  # fmt: skip
    return Scores(f1, negatives["merged"], negatives["total"])


def disagreements(pages: Sequence[Page], predicted: dict[str, str]) -> None:
    """Predicted clusters that mix gold clusters, and stories split over several clusters."""
    members: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        members[predicted[page.doc_id]].append(page)
    for cluster, group in sorted(members.items(), key=lambda item: (len(item[0]), item[0])):
        if len({p.gold for p in group}) > 1:
            print(f"  merged cluster {cluster}:")
            for page in group:
                print(f"    {page.kind:11s} {page.story or page.event:28s} {page.url}")
    by_story: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        if page.story:
            by_story[page.story].append(page)
    for story, group in sorted(by_story.items()):
        clusters = Counter(predicted[p.doc_id] for p in group)
        if len(clusters) > 1:
            print(f"  split story {story}: {len(group)} copies in {len(clusters)} clusters")
            for page in group:
                print(f"    cluster {predicted[page.doc_id]:>4s} {page.url}")


def label_check(pages: Sequence[Page]) -> str:
    """Longest word runs shared: each copy with its story, each report with its event."""

    def words(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def longest(a: list[str], b: list[str]) -> int:
        return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size

    plain = {p.doc_id: words(p.text) for p in pages}
    unquoted = {p.doc_id: words(QUOTED.sub(" ", p.text)) for p in pages}
    copies = Counter(p.story for p in pages if p.story)
    # A story with one page in the set has no other copy to share words with.
    copy_runs = [max(longest(plain[p.doc_id], plain[q.doc_id]) for q in pages
                     if q.story == p.story and q.doc_id != p.doc_id)
                 for p in pages if p.story and copies[p.story] > 1]  # fmt: skip
    report_runs = [max(longest(unquoted[p.doc_id], unquoted[q.doc_id]) for q in pages
                       if q.event == p.event and q.doc_id != p.doc_id)
                   for p in pages if not p.story]  # fmt: skip
    return (f"label check: every copy shares >= {min(copy_runs)} consecutive words with a copy "
            f"of its story (median {statistics.median(copy_runs):.0f}); outside quotes, an "
            f"independent report shares <= {max(report_runs)} with a page of its event (median "
            f"{statistics.median(report_runs):.0f})")  # fmt: skip


def evaluate(pages: Sequence[Page], *, verbose: bool = False) -> tuple[Scores, Scores]:
    """Describe the set, check its labels, run every engine; (newsingest, best MinHash)."""
    stories = Counter(p.story for p in pages if p.story)
    languages = Counter(p.language for p in pages)
    print(f"real wire set: {len(pages)} pages, {len({p.event for p in pages})} events, "
          f"{len(stories)} wire stories ({sum(n >= 3 for n in stories.values())} with 3+ copies, "
          f"{sum(stories.values())} copies), {sum(not p.story for p in pages)} independent "
          f"reports; languages {dict(sorted(languages.items()))}; text-only input")  # fmt: skip
    print(label_check(pages))
    engines: list[tuple[str, Callable[[Sequence[Page]], dict[str, str]]]] = [
        ("newsingest dedup", newsingest_dedup),
        *((f"datasketch MinHash LSH t={t}", partial(datasketch, threshold=t))
          for t in MINHASH_THRESHOLDS),
    ]  # fmt: skip
    results = {}
    for name, engine in engines:
        predicted = engine(pages)
        results[name] = report(name, pages, predicted)
        if verbose:
            disagreements(pages, predicted)
    # The baseline is MinHash at the better of its two thresholds on this set.
    baseline = max((results[f"datasketch MinHash LSH t={t}"] for t in MINHASH_THRESHOLDS),
                   key=lambda scores: scores.f1)  # fmt: skip
    return results["newsingest dedup"], baseline


def main() -> None:
    """Cluster the real set with newsingest and MinHash; print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=Path, default=TEXTS, help="the page texts (JSONL)")
    parser.add_argument(
        "--verbose", action="store_true", help="list the clusters that break labels"
    )
    args = parser.parse_args()
    try:
        pages = load(args.texts)
    except SetMissingError as exc:
        print(f"SKIPPED: {exc}")
        return
    except ValueError as exc:
        print(f"ERROR: {exc}")
        sys.exit(2)
    ours, baseline = evaluate(pages, verbose=args.verbose)
    print(f"baseline_f1={baseline.f1:.3f}")
    print(f"wire_real pages={len(pages)} stories={len({p.story for p in pages if p.story})} "
          f"f1={ours.f1:.3f} hard_negatives_merged={ours.merged}/{ours.independents}")  # fmt: skip


if __name__ == "__main__":
    main()
