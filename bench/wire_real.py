"""Story clustering on real wire copy found on the web: a held-out test set, never tuned on.

The labels are committed (bench/wire_real.jsonl: URL, event, story, kind
"copy"/"independent", agency, a note); the page texts are not: they are read
from ../shared/datasets/wire-real/pages.jsonl beside the checkout (or the
folder named by NEWSINGEST_WIRE_REAL), and the benchmark says so and exits 0
when that folder is absent. See that folder's README.md for how it was built.

Every page goes to `newsingest dedup --input FILE --output FILE` as a
subprocess, as `{id, text}` lines only (no site, URL or date), exactly as a
user would run it. Copies of one wire story form a gold cluster; every
independent report of the same event is a cluster of its own, so merging it
with anything is a hard-negative false merge. The same pages are clustered by
datasketch MinHash LSH (char 5-grams, threshold 0.3) in the same run.

    python bench/wire_real.py [--verbose]

It prints a check of the labels (longest word runs shared), then for each
engine pairwise precision/recall/F1, B-cubed F1, copies linked and hard
negatives merged (with --verbose, the predicted clusters that break the
labels), and ends with `baseline_f1=<f>` (MinHash at 0.3) and
`wire_real pages=<n> stories=<n> f1=<f> hard_negatives_merged=<k>/<m>`.
MinHash at bench/dedup.py's threshold 0.5 is printed too, for reference.
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

LABELS = Path(__file__).resolve().parent / "wire_real.jsonl"
# Beside the checkout, like the development set (bench/devset.py).
DATASET = Path(
    os.environ.get("NEWSINGEST_WIRE_REAL")
    or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "wire-real"
)
MINHASH_THRESHOLD = 0.3
# bench/dedup.py's own threshold, printed beside it for reference.
MINHASH_REFERENCE = 0.5
# Quoted passages, removed before the label check: shared quotes are not copying.
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]{20,}’|«[^»]*»|„[^“]*“")


@dataclass(frozen=True)
class Page:
    """One labelled page and its text."""

    doc_id: str
    url: str
    event: str
    story: str | None  # the wire story of a copy; None for an independent report
    kind: str
    text: str

    @property
    def gold(self) -> str:
        """Gold cluster: the story of a copy, the page itself for an independent report."""
        return self.story or f"independent:{self.doc_id}"


def load() -> list[Page]:
    """Labels joined with the texts; exit 0 when the texts are absent, 2 when they disagree."""
    texts_path = DATASET / "pages.jsonl"
    if not texts_path.exists():
        print(f"SKIPPED: the real wire set is not at {DATASET} (it exists only on our machines; "
              "set NEWSINGEST_WIRE_REAL to its folder)")  # fmt: skip
        sys.exit(0)
    with texts_path.open(encoding="utf-8") as handle:
        texts = {item["url"]: item["text"] for item in map(json.loads, filter(str.strip, handle))}
    with LABELS.open(encoding="utf-8") as handle:
        labels = [json.loads(line) for line in handle if line.strip()]
    missing = [label["url"] for label in labels if label["url"] not in texts]
    unlabelled = sorted(set(texts) - {label["url"] for label in labels})
    if missing or unlabelled:
        first = (missing or unlabelled)[0]
        print(f"ERROR: {texts_path} and {LABELS} disagree: {len(missing)} labelled pages have "
              f"no text, {len(unlabelled)} texts no label (first: {first})")  # fmt: skip
        sys.exit(2)
    return [
        Page(f"page-{n:02d}", label["url"], label["event"], label["story"], label["kind"],
             texts[label["url"]])
        for n, label in enumerate(labels, start=1)
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


def story_linkage(pages: Sequence[Page], predicted: dict[str, str]) -> tuple[int, int]:
    """Copies in the predicted cluster holding most of their story, and all copies."""
    by_story: dict[str, list[str]] = defaultdict(list)
    for page in pages:
        if page.story:
            by_story[page.story].append(predicted[page.doc_id])
    linked = sum(Counter(clusters).most_common(1)[0][1] for clusters in by_story.values())
    return linked, sum(len(c) for c in by_story.values())


def report(name: str, pages: Sequence[Page], predicted: dict[str, str]) -> float:
    """Print one engine's scores; return its pairwise F1."""
    gold = {p.doc_id: p.gold for p in pages}
    precision, recall, f1 = pairwise(gold, predicted)
    negatives = hard_negatives(pages, predicted)
    linked, copies = story_linkage(pages, predicted)
    print(f"{name}: pairwise precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} "
          f"bcubed_f1={bcubed(gold, predicted):.3f} predicted_clusters="
          f"{len(set(predicted.values()))}\n"
          f"  copies in their story's main cluster: {linked}/{copies}; hard negatives merged: "
          f"{negatives['merged']}/{negatives['total']} (with a copy of their event "
          f"{negatives['with_copies']}, with another report of it {negatives['with_reports']}, "
          f"with another event {negatives['with_other_events']})")  # fmt: skip
    return f1


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
    copy_runs = [max(longest(plain[p.doc_id], plain[q.doc_id]) for q in pages
                     if q.story == p.story and q.doc_id != p.doc_id)
                 for p in pages if p.story]  # fmt: skip
    report_runs = [max(longest(unquoted[p.doc_id], unquoted[q.doc_id]) for q in pages
                       if q.event == p.event and q.doc_id != p.doc_id)
                   for p in pages if not p.story]  # fmt: skip
    return (f"label check: every copy shares >= {min(copy_runs)} consecutive words with a copy "
            f"of its story (median {statistics.median(copy_runs):.0f}); outside quotes, an "
            f"independent report shares <= {max(report_runs)} with a page of its event (median "
            f"{statistics.median(report_runs):.0f})")  # fmt: skip


def main() -> None:
    """Cluster the real set with newsingest and MinHash; print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--verbose", action="store_true", help="list the clusters that break labels"
    )
    args = parser.parse_args()
    pages = load()
    stories = Counter(p.story for p in pages if p.story)
    print(f"real wire set: {len(pages)} pages, {len({p.event for p in pages})} events, "
          f"{len(stories)} wire stories ({sum(n >= 3 for n in stories.values())} with 3+ copies, "
          f"{sum(stories.values())} copies), {sum(not p.story for p in pages)} independent "
          f"reports; text-only input")  # fmt: skip
    print(label_check(pages))
    engines: list[tuple[str, Callable[[Sequence[Page]], dict[str, str]]]] = [
        ("newsingest dedup", newsingest_dedup),
        *((f"datasketch MinHash LSH t={t}", partial(datasketch, threshold=t))
          for t in (MINHASH_THRESHOLD, MINHASH_REFERENCE)),
    ]  # fmt: skip
    results = {}
    for name, engine in engines:
        predicted = engine(pages)
        results[name] = (report(name, pages, predicted), predicted)
        if args.verbose:
            disagreements(pages, predicted)
    f1, predicted = results["newsingest dedup"]
    negatives = hard_negatives(pages, predicted)
    baseline = results[f"datasketch MinHash LSH t={MINHASH_THRESHOLD}"][0]
    print(f"baseline_f1={baseline:.3f}")
    print(f"wire_real pages={len(pages)} stories={len(stories)} f1={f1:.3f} "
          f"hard_negatives_merged={negatives['merged']}/{negatives['total']}")  # fmt: skip


if __name__ == "__main__":
    main()
