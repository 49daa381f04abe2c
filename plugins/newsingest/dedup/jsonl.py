"""`newsingest dedup`: JSONL documents in, story clusters out, with the DAG's algorithm."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from newsingest import dates
from newsingest.dedup.assign import Index, deduplicate
from newsingest.dedup.fingerprints import content_hash
from newsingest.records import UNSTORABLE, DedupDoc, storable
from newsingest.settings import Settings
from newsingest.urls import host_of

LOGGER = logging.getLogger(__name__)


class InputError(ValueError):
    """A line of the input file is not a usable document; the message gives the line."""


def _date(value: Any, line: int) -> datetime | None:
    """Parse an optional ISO 8601 date (UTC assumed when naive)."""
    if value in (None, ""):
        return None
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"line {line}: published_at {value!r} is not ISO 8601") from exc
    parsed = dates.parse_iso(str(value))
    if parsed is None:
        raise InputError(
            f"line {line}: published_at {value!r} is out of range "
            f"(years {dates.EARLIEST_YEAR}-{dates.LATEST_YEAR})"
        )
    return parsed


def read_docs(lines: Iterable[str]) -> list[DedupDoc]:
    """Read {id, text, title?, url?, published_at?, site?} lines (blank lines skipped).

    The title is accepted but not compared: rewrites change headlines. The
    site defaults to the URL's host and refines boilerplate detection (lines
    recurring beside unrelated texts are boilerplate whatever the site).

    Args:
        lines: JSONL text lines.

    Returns:
        The documents in input order.
    """
    docs: list[DedupDoc] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("text"), str):
            raise InputError(f"line {number}: needs an 'id' and a string 'text'")
        doc_id = str(item["id"])
        if UNSTORABLE.search(doc_id):
            raise InputError(f"line {number}: the id holds a NUL or a lone surrogate")
        if doc_id in seen:
            raise InputError(f"line {number}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        url = storable(str(item.get("url") or ""))
        # Text as the pipeline stores it: NUL dropped, lone surrogates replaced.
        text = storable(item["text"])
        docs.append(
            DedupDoc(
                doc_id=doc_id,
                text=text,
                published_at=_date(item.get("published_at"), number),
                site=storable(str(item.get("site") or (host_of(url) if url else ""))),
                content_hash=content_hash(text),
            )
        )
    return docs


def cluster(docs: list[DedupDoc], settings: Settings) -> list[dict[str, Any]]:
    """Cluster documents against an empty index.

    Args:
        docs: the documents.
        settings: the same thresholds and window the DAG uses.

    Returns:
        One row per document in input order: id, cluster_id (numbered in
        order of founding), canonical_id (the founder), similarity, relation,
        and secondary_id for stitched pages.
    """
    index = Index(df_cap=settings.dedup_df_cap)
    ordered = deduplicate(docs, index, settings)  # processing order: founders come first
    numbers: dict[str, int] = {}
    for result in ordered:
        numbers.setdefault(result.cluster_key, len(numbers) + 1)
    results = {r.canonical_url: r for r in ordered}
    rows = []
    for doc in docs:
        result = results[doc.doc_id]
        rows.append(
            {
                "id": doc.doc_id,
                "cluster_id": numbers[result.cluster_key],
                "canonical_id": result.cluster_key,
                "similarity": result.similarity,
                "relation": result.relation,
                "secondary_id": result.secondary_of,
            }
        )
    return rows


def write_rows(rows: Iterable[dict[str, Any]], target: IO[str]) -> None:
    """Write rows as JSON lines."""
    for row in rows:
        target.write(json.dumps(row, ensure_ascii=False) + "\n")
