"""Near-duplicate benchmark: the project's clusterer against datasketch MinHashLSH, same documents.

Quality, on two labelled sets generated from the texts of
../shared/datasets/extraction-dev (read at bench time, never copied):

- the project's set (newsingest.variants, fixed seed), clustered with the
  documents' sites and dates and again text-only;
- an independent set (bench/copygen.py, written apart from the engine),
  text-only through `newsingest dedup`'s reader, on two halves of the texts
  with two seeds: thresholds were chosen on the first, the second reports.

It prints pairwise and B-cubed scores, linkage per kind and hard-negative
false merges for newsingest and datasketch MinHashLSH. Given --real FILE
(the texts of the real wire set labelled in bench/data/wire_real.jsonl, see
bench/wire_real.py), it also clusters real wire copy through `newsingest
dedup` and prints `real_f1=<f> real_false_merge=<k>/<n> real_baseline_f1=<f>`
before the last line. Throughput (--history N): see bench/dedup_throughput.py.

    python bench/dedup.py [--seed 20240501] [--variants 4] [--copygen-seeds 1 2] [--real FILE]
    python bench/dedup.py --history 1000000 [--new 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import copygen
import devset
from datasketch import MinHash, MinHashLSH

from newsingest.dedup import jsonl
from newsingest.dedup.assign import Index, deduplicate
from newsingest.dedup.fingerprints import content_hash
from newsingest.records import DedupDoc
from newsingest.settings import load_settings
from newsingest.variants import POSITIVE_KINDS, LabelledDoc, generate

Clusterer = Callable[[Sequence[LabelledDoc]], dict[str, str]]


SECONDARY: dict[str, str | None] = {}


def project(docs: Sequence[LabelledDoc]) -> dict[str, str]:
    """Cluster with newsingest's engine on an empty index, given sites and dates."""
    settings = load_settings()
    batch = [
        DedupDoc(doc_id=d.doc_id, text=d.text, published_at=d.published_at, site=d.site,
                 content_hash=content_hash(d.text))
        for d in docs
    ]  # fmt: skip
    results = deduplicate(batch, Index(df_cap=settings.dedup_df_cap), settings)
    SECONDARY.update({r.canonical_url: r.secondary_of for r in results})
    return {r.canonical_url: r.cluster_key for r in results}


def text_only(docs: Sequence[copygen.Doc | LabelledDoc]) -> dict[str, str]:
    """Cluster {id, text} lines as `newsingest dedup --input` reads them (no site, URL or date)."""
    lines = [json.dumps({"id": d.doc_id, "text": d.text}) for d in docs]
    rows = jsonl.cluster(jsonl.read_docs(lines), load_settings())
    SECONDARY.update({row["id"]: row["secondary_id"] for row in rows})
    return {row["id"]: str(row["cluster_id"]) for row in rows}


def minhash_lsh(
    docs: Sequence[LabelledDoc | copygen.Doc], threshold: float = 0.5
) -> dict[str, str]:
    """datasketch MinHashLSH, char 5-grams, 128 permutations, union of matches.

    The threshold is 0.5 here; bench/wire_real.py runs it at 0.3.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for doc in sorted(docs, key=lambda d: (getattr(d, "published_at", 0), d.doc_id)):
        text = " ".join(doc.text.lower().split())
        signature = MinHash(num_perm=128)
        signature.update_batch([text[i : i + 5].encode("utf-8") for i in range(len(text) - 4)])
        parent[doc.doc_id] = doc.doc_id
        for match in lsh.query(signature):
            parent[find(match)] = find(doc.doc_id)
        lsh.insert(doc.doc_id, signature)
    return {d.doc_id: find(d.doc_id) for d in docs}


def pairwise(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 over all document pairs."""

    def pairs(groups: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in groups.values())

    both = pairs(Counter((gold[d], predicted[d]) for d in gold))
    in_predicted, in_gold = pairs(Counter(predicted.values())), pairs(Counter(gold.values()))
    precision = both / in_predicted if in_predicted else 1.0
    recall = both / in_gold if in_gold else 1.0
    return precision, recall, _f1(precision, recall)


def bcubed(gold: dict[str, str], predicted: dict[str, str]) -> float:
    """B-cubed F1: per-document precision and recall of its cluster, averaged."""
    by_gold, by_pred = defaultdict(set), defaultdict(set)
    for doc in gold:
        by_gold[gold[doc]].add(doc)
        by_pred[predicted[doc]].add(doc)
    p = r = 0.0
    for doc in gold:
        common = len(by_gold[gold[doc]] & by_pred[predicted[doc]])
        p += common / len(by_pred[predicted[doc]])
        r += common / len(by_gold[gold[doc]])
    return _f1(p / len(gold), r / len(gold))


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def linkage(docs: Sequence[LabelledDoc], predicted: dict[str, str]) -> dict[str, float]:
    """Per rewrite kind: share of variants clustered with their original."""
    linked: dict[str, list[bool]] = defaultdict(list)
    for doc in docs:
        if doc.kind in POSITIVE_KINDS:
            linked[doc.kind].append(predicted[doc.doc_id] == predicted[doc.source])
    return {kind: sum(v) / len(v) for kind, v in sorted(linked.items())}


def false_merges(
    docs: Sequence[LabelledDoc], predicted: dict[str, str]
) -> tuple[float, dict[str, float]]:
    """Share of hard negatives merged with the story they mimic (or with anything, for footers)."""
    sizes = Counter(predicted.values())
    merged: dict[str, list[bool]] = defaultdict(list)
    for doc in docs:
        if doc.kind == "shared_quotes":
            merged[doc.kind].append(predicted[doc.doc_id] == predicted[doc.source])
        elif doc.kind == "shared_boilerplate":
            merged[doc.kind].append(sizes[predicted[doc.doc_id]] > 1)
    flat = [m for values in merged.values() for m in values]
    return sum(flat) / len(flat), {k: sum(v) / len(v) for k, v in merged.items()}


def stitched_secondaries(docs: Sequence[LabelledDoc], results: dict[str, str | None]) -> float:
    """Share of stitched pages whose second story is recorded."""
    stitched = [d for d in docs if d.kind == "stitched"]
    return sum(results.get(d.doc_id) == d.secondary for d in stitched) / max(1, len(stitched))


def real_pairs() -> str:
    """The development set's real cases: two AP copies, two Reuters versions, one NFL blog."""
    entries = {e["id"]: e for e in devset.manifest()}
    settings = load_settings()

    def cluster(ids: Sequence[str]) -> dict[str, str]:
        docs = [DedupDoc(doc_id=i, text=devset.truth(entries[i]), site=i.split("/")[0])
                for i in ids]  # fmt: skip
        found = deduplicate(docs, Index(df_cap=settings.dedup_df_cap), settings)
        return {r.canonical_url: r.cluster_key for r in found}

    pairs = [("dragnet/9", "dragnet/44"), ("dragnet/R491", "dragnet/R492")]
    linked = sum(len(set(cluster(pair).values())) == 1 for pair in pairs)
    nfl = [f"dragnet/R{i}" for i in range(498, 521) if f"dragnet/R{i}" in entries]
    nfl_clusters = cluster(nfl)
    merged = sum(n - 1 for n in Counter(nfl_clusters.values()).values())
    return (f"real copies linked: {linked}/{len(pairs)}; NFL blog pages sharing only "
            f"comment guidelines wrongly merged: {merged}/{len(nfl)}")  # fmt: skip


def _report(name: str, gold: dict[str, str], predicted: dict[str, str], seconds: float) -> None:
    p, r, f = pairwise(gold, predicted)
    print(f"{name}: pairwise precision={p:.3f} recall={r:.3f} f1={f:.3f} "
          f"bcubed_f1={bcubed(gold, predicted):.3f} docs/s={len(gold) / seconds:.0f}")  # fmt: skip


def copygen_linkage(docs: Sequence[copygen.Doc], predicted: dict[str, str]) -> str:
    """Per copy kind, share linked to its original; per negative kind, share merged; secondaries."""
    sizes = Counter(predicted.values())
    found: dict[str, list[bool]] = defaultdict(list)
    for doc in docs:
        if doc.kind in copygen.COPY_KINDS or (doc.kind in copygen.NEGATIVE_KINDS and doc.source):
            found[doc.kind].append(predicted[doc.doc_id] == predicted[doc.source])
        elif doc.kind in copygen.NEGATIVE_KINDS:
            found[doc.kind].append(sizes[predicted[doc.doc_id]] > 1)
    stitched = [d for d in docs if d.kind == "stitched"]
    story = {d.doc_id: d.story for d in docs}
    # The second story's founder may be any of its documents (text-only: no dates to order by).
    recorded = sum(story.get(SECONDARY.get(d.doc_id) or "") == story[d.secondary] for d in stitched)
    parts = [f"{k}={sum(v) / len(v):.2f}" for k, v in sorted(found.items())
             if k in copygen.COPY_KINDS]  # fmt: skip
    merged = [f"{k}={sum(v)}/{len(v)}" for k, v in sorted(found.items())
              if k in copygen.NEGATIVE_KINDS]  # fmt: skip
    return (f"  linkage: {', '.join(parts)}\n  hard negatives merged: {', '.join(merged)}; "
            f"stitched with their second story recorded: {recorded}/{len(stitched)}")  # fmt: skip


def run_copygen(seeds: Sequence[int]) -> list[tuple[float, float, float, float]]:
    """The independent set, one half of the texts per seed; returns newsingest's scores per half."""
    halves = copygen.halves(devset.all_texts())
    scores = []
    for half, (seed, texts) in enumerate(zip(seeds, halves, strict=False)):
        docs = copygen.generate(texts, seed=seed)
        gold = {d.doc_id: d.story for d in docs}
        kinds = Counter(d.kind for d in docs)
        role = "thresholds chosen on it" if half == 0 else "held out: reported"
        print(f"\ncopygen half {half} seed {seed} ({role}): {len(docs)} documents from "
              f"{len(texts)} texts; kinds: {dict(sorted(kinds.items()))}")  # fmt: skip
        for name, engine in (("newsingest text-only", text_only), ("datasketch", minhash_lsh)):
            SECONDARY.clear()
            started = time.perf_counter()
            predicted = engine(docs)
            _report(f"  {name}", gold, predicted, time.perf_counter() - started)
            print("  " + copygen_linkage(docs, predicted).replace("\n", "\n  "))
            if name != "datasketch":
                p, r, f = pairwise(gold, predicted)
                negatives = [d for d in docs if d.kind in copygen.NEGATIVE_KINDS]
                sizes = Counter(predicted.values())
                merged = sum(
                    (predicted[d.doc_id] == predicted[d.source]) if d.source
                    else sizes[predicted[d.doc_id]] > 1
                    for d in negatives
                )  # fmt: skip
                scores.append((p, r, f, merged / max(1, len(negatives))))
    return scores


def main() -> None:
    """Generate the sets, run the engines, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--variants", type=int, default=4, help="rewrites per story")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many texts")
    parser.add_argument("--copygen-seeds", type=int, nargs=2, default=(1, 2),
                        help="seeds of the independent set's two halves")  # fmt: skip
    parser.add_argument(
        "--history", type=int, default=0, help="throughput against this many stored founders"
    )
    parser.add_argument("--new", type=int, default=10_000, help="throughput: articles to look up")
    parser.add_argument(
        "--real", type=Path, help="texts of the real wire set (bench/data/wire_real.jsonl's ids)"
    )
    args = parser.parse_args()
    real_pages = None
    if args.real:
        import wire_real  # noqa: PLC0415  (it imports this module's scoring functions)

        try:
            real_pages = wire_real.load(args.real)
        except (wire_real.SetMissingError, ValueError) as exc:
            print(f"ERROR: --real: {exc}", file=sys.stderr)
            sys.exit(2)
    if args.history:
        import dedup_throughput  # noqa: PLC0415  (PostgreSQL and numpy only for this mode)

        dedup_throughput.main(args.history, args.new)
        return
    texts = [text for _, text in devset.english_texts()]
    if args.limit:
        texts = texts[: args.limit]
    docs = generate(texts, seed=args.seed, variants_per_story=args.variants)
    gold = {d.doc_id: d.story for d in docs}
    kinds = Counter(d.kind for d in docs)
    print(f"labelled set: {len(docs)} documents from {len(texts)} texts (seed {args.seed}); "
          f"{len(set(gold.values()))} stories; kinds: {dict(sorted(kinds.items()))}")  # fmt: skip
    scores = {}
    engines = (("newsingest", project), ("newsingest text-only", text_only),
               ("datasketch", minhash_lsh))  # fmt: skip
    stitched = 0.0
    for name, engine in engines:
        SECONDARY.clear()
        started = time.perf_counter()
        predicted = engine(docs)
        elapsed = time.perf_counter() - started
        p, r, f = pairwise(gold, predicted)
        merged, by_negative = false_merges(docs, predicted)
        scores[name] = (p, r, f, merged)
        print(f"\n{name}: pairwise precision={p:.3f} recall={r:.3f} f1={f:.3f} "
              f"bcubed_f1={bcubed(gold, predicted):.3f} false_merge={merged:.3f} "
              f"({', '.join(f'{k}={v:.3f}' for k, v in sorted(by_negative.items()))}) "
              f"docs/s={len(docs) / elapsed:.0f}")  # fmt: skip
        print(
            "  linkage: " + ", ".join(f"{k}={v:.2f}" for k, v in linkage(docs, predicted).items())
        )
        if name == "newsingest":
            stitched = stitched_secondaries(docs, SECONDARY)
    print(f"\nnewsingest: stitched pages with their second story recorded: "
          f"{stitched:.2f}; {real_pairs()}")  # fmt: skip
    held = run_copygen(args.copygen_seeds)
    for half, (p, r, f, merged) in enumerate(held):
        print(f"copygen_half{half} precision={p:.3f} recall={r:.3f} f1={f:.3f} "
              f"false_merge={merged:.3f}")  # fmt: skip
    p, r, f, merged = scores["newsingest text-only"]
    print(f"\nf1 ratio newsingest/datasketch: {f / scores['datasketch'][2]:.2f}")
    if real_pages is not None:
        print()
        ours, baseline = wire_real.evaluate(real_pages)
        print(f"real_f1={ours.f1:.3f} real_false_merge={ours.merged}/{ours.independents} "
              f"real_baseline_f1={baseline.f1:.3f}")  # fmt: skip
    print(f"precision={p:.3f} recall={r:.3f} f1={f:.3f} false_merge={merged:.3f} "
          f"baseline_f1={scores['datasketch'][2]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
