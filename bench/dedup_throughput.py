"""Near-duplicate throughput: new articles looked up against a history stored in PostgreSQL.

GitHub issue 5 (throughput part): fingerprint and look up `new` articles
(default 10,000) against a warehouse holding `history` founders, and report
documents per second on one core and the memory the lookup needs.

    python bench/dedup_throughput.py --history 1000000 [--new 10000] [--batch 0]
    python bench/dedup.py --history 1000000          (the same, from the issue's interface)

The last line printed is `docs_per_s=<x> cold_docs_per_s=<x> peak_mb=<m>
bytes_per_founder=<b>`: the fastest of --repeat runs (default 2: on a shared
machine the slower ones also measure the neighbours) beside the first one,
which runs cold (the operating system's page cache dropped first, where this
process may: the history's tables and indexes then come from disk, as on a
warehouse whose history outgrew memory; PostgreSQL's own shared buffers are
kept), and the near-duplicate state's footprint: the tables and indexes of
news.dedup_* (TOAST included) divided by the founders they hold, printed per
relation above it. Every run is printed with its load average.

Database. NEWSINGEST_DSN when set (it must be allowed to CREATE DATABASE),
else the server on 127.0.0.1:5432 (user postgres), else a throwaway cluster
started with newsingest.localdb under ~/.cache/newsingest-bench (stopped at
the end). The history lives in its own database, ns_bench_dedup_h<history>,
built once and reused by later runs while its recorded parameters match
(the measured phase only reads; migrations added since are applied to it);
--rebuild builds it again, --drop drops it at the end.

History model (what the N founders look like; every figure is a constant below):

- Sizes. A founder holds as many samples as a real article: sizes are drawn
  from the fingerprints of the texts the new articles are made of (dev set:
  about 100 samples, 1 in 8 word 3-grams of a ~900-word text). Its body lines
  (for news.dedup_site_lines) likewise follow the texts' line counts.
- Unique content. Most samples are distinct 64-bit values (a bijective mix of
  a counter, so never equal by accident): df 1, one posting each.
- Stock phrases. STOCK_SHARE (25%) of an article's samples are phrases other
  articles use too. Each stock shingle has a document frequency f drawn from
  a truncated Zipf/Pareto law (alpha 1, f in [1e-6, 0.2]), so it sits in about
  N*f founders: at N = 1M, 80% of an article's stock samples are above the
  df cap (10) and the rest spread over df 1..9; at N = 100k fewer reach the
  cap and a fifth look unique. The synthetic stock vocabulary is sized so
  that founders hold STOCK_SHARE stock samples on average, counting the
  new texts' stock shingles (below) which the history holds too; the
  build prints the share it reached (stock_share). Postings follow
  store_founder: a shingle is posted for the first df_cap founders that hold
  it (founder ids follow publication order), so a shingle's postings count
  its founders up to the cap; size counts a founder's posted samples.
- The new articles' own shingles are stock with the same probability and law
  (their stock ones are placed in the history, so postings lookups hit as they
  would), and a shingle shared by several of the new texts gets at least its
  frequency among them (phrases the real texts share: this raises the
  founders' stock share above STOCK_SHARE when they share much).
- Publication: founders spread over HISTORY_DAYS (60) days ending at END; new
  articles in its last day, so the 14-day window keeps about a quarter.
- Every founder has its news.articles row (short placeholder body, own story
  cluster), since stored_founders LEFT JOINs news.articles for the cluster id, and
  its lines in news.dedup_site_lines (SITES outlets, each with a few
  boilerplate lines counted in half its articles, other lines unique),
  counted across sites in news.dedup_lines. A synthetic founder stores the
  verification sketch of one of the real texts (planted founders their own),
  so that the footprint counts sketches of real size.

New articles (the measured batch): real English texts of the development set
(bench/devset.py) when present, else generated text (and the output says so).
The texts are cycled; cycle k > 0 re-letters every word through a fixed
permutation of the alphabet, so each copy is a new story with the same
length, lines, quotes and token statistics (the first cycle is the texts as
they are). Of the batch, SHARE_HISTORY_REWRITE are light rewrites (a tenth of
paragraphs dropped, 3% of words swapped) of founders planted in the history
within the window, SHARE_EXACT are exact copies of planted founders (found by
content hash), SHARE_BATCH_REWRITE are rewrites of earlier articles of the
same batch; the rest are new stories. Each carries two lines of its site's
boilerplate, which the history counts and fingerprint_batch strips.

Measured phase: a fresh process pinned to one core runs what
pipeline.deduplicate runs for a run's staged articles, minus reading them
from news.staged_articles and saving the decisions: existing_urls, then
batch.cluster_batch (the stale fingerprint check, known content
hashes, line hashes, stored site-line counts, fingerprints, seed_index, seed,
stored_founders and assign, the lookups on a database thread of the same
pinned process while the main thread computes), by default on the whole
batch in one call (one DAG run), or in --batch sized chunks (each with its own
connection and index; the benchmark stores nothing, so a rewrite of an
article of an earlier chunk is not found). docs/s is new articles
over the wall time of all of it (PostgreSQL's own work included, its backend
not pinned); peak_mb is how far the process's peak RSS (VmHWM, reset
to the current RSS just before the phase through /proc/self/clear_refs)
rose above its RSS before the phase: what the lookup holds besides the input
texts. ru_maxrss would not do: a child inherits its parent's at exec.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import os
import pickle
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset

from newsingest import localdb, migrations, warehouse
from newsingest.dedup import assign, batch, fingerprints, verify
from newsingest.records import DedupDoc
from newsingest.settings import Settings, load_settings

# Bump when anything below changes what a history database holds: stale ones are rebuilt.
MODEL_VERSION = 2
DEFAULT_SEED = 20240501
DEFAULT_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
LOCALDB_STATE = Path("~/.cache/newsingest-bench/localdb")
DB_PREFIX = "ns_bench_dedup_h"

END = datetime(2024, 6, 30, tzinfo=UTC)
HISTORY_DAYS = 60
NEW_DAYS = 1
PLANTED_DAYS = (1, 10)  # planted founders: this many days before END
SITES = 400
BOILERPLATE_PER_SITE = 6
BOILERPLATE_PER_DOC = 2
BOILERPLATE_SHARE = 0.5  # of a site's articles that carry each of its boilerplate lines
STOCK_SHARE = 0.25
F_MIN, F_MAX = 1e-6, 0.2
SHARE_HISTORY_REWRITE = 0.10
SHARE_EXACT = 0.02
SHARE_BATCH_REWRITE = 0.10
DROP_PARAGRAPH, SWAP_WORD = 0.10, 0.03
CHUNK_FOUNDERS = 50_000
MASK64 = (1 << 64) - 1
# Counter ranges of the synthetic shingles: stock phrases first, unique content after.
UNIQUE_BASE = 1 << 40

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_PAIR_ROW = np.dtype([("n", ">i2"), ("la", ">i4"), ("a", ">i8"), ("lb", ">i4"), ("b", ">i8")])
_LINE_ROW = np.dtype(
    [("n", ">i2"), ("ls", ">i4"), ("site", "S8"), ("lh", ">i4"), ("h", ">i8"),
     ("ld", ">i4"), ("d", ">i4")]
)  # fmt: skip
BULK_TABLES = (
    "news.story_clusters", "news.articles", "news.dedup_founders", "news.dedup_postings",
    "news.dedup_site_lines", "news.dedup_lines",
)  # fmt: skip

Int64s = npt.NDArray[np.int64]


# -- the new articles -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planted:
    """A history founder that articles of the batch copy or rewrite."""

    url: str
    text: str
    site: str
    published_at: datetime


@dataclass(slots=True)
class Workload:
    """The measured batch and what the history must hold for it."""

    docs: list[DedupDoc]
    cores: list[str]  # per doc, its text without the site boilerplate
    stories: list[str]  # texts of the distinct stories (fresh and planted)
    planted: list[Planted]
    source: str
    kinds: Counter[str]


def site_name(index: int) -> str:
    """Fixed-width outlet name (8 bytes, as the binary COPY of site lines expects)."""
    return f"site-{index:03d}"


def boilerplate(site: str, index: int) -> str:
    """One of a site's repeated lines."""
    return f"Follow {site} on social media and get the {site} newsletter every morning ({index})."


def _generated_texts(count: int, rng: random.Random) -> list[str]:
    """News-shaped filler: Zipf-distributed pseudo-words in sentences, paragraphs and quotes."""
    syllables = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"] + ["an", "el", "or", "is"]
    vocabulary = sorted(
        {"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(30_000)}
    )
    rng.shuffle(vocabulary)
    zipf = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    texts = []
    for _ in range(count):
        paragraphs = []
        for _ in range(rng.randint(8, 30)):
            sentences = []
            for _ in range(rng.randint(2, 4)):
                words = rng.choices(vocabulary, cum_weights=zipf, k=rng.randint(8, 28))
                sentence = " ".join(words).capitalize() + "."
                if rng.random() < 0.15:
                    sentence = f"“{sentence}” said {rng.choice(vocabulary).capitalize()}."
                sentences.append(sentence)
            paragraphs.append(" ".join(sentences))
        texts.append("\n".join(paragraphs))
    return texts


def base_texts(seed: int) -> tuple[list[str], str]:
    """The dev set's English texts, or generated ones when this machine has no dev set."""
    if (devset.DEVSET / "manifest.jsonl").exists():
        texts = [text for _, text in devset.english_texts()]
        return texts, f"dev set ({len(texts)} English texts, re-lettered per cycle)"
    texts = _generated_texts(1000, random.Random(seed))
    return texts, "GENERATED text (no dev set on this machine): 1000 synthetic texts"


def _relettered(text: str, cycle: int) -> str:
    """Cycle 0: the text; cycle k: every ASCII letter through the k-th alphabet permutation."""
    if cycle == 0:
        return text
    letters = list(string.ascii_lowercase)
    random.Random(f"cycle-{cycle}").shuffle(letters)
    lower = "".join(letters)
    table = str.maketrans(string.ascii_lowercase + string.ascii_uppercase, lower + lower.upper())
    return text.translate(table)


def _rewrite(text: str, rng: random.Random) -> str:
    """A light rewrite: some paragraphs dropped, a few words swapped for others of the text."""
    paragraphs = [p for p in text.splitlines() if p.strip()]
    kept = [p for p in paragraphs if rng.random() >= DROP_PARAGRAPH] or paragraphs[:1]
    vocabulary = text.split()
    out = []
    for paragraph in kept:
        words = paragraph.split()
        for i in range(len(words)):
            if rng.random() < SWAP_WORD:
                words[i] = rng.choice(vocabulary)
        out.append(" ".join(words))
    return "\n".join(out)


def make_workload(new: int, history: int, seed: int) -> Workload:
    """The batch of new articles and the founders to plant for it (deterministic per seed)."""
    rng = random.Random(seed)
    texts, source = base_texts(seed)
    planted_n = min(round(new * (SHARE_HISTORY_REWRITE + SHARE_EXACT)), history // 4)
    exact_n = min(round(new * SHARE_EXACT), planted_n)
    rewrite_hist_n = planted_n - exact_n
    rewrite_batch_n = round(new * SHARE_BATCH_REWRITE)
    fresh_n = new - planted_n - rewrite_batch_n
    needed = fresh_n + planted_n
    order = [(cycle, i) for cycle in range(-(-needed // len(texts))) for i in range(len(texts))]
    rng.shuffle(order)
    stories = [_relettered(texts[i], cycle) for cycle, i in order[:needed]]
    end = END.timestamp()

    def when(days_before: tuple[float, float]) -> datetime:
        ago = rng.uniform(*days_before) * 86400
        return datetime.fromtimestamp(round(end - ago), UTC)

    planted = [
        Planted(f"https://history.bench.invalid/planted/{i}", text,
                site_name(rng.randrange(SITES)), when(PLANTED_DAYS))
        for i, text in enumerate(stories[fresh_n:])
    ]  # fmt: skip
    docs: list[DedupDoc] = []
    cores: list[str] = []
    kinds: Counter[str] = Counter()

    def add(core: str, kind: str, published: datetime, with_boilerplate: bool = True) -> None:
        site = site_name(rng.randrange(SITES))
        text = core
        if with_boilerplate:
            lines = rng.sample(range(BOILERPLATE_PER_SITE), BOILERPLATE_PER_DOC)
            text = "\n".join([core, *(boilerplate(site, b) for b in lines)])
        docs.append(
            DedupDoc(
                doc_id=f"https://new.bench.invalid/{kind}/{len(docs)}",
                text=text,
                published_at=published,
                site=site,
                content_hash=fingerprints.content_hash(text),
            )
        )
        cores.append(core)
        kinds[kind] += 1

    for text in stories[:fresh_n]:
        add(text, "fresh", when((0, NEW_DAYS)))
    fresh_docs = list(docs)
    for story in planted[:rewrite_hist_n]:
        add(_rewrite(story.text, rng), "rewrite_of_history", when((0, NEW_DAYS)))
    for story in planted[rewrite_hist_n:]:
        add(story.text, "exact_of_history", when((0, NEW_DAYS)), with_boilerplate=False)
    for _ in range(rewrite_batch_n if fresh_docs else 0):
        pick = rng.randrange(len(fresh_docs))
        published = fresh_docs[pick].published_at
        assert published is not None
        later = published + timedelta(hours=rng.uniform(0.1, 6))
        add(_rewrite(cores[pick], rng), "rewrite_of_batch", later)
    return Workload(docs, cores, stories, planted, source, kinds)


# -- the history ------------------------------------------------------------------


def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser, a bijection of 64-bit values (as in fingerprints.sample)."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _synthetic(first: int, count: int, salt: int) -> Int64s:
    """Distinct pseudo-random signed 64-bit shingles number first..first+count-1."""
    counters = np.arange(first, first + count, dtype=np.uint64) ^ np.uint64(salt & MASK64)
    return _mix64(counters).view(np.int64)


def _frequencies(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """Document frequencies of stock shingles: truncated Pareto, alpha 1, on [F_MIN, F_MAX]."""
    u = rng.random(count)
    return F_MIN / (1 - u * (1 - F_MIN / F_MAX))


def _pack_pairs(a: Int64s, b: npt.NDArray[np.int64]) -> bytes:
    rows = np.empty(len(a), _PAIR_ROW)
    rows["n"], rows["la"], rows["a"], rows["lb"], rows["b"] = 2, 8, a, 8, b
    return rows.tobytes()


@dataclass(slots=True)
class HistoryPlan:
    """Everything the COPY streams are generated from (arrays indexed by founder id - 1)."""

    n: int
    published: npt.NDArray[np.int64]  # epoch seconds, ascending (founder id order)
    sites: npt.NDArray[np.int64]
    unique_n: npt.NDArray[np.int64]  # unique-content samples per founder
    unique_offset: npt.NDArray[np.int64]
    line_n: npt.NDArray[np.int64]
    sketch_of: npt.NDArray[np.int64]  # index into sketches: whose sketch a founder stores
    sketches: list[str]  # the stories' sketches, hex
    planted: dict[int, Planted]  # founder id -> planted story
    shared: Int64s  # stock and planted shingle values
    pair_shingle: npt.NDArray[np.int64]  # index into shared, pairs sorted by founder
    pair_founder: npt.NDArray[np.int64]
    pair_posted: npt.NDArray[np.bool_]
    size: npt.NDArray[np.int64]
    salt: int
    stats: dict[str, float]


def plan_history(n: int, work: Workload, seed: int, df_cap: int) -> HistoryPlan:
    """Draw the history: times, sites, sizes, stock placements, postings and frequencies."""
    rng = np.random.default_rng([seed, n, MODEL_VERSION])
    story_samples = [fingerprints.sample(text) for text in work.stories]
    sizes = np.array([len(s) for s in story_samples], dtype=np.int64)
    lines = np.array(
        [sum(1 for line in t.splitlines() if line.strip()) for t in work.stories], dtype=np.int64
    )
    p = len(work.planted)
    m = n - p
    end = int(END.timestamp())
    published = np.concatenate(
        [
            end - rng.integers(0, HISTORY_DAYS * 86400, m),
            np.array([int(s.published_at.timestamp()) for s in work.planted], dtype=np.int64),
        ]
    )
    order = np.argsort(published, kind="stable")
    published = published[order]
    founder_of = np.empty(n, dtype=np.int64)
    founder_of[order] = np.arange(1, n + 1)
    planted_ids = founder_of[m:]
    synthetic_ids = founder_of[:m]
    planted = {int(fid): story for fid, story in zip(planted_ids, work.planted, strict=True)}
    total = rng.choice(sizes, n)
    sites = rng.integers(0, SITES, n)
    line_n = rng.choice(lines, n)
    # A synthetic founder stores the sketch of one of the real texts: never read (only
    # planted founders are verified), it gives the table a real sketch's size and content.
    sketches = [verify.sketch(text).to_bytes().hex() for text in work.stories]
    sketch_of = rng.integers(0, len(sketches), n)
    for fid, story in planted.items():
        sites[fid - 1] = int(story.site.removeprefix("site-"))
        line_n[fid - 1] = 0

    # Shingles of real texts (batch and planted): stock with STOCK_SHARE, or shared among stories.
    doc_samples = [fingerprints.sample(core) for core in work.cores]
    real = np.unique(
        np.fromiter((s for group in (*doc_samples, *story_samples) for s in group), dtype=np.int64)
    )
    story_counts = Counter(s for group in story_samples for s in group)
    stock_mask = rng.random(len(real)) < STOCK_SHARE
    freq = _frequencies(rng, len(real))
    among = np.array([story_counts.get(int(s), 0) for s in real], dtype=np.float64) / len(
        work.stories
    )
    repeated = among * len(work.stories) >= 2
    freq = np.where(repeated, np.maximum(freq, among), freq)
    stock_mask |= repeated
    planted_samples = [np.array(sorted(fingerprints.sample(s.text)), dtype=np.int64)
                       for s in work.planted]  # fmt: skip
    # The rest of the stock vocabulary: founders hold STOCK_SHARE stock samples on average
    # (or what the real texts' shared shingles already bring, if more).
    expected_f = F_MIN * np.log(F_MAX / F_MIN) / (1 - F_MIN / F_MAX)
    missing = STOCK_SHARE * float(sizes.mean()) - float(freq[stock_mask].sum())
    salt = int(rng.integers(0, 1 << 62))
    other = _synthetic(0, max(0, int(missing / expected_f)), salt)
    other = other[~np.isin(other, real)]
    shared = np.concatenate([real, other])
    shared_freq = np.concatenate([np.where(stock_mask, freq, 0.0), _frequencies(rng, len(other))])
    sort = np.argsort(shared, kind="stable")
    shared, shared_freq = shared[sort], shared_freq[sort]
    # Each stock shingle sits in about m*f synthetic founders (stochastic rounding).
    holders = np.floor(m * shared_freq + rng.random(len(shared))).astype(np.int64)
    holders = np.minimum(holders, m)
    pair_shingle = np.repeat(np.arange(len(shared), dtype=np.int64), holders)
    pair_founder = synthetic_ids[rng.integers(0, m, len(pair_shingle))]
    planted_pairs = [
        (np.searchsorted(shared, values), np.full(len(values), fid, dtype=np.int64))
        for fid, values in zip(planted_ids, planted_samples, strict=True)
    ]
    if planted_pairs:
        pair_shingle = np.concatenate([pair_shingle, *(g for g, _ in planted_pairs)])
        pair_founder = np.concatenate([pair_founder, *(f for _, f in planted_pairs)])
    keys = np.unique((pair_shingle << 32) | pair_founder)  # sorted by shingle, then founder
    pair_shingle, pair_founder = keys >> 32, keys & 0xFFFFFFFF
    del keys
    starts = np.flatnonzero(np.r_[True, pair_shingle[1:] != pair_shingle[:-1]])
    counts = np.diff(np.r_[starts, len(pair_shingle)])
    shared_df = np.zeros(len(shared), dtype=np.int64)
    shared_df[pair_shingle[starts]] = counts
    # store_founder posts a shingle while fewer than df_cap earlier founders hold it.
    rank = np.arange(len(pair_shingle)) - np.repeat(starts, counts)
    pair_posted = rank < df_cap
    by_founder = np.lexsort((shared[pair_shingle], pair_founder))
    pair_shingle, pair_founder = pair_shingle[by_founder], pair_founder[by_founder]
    pair_posted = pair_posted[by_founder]
    held = np.bincount(pair_founder, minlength=n + 1)[1:]
    unique_n = np.maximum(0, total - held)
    unique_n[planted_ids - 1] = 0
    size = unique_n + np.bincount(pair_founder[pair_posted], minlength=n + 1)[1:]
    all_samples = unique_n + held
    stock_samples = held[synthetic_ids - 1]
    stats = {
        "samples_per_founder": float(all_samples.mean()),
        "stock_share": float(stock_samples.sum() / max(1, all_samples[synthetic_ids - 1].sum())),
        "stock_vocabulary": float(len(shared)),
        "postings": float(unique_n.sum() + pair_posted.sum()),
        "stock_above_cap_share": float(
            (shared_df[pair_shingle] >= df_cap).sum() / max(1, len(pair_shingle))
        ),
    }
    return HistoryPlan(
        n=n, published=published, sites=sites, unique_n=unique_n,
        unique_offset=np.r_[0, np.cumsum(unique_n)[:-1]], line_n=line_n, sketch_of=sketch_of,
        sketches=sketches, planted=planted,
        shared=shared, pair_shingle=pair_shingle, pair_founder=pair_founder,
        pair_posted=pair_posted, size=size, salt=salt, stats=stats,
    )  # fmt: skip


def _chunks(plan: HistoryPlan) -> Iterator[tuple[int, int, slice]]:
    """Founder id ranges [a, b) with the slice of their stock pairs."""
    for a in range(1, plan.n + 1, CHUNK_FOUNDERS):
        b = min(a + CHUNK_FOUNDERS, plan.n + 1)
        lo, hi = np.searchsorted(plan.pair_founder, [a, b])
        yield a, b, slice(int(lo), int(hi))


def _unique(plan: HistoryPlan, a: int, b: int) -> tuple[Int64s, npt.NDArray[np.int64]]:
    """Unique-content shingles of founders a..b-1 and their founder ids."""
    counts = plan.unique_n[a - 1 : b - 1]
    first = int(plan.unique_offset[a - 1])
    values = _synthetic(UNIQUE_BASE + first, int(counts.sum()), plan.salt)
    return values, np.repeat(np.arange(a, b, dtype=np.int64), counts)


def _ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _copy_founders(conn: psycopg.Connection[Any], plan: HistoryPlan) -> None:
    algorithm = fingerprints.ALGORITHM
    with conn.cursor().copy(
        "COPY news.dedup_founders (founder_id, canonical_url, algorithm, published_at, size, "
        "samples, sketch) FROM STDIN (FREEZE)"
    ) as copy:
        for a, b, pairs in _chunks(plan):
            unique, owners = _unique(plan, a, b)
            values = np.concatenate([plan.shared[plan.pair_shingle[pairs]], unique])
            founders = np.concatenate([plan.pair_founder[pairs], owners])
            order = np.lexsort((values, founders))
            values, founders = values[order], founders[order]
            bounds = np.searchsorted(founders, np.arange(a, b + 1))
            listed = values.tolist()
            out = []
            for fid in range(a, b):
                story = plan.planted.get(fid)
                url = story.url if story else f"https://history.bench.invalid/{fid}"
                samples = listed[bounds[fid - a] : bounds[fid - a + 1]]
                sketch = (
                    verify.sketch(story.text).to_bytes().hex()
                    if story
                    else plan.sketches[plan.sketch_of[fid - 1]]
                )
                out.append(
                    f"{fid}\t{url}\t{algorithm}\t{_ts(int(plan.published[fid - 1])).isoformat()}"
                    f"\t{plan.size[fid - 1]}\t{{{','.join(map(str, samples))}}}\t\\\\x{sketch}\n"
                )
            copy.write("".join(out))


def _copy_postings(conn: psycopg.Connection[Any], plan: HistoryPlan) -> None:
    with conn.cursor().copy(
        "COPY news.dedup_postings (shingle, founder_id) FROM STDIN (FORMAT BINARY, FREEZE)"
    ) as copy:
        copy.write(_HEADER)
        for a, b, pairs in _chunks(plan):
            posted = plan.pair_posted[pairs]
            unique, owners = _unique(plan, a, b)
            values = np.concatenate([plan.shared[plan.pair_shingle[pairs]][posted], unique])
            founders = np.concatenate([plan.pair_founder[pairs][posted], owners])
            order = np.argsort(founders, kind="stable")
            copy.write(_pack_pairs(values[order], founders[order]))
        copy.write(_TRAILER)


def _copy_site_lines(conn: psycopg.Connection[Any], plan: HistoryPlan, seed: int) -> None:
    rng = np.random.default_rng([seed, plan.n, MODEL_VERSION, 2])
    planted_lines: dict[int, list[int]] = {}
    for fid, story in plan.planted.items():
        site = int(plan.sites[fid - 1])
        planted_lines.setdefault(site, []).extend(
            h for _, h in assign.site_line_keys(
                DedupDoc(doc_id=story.url, text=story.text, site=story.site))
        )  # fmt: skip
    articles = np.bincount(plan.sites, minlength=SITES)
    lines = np.bincount(plan.sites, weights=plan.line_n, minlength=SITES).astype(np.int64)
    with conn.cursor().copy(
        "COPY news.dedup_site_lines (site, line_hash, docs) FROM STDIN (FORMAT BINARY, FREEZE)"
    ) as copy:
        copy.write(_HEADER)
        for site in range(SITES):
            name = site_name(site)
            hashes = np.concatenate(
                [
                    rng.integers(0, 1 << 32, int(lines[site]), dtype=np.int64),
                    np.array(planted_lines.get(site, []), dtype=np.int64),
                    np.repeat(
                        np.array([assign.line_hash(boilerplate(name, b))
                                  for b in range(BOILERPLATE_PER_SITE)], dtype=np.int64),
                        round(articles[site] * BOILERPLATE_SHARE),
                    ),
                ]
            )  # fmt: skip
            values, docs = np.unique(hashes, return_counts=True)
            rows = np.empty(len(values), _LINE_ROW)
            rows["n"], rows["ls"], rows["site"], rows["lh"] = 3, 8, name.encode(), 8
            rows["h"], rows["ld"], rows["d"] = values, 4, docs
            copy.write(rows.tobytes())
        copy.write(_TRAILER)


def _count_lines(conn: psycopg.Connection[Any]) -> None:
    """Site-free line counts, as the load keeps them: founders holding a line, all sites."""
    conn.execute(
        "INSERT INTO news.dedup_lines (line_hash, founders) "
        "SELECT line_hash, sum(docs) FROM news.dedup_site_lines GROUP BY line_hash"
    )


def _copy_articles(conn: psycopg.Connection[Any], plan: HistoryPlan, seed: int) -> None:
    rng = random.Random(seed)
    with conn.cursor().copy(
        "COPY news.story_clusters (cluster_id, canonical_article_id, first_seen, "
        "first_published_at, member_count, outlets) FROM STDIN (FREEZE)"
    ) as copy:
        for fid in range(1, plan.n + 1):
            published = _ts(int(plan.published[fid - 1]))
            site = site_name(int(plan.sites[fid - 1]))
            copy.write_row((fid, fid, published, published, 1, [site]))
    with conn.cursor().copy(
        "COPY news.articles (article_id, canonical_url, url, feed_name, outlet, published_at, "
        "fetched_at, body, content_hash, cluster_id, is_canonical, extractor_version, "
        "first_run_key, last_run_key) FROM STDIN (FREEZE)"
    ) as copy:
        for fid in range(1, plan.n + 1):
            published = _ts(int(plan.published[fid - 1]))
            story = plan.planted.get(fid)
            site = site_name(int(plan.sites[fid - 1]))
            if story:
                url, body, digest = story.url, story.text, fingerprints.content_hash(story.text)
            else:
                url = f"https://history.bench.invalid/{fid}"
                body = f"History article {fid} of the throughput benchmark."
                digest = f"{rng.getrandbits(256):064x}"
            fetched = published + timedelta(hours=1)
            copy.write_row((fid, url, url, site, site, published, fetched, body, digest, fid,
                            True, "bench", "bench-history", "bench-history"))  # fmt: skip


def _schema_objects(
    conn: psycopg.Connection[Any],
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    """Constraints (table, name, type, definition) and plain indexes (name, definition)."""
    tables = list(BULK_TABLES)
    constraints = conn.execute(
        """
        SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE contype IN ('p', 'u', 'f')
          AND (conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[]))
        ORDER BY conname
        """,
        {"t": tables},
    ).fetchall()
    indexes = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c
            WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY 1
        """,
        (tables,),
    ).fetchall()
    return (
        [(str(t), str(n), str(k), str(d)) for t, n, k, d in constraints],
        [(str(n), str(d)) for n, d in indexes],
    )


def build_history(dsn: str, n: int, work: Workload, seed: int, df_cap: int) -> dict[str, float]:
    """Fill a migrated, empty warehouse with n founders, bulk-loaded, then index and analyse it.

    Returns:
        Timings (s) and figures of the build.
    """
    figures: dict[str, float] = {}
    began = time.perf_counter()
    plan = plan_history(n, work, seed, df_cap)
    figures["plan_s"] = time.perf_counter() - began
    figures.update(plan.stats)
    with psycopg.connect(dsn, autocommit=True) as conn:
        constraints, indexes = _schema_objects(conn)
        for table, name, _kind, _ in sorted(constraints, key=lambda c: c[2] != "f"):
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    loaders: tuple[tuple[str, Callable[[psycopg.Connection[Any]], None]], ...] = (
        ("news.story_clusters, news.articles", partial(_copy_articles, plan=plan, seed=seed)),
        ("news.dedup_founders", partial(_copy_founders, plan=plan)),
        ("news.dedup_postings", partial(_copy_postings, plan=plan)),
        ("news.dedup_site_lines", partial(_copy_site_lines, plan=plan, seed=seed)),
        ("news.dedup_lines", _count_lines),
    )
    for tables, load in loaders:
        started = time.perf_counter()
        with psycopg.connect(dsn) as conn:
            # COPY FREEZE needs the table emptied in its own transaction.
            conn.execute("SET synchronous_commit = off")
            conn.execute(f"TRUNCATE {tables}")
            load(conn)
        figures[f"copy {tables}"] = time.perf_counter() - started
        print(f"  copied {tables} in {figures[f'copy {tables}']:.1f} s", flush=True)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET max_parallel_maintenance_workers = 0")
        for table, name, _, definition in sorted(constraints, key=lambda c: c[2] == "f"):
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
                )
            )
        for _, definition in indexes:
            conn.execute(sql.SQL(definition))
        for table, column in (("news.dedup_founders", "founder_id"),
                              ("news.articles", "article_id"),
                              ("news.story_clusters", "cluster_id")):  # fmt: skip
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), {})").format(
                    sql.Literal(table), sql.Literal(column), sql.Literal(n)
                )
            )
        figures["index_s"] = time.perf_counter() - started
        print(f"  indexes and constraints in {figures['index_s']:.1f} s", flush=True)
        started = time.perf_counter()
        for table in BULK_TABLES:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(table)))
        figures["vacuum_analyze_s"] = time.perf_counter() - started
    figures["build_s"] = time.perf_counter() - began
    return figures


# -- databases --------------------------------------------------------------------


@contextmanager
def server() -> Iterator[str]:
    """An admin DSN: NEWSINGEST_DSN, else 127.0.0.1:5432, else a local cluster (stopped after)."""
    configured = os.environ.get("NEWSINGEST_DSN")
    if configured:
        yield configured
        return
    try:
        with psycopg.connect(DEFAULT_SERVER):
            pass
    except psycopg.OperationalError:
        pass
    else:
        yield DEFAULT_SERVER
        return
    state = LOCALDB_STATE.expanduser()
    was_running = localdb.status(state) is not None
    started = localdb.start(state)
    print(f"no server answered: using a local cluster in {started.data_dir}", flush=True)
    try:
        yield make_conninfo(started.dsn, dbname="postgres")
    finally:
        if not was_running:
            localdb.stop(state)


def _signature(history: int, new: int, seed: int, settings: Settings, work: Workload) -> str:
    digest = hashlib.sha256()
    for doc in work.docs:
        digest.update(doc.content_hash.encode())
    for story in work.planted:
        digest.update(story.url.encode() + story.text.encode())
    return json.dumps(
        {"model": MODEL_VERSION, "history": history, "new": new, "seed": seed,
         "algorithm": fingerprints.ALGORITHM, "df_cap": settings.dedup_df_cap,
         "workload": digest.hexdigest()},
        sort_keys=True,
    )  # fmt: skip


MISSING, FOREIGN = "missing", "foreign"


def _history_state(admin: str, dsn: str, name: str) -> str:
    """MISSING, FOREIGN (not made here), "" (ours, unfinished) or the signature of our build."""
    with psycopg.connect(admin) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        return MISSING
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        marker = conn.execute("SELECT to_regclass('public.bench_history')").fetchone()
        if marker is None or marker[0] is None:
            return FOREIGN
        row = conn.execute("SELECT signature FROM public.bench_history WHERE complete").fetchone()
    return str(row[0]) if row else ""


def _drop(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def ensure_history(
    admin: str,
    history: int,
    *,
    new: int,
    seed: int,
    settings: Settings,
    work: Workload,
    rebuild: bool,
) -> tuple[str, dict[str, float] | None]:
    """The DSN of a history database matching the parameters, built when missing or stale.

    Returns:
        (dsn, build figures or None when an existing database was reused).
    """
    name = f"{DB_PREFIX}{history}"
    dsn = make_conninfo(admin, dbname=name)
    signature = _signature(history, new, seed, settings, work)
    state = _history_state(admin, dsn, name)
    if state == FOREIGN:
        raise RuntimeError(
            f"database {name} exists but this benchmark did not make it: not touched"
        )
    if not rebuild and state == signature:
        # Migrations added since the build apply to the populated history, as in production.
        try:
            with warehouse.connect(dsn) as conn:
                applied = migrations.migrate(conn)
        except migrations.MigrationError as exc:
            print(f"rebuilding {name}: {exc}", flush=True)
        else:
            if applied:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    for table in BULK_TABLES:
                        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(table)))
                print(f"applied to {name}: {', '.join(applied)}", flush=True)
            return dsn, None
    if state != MISSING:
        _drop(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"building history database {name}: {history} founders", flush=True)
    try:
        with psycopg.connect(dsn) as conn:
            # First of all, the mark that this database is ours (to rebuild or drop).
            conn.execute(
                "CREATE TABLE public.bench_history (signature text NOT NULL, "
                "complete boolean NOT NULL, figures jsonb)"
            )
            conn.execute("INSERT INTO public.bench_history VALUES (%s, false, NULL)", (signature,))
        with warehouse.connect(dsn) as conn:
            migrations.migrate(conn)
        figures = build_history(dsn, history, work, seed, settings.dedup_df_cap)
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "UPDATE public.bench_history SET complete = true, figures = %s",
                (json.dumps(figures),),
            )
    except BaseException:
        _drop(admin, name)
        raise
    return dsn, figures


def drop_history(admin: str, history: int) -> bool:
    """Drop this benchmark's history database of this size (never one it did not make)."""
    name = f"{DB_PREFIX}{history}"
    if _history_state(admin, make_conninfo(admin, dbname=name), name) in (MISSING, FOREIGN):
        return False
    _drop(admin, name)
    return True


# -- the measured phase -----------------------------------------------------------


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc), 0 where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS of this process to its current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _peak_bytes() -> int:
    """Peak RSS of this process: VmHWM, else ru_maxrss (which exec inherits from the parent)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _pin() -> str:
    """Pin this process to one core; say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def _deduplicate(
    conn: warehouse.Connection,
    docs: Sequence[DedupDoc],
    settings: Settings,
    timings: defaultdict[str, float],
    counts: Counter[str],
) -> list[Any]:
    """pipeline.deduplicate's steps on staged articles, each timed."""

    @contextmanager
    def timed(phase: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        timings[phase] += time.perf_counter() - started

    with timed("existing_urls"):
        existing = warehouse.existing_urls(conn, [d.doc_id for d in docs])
    fresh = [d for d in docs if d.doc_id not in existing]
    results = batch.cluster_batch(conn, fresh, settings, timer=timed)  # the DAG's own code
    counts.update(r.relation for r in results)
    return results


def worker(job: Path) -> dict[str, Any]:
    """The measured phase, in its own process: load the batch, pin, run, report."""
    with job.open("rb") as handle:
        params = pickle.load(handle)  # our own file, written by _run_worker
    docs: list[DedupDoc] = params["docs"]
    batch: int = params["batch"] or len(docs)
    settings = load_settings({})
    pinned = _pin()
    gc.collect()
    rss_before = _rss_bytes()
    reset = _reset_peak()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    timings: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    relations: Counter[str] = Counter()
    started = time.perf_counter()
    for first in range(0, len(docs), batch):
        chunk = docs[first : first + batch]
        began = time.perf_counter()
        with warehouse.connect(params["dsn"]) as conn:
            timings["connect"] += time.perf_counter() - began
            results = _deduplicate(conn, chunk, settings, timings, counts)
        relations.update(r.relation for r in results)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    peak = _peak_bytes()
    return {
        "pinned": pinned,
        "load": load,
        "docs": len(docs),
        "batch": batch,
        "elapsed_s": elapsed,
        "client_cpu_s": (cpu_after.ru_utime - cpu_before.ru_utime)
        + (cpu_after.ru_stime - cpu_before.ru_stime),
        "timings": dict(timings),
        "counts": dict(counts),
        "relations": dict(relations),
        "rss_before_mb": rss_before / 2**20,
        "peak_rss_mb": peak / 2**20,
        "peak_mb": max(0, peak - max(rss_before, 0)) / 2**20,
        "peak_reset": reset,
    }


def _run_worker(dsn: str, docs: list[DedupDoc], batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ns_bench_") as folder:
        job = Path(folder) / "job.pickle"
        with job.open("wb") as handle:
            pickle.dump({"dsn": dsn, "docs": docs, "batch": batch}, handle)
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(job)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _report(run: int, result: dict[str, Any]) -> None:
    t = result["timings"]
    # The lookups overlap the computing: what is counted is the time spent waiting for them.
    calls = ("connect", "existing_urls", "stale_check", "known_hashes", "wait_line_counts",
             "wait_lookups")  # fmt: skip
    db = sum(t.get(k, 0.0) for k in calls)
    print(
        f"run {run}: {result['docs']} docs in batches of {result['batch']}, {result['pinned']}: "
        f"{result['elapsed_s']:.2f} s wall, client CPU {result['client_cpu_s']:.2f} s, "
        f"waiting on the database {db:.2f} s; "
        f"load average {result['load']:.1f} on {os.cpu_count()} cores"
    )
    print("  phases (s): " + ", ".join(f"{k}={v:.3f}" for k, v in t.items()))
    print("  figures: " + ", ".join(f"{k}={v}" for k, v in result["counts"].items()))
    print("  decisions: " + ", ".join(f"{k}={v}" for k, v in sorted(result["relations"].items())))
    print(
        f"  memory: RSS {result['rss_before_mb']:.0f} MB before the phase, peak "
        f"{result['peak_rss_mb']:.0f} MB (+{result['peak_mb']:.1f} MB)"
        + ("" if result["peak_reset"] else "; peak NOT reset before the phase (no clear_refs)")
    )
    print(f"  docs/s={result['docs'] / result['elapsed_s']:.0f}", flush=True)


def main(
    history: int,
    new: int = 10_000,
    *,
    batch: int = 0,
    seed: int = DEFAULT_SEED,
    repeat: int = 2,
    rebuild: bool = False,
    drop: bool = False,
) -> tuple[float, float]:
    """Build (or reuse) the history, measure the batch `repeat` times, print the figures.

    Args:
        history: founders in the warehouse.
        new: articles in the measured batch.
        batch: articles per deduplicate call (0: the whole batch at once, as one DAG run).
        seed: seed of the workload and the history.
        repeat: measured runs; the fastest gives the final line (others share the machine).
        rebuild: build the history even when a matching one exists.
        drop: drop the history database at the end.

    Returns:
        (docs per second, peak MB) of the fastest run.
    """
    if history < 1 or new < 1:
        raise ValueError("history and new must be positive")
    settings = load_settings({})
    began = time.perf_counter()
    work = make_workload(new, history, seed)
    print(
        f"new articles: {len(work.docs)} from {work.source}; "
        + ", ".join(f"{k}={v}" for k, v in sorted(work.kinds.items()))
        + f"; {sum(len(d.text.split()) for d in work.docs) / len(work.docs):.0f} words each"
        f" on average (made in {time.perf_counter() - began:.1f} s)",
        flush=True,
    )
    with server() as admin:
        shown = {k: v for k, v in conninfo_to_dict(admin).items() if k != "password"}
        print(f"server: {shown}", flush=True)
        dsn, figures = ensure_history(
            admin, history, new=new, seed=seed, settings=settings, work=work, rebuild=rebuild
        )
        if figures is None:
            print(f"history: {history} founders, reused {conninfo_to_dict(dsn)['dbname']}")
        else:
            print(
                f"history: {history} founders built in {figures['build_s']:.1f} s ("
                + ", ".join(f"{k}={v:.4g}" for k, v in figures.items() if k != "build_s")
                + ")"
            )
        with psycopg.connect(dsn) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            row = size.fetchone()
        print(f"history database size: {row[0] if row else '?'}", flush=True)
        try:
            per_founder = footprint(dsn)
            results: list[dict[str, Any]] = []
            for run in range(1, max(1, repeat) + 1):
                if run == 1:
                    print(f"run 1: {_drop_page_cache()}", flush=True)
                results.append(_run_worker(dsn, work.docs, batch))
                _report(run, results[-1])
        finally:
            if drop and drop_history(admin, history):
                print(f"dropped {DB_PREFIX}{history}")
    result = min(results, key=lambda r: float(r["elapsed_s"]))
    docs_per_s = result["docs"] / result["elapsed_s"]
    cold = results[0]["docs"] / results[0]["elapsed_s"]
    print(f"docs_per_s={docs_per_s:.0f} cold_docs_per_s={cold:.0f} "
          f"peak_mb={result['peak_mb']:.1f} bytes_per_founder={per_founder:.0f}")  # fmt: skip
    return docs_per_s, float(result["peak_mb"])


def footprint(dsn: str) -> float:
    """Bytes of near-duplicate state per stored founder; prints each relation's share.

    Counts every table of news whose name starts with dedup_, with its indexes
    and TOAST (pg_total_relation_size); news.articles is the warehouse, not state.
    """
    with psycopg.connect(dsn) as conn:
        sizes = conn.execute(
            """
            SELECT c.relname, pg_total_relation_size(c.oid), pg_indexes_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'news' AND c.relkind = 'r' AND c.relname LIKE 'dedup\\_%'
            ORDER BY 2 DESC
            """
        ).fetchall()
        row = conn.execute("SELECT count(*) FROM news.dedup_founders").fetchone()
    founders = max(1, int(row[0]) if row else 0)
    total = sum(int(size) for _, size, _ in sizes)
    parts = ", ".join(
        f"{name} {int(size) / founders:.0f} (indexes {int(indexes) / founders:.0f})"
        for name, size, indexes in sizes
    )
    print(f"footprint: {total / founders:.0f} bytes a founder over {founders} founders: {parts}")
    return total / founders


def _drop_page_cache() -> str:
    """Drop the operating system's page cache before a cold run; say whether it was done."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n", encoding="ascii")
    except OSError as exc:
        return f"page cache NOT dropped ({exc.strerror or exc}): the first run may be warm"
    return "cold: the page cache was dropped before it"


def cli() -> None:
    """Command line of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=100_000, help="founders in the warehouse")
    parser.add_argument("--new", type=int, default=10_000, help="articles in the measured batch")
    parser.add_argument("--batch", type=int, default=0, help="articles per call (0: all)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=2, help="measured runs (fastest reported)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the history database")
    parser.add_argument("--drop", action="store_true", help="drop the history database after")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    main(args.history, args.new, batch=args.batch, seed=args.seed, repeat=args.repeat,
         rebuild=args.rebuild, drop=args.drop)  # fmt: skip


if __name__ == "__main__":
    cli()
