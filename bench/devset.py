"""Reading ../shared/datasets/extraction-dev (our machines only): texts and pages for benchmarks."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# ../shared beside the checkout; NEWSINGEST_DEVSET names it for a worktree kept elsewhere.
DEVSET = Path(
    os.environ.get("NEWSINGEST_DEVSET")
    or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "extraction-dev"
)
COMMENTS_MARKER = "!@#$%^&*()  COMMENTS"
# Pages stored twice or one story twice (README "Known quirks"): kept out of the text pool.
DUPLICATES = {
    "dragnet/T177", "dragnet/T77", "fundus/de/Taz_2024_10_23", "dragnet/44", "dragnet/R492",
}  # fmt: skip


def require() -> Path:
    """The dataset folder, or exit 0 with a note when this machine has none."""
    if not (DEVSET / "manifest.jsonl").exists():
        print(f"SKIPPED: the development set is not at {DEVSET} (it exists only on our machines)")
        sys.exit(0)
    return DEVSET


def manifest() -> Iterator[dict[str, Any]]:
    """Manifest entries, one per page."""
    with (require() / "manifest.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def truth(entry: dict[str, Any]) -> str:
    """The ground-truth main text (dragnet: before the comments marker)."""
    path = DEVSET / entry["truth_path"]
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
    text = raw.decode("utf-8").replace("\r\n", "\n")
    return text.split(COMMENTS_MARKER)[0].strip()


def html(entry: dict[str, Any]) -> bytes:
    """The page's raw bytes."""
    path = DEVSET / entry["html_path"]
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def english_texts(min_words: int = 250) -> list[tuple[str, str]]:
    """(id, text) of clean English truths long enough to be news articles."""
    found = []
    for entry in manifest():
        if entry["flags"] or entry["id"] in DUPLICATES or entry.get("lang") != "en":
            continue
        text = truth(entry)
        if len(text.split()) >= min_words:
            found.append((entry["id"], text))
    return found
