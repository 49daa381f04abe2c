"""Near-duplicate state in PostgreSQL: founders' fingerprints and sketches, postings, lines.

The deduplicate task reads exactly the slice its batch needs (seed_index);
the load task writes new founders in the same transaction as their articles.
Batches hold hundreds of thousands of keys, hence the binary arrays and the
per-key index probes below.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import tuple_row

from newsingest.dedup.assign import StoredFounder, StoredState
from newsingest.dedup.shingle_table import I64, distinct, run_starts
from newsingest.warehouse import Connection

LOGGER = logging.getLogger(__name__)
POSTINGS_BLOCK = 50_000


class _Int8Array:
    """Ints sent as one binary bigint[] parameter (see _Int8ArrayDumper)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[int] | I64) -> None:
        self.values = values


_INT8_OID = postgres.types["int8"].oid
_ARRAY_HEADER = struct.Struct(">iiiii")  # ndim, has nulls, element oid, length, lower bound
_EMPTY_ARRAY = struct.pack(">iii", 0, 0, _INT8_OID)  # no dimensions
_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


class _Int8ArrayDumper(Dumper):
    """Binary bigint[] laid out by numpy.

    psycopg's list dumper inspects every int in Python, which takes seconds
    for the hundreds of thousands of shingles of a day's batch.
    """

    format = Format.BINARY
    oid = postgres.types["int8"].array_oid

    def dump(self, obj: Any) -> bytes:
        """The binary array: header, then each element as its length (8) and 8 bytes."""
        values = np.asarray(obj.values, dtype=np.int64)  # OverflowError outside bigint
        if not values.size:
            return _EMPTY_ARRAY
        body = np.empty(values.size, dtype=_ELEMENT)
        body["length"] = 8
        body["value"] = values
        return _ARRAY_HEADER.pack(1, 0, _INT8_OID, values.size, 1) + body.tobytes()


def _bulk_cursor(conn: Connection) -> psycopg.Cursor[Any]:
    """A tuple-row cursor that sends _Int8Array parameters in binary, JIT off.

    PostgreSQL's JIT, tempted by the row estimates of these lookups, spends
    about 0.2 s compiling each, more than it saves: off until the transaction ends.
    """
    cursor: psycopg.Cursor[Any] = conn.cursor(row_factory=tuple_row)
    cursor.adapters.register_dumper(_Int8Array, _Int8ArrayDumper)
    cursor.execute("SET LOCAL jit = off")
    return cursor


# Lookups of a batch's keys (hundreds of thousands of them) probe the index
# once per key: OFFSET 0 keeps each LATERAL subquery a separate, per-row index
# scan. Left to itself the planner, costing every probe as a disk read, hashes
# a full scan of tables that grow with the history instead (seconds at 100k
# founders, tens of seconds at a million). Keys come as unnest() in the select
# list, which streams them rather than spilling a function scan to disk.


def site_line_counts(
    conn: Connection, pairs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Stored article counts of (site, line hash) pairs."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    sites = sorted({site for site, _ in wanted})
    number = {site: i for i, site in enumerate(sites, start=1)}
    with _bulk_cursor(conn) as cursor:
        rows = cursor.execute(
            """
            SELECT s.name, w.line_hash, l.docs
            FROM (SELECT unnest(%(n)s::bigint[]) AS site, unnest(%(h)s::bigint[]) AS line_hash)
                 AS w
            -- Site names joined in once: subscripting the text[] per probe walks it.
            JOIN unnest(%(sites)s::text[]) WITH ORDINALITY AS s(name, n) ON s.n = w.site
            CROSS JOIN LATERAL (
                SELECT l.docs FROM news.dedup_site_lines l
                WHERE l.site = s.name AND l.line_hash = w.line_hash
                OFFSET 0
            ) AS l
            """,
            {"n": _Int8Array([number[site] for site, _ in wanted]),
             "h": _Int8Array([h for _, h in wanted]), "sites": sites},
        ).fetchall()  # fmt: skip
    return {(site, h): docs for site, h, docs in rows}


def add_site_lines(conn: Connection, site: str, line_hashes: Iterable[int]) -> None:
    """Count one more article of site for each of its distinct lines."""
    add_articles_site_lines(conn, [(site, line_hashes)])


def add_articles_site_lines(
    conn: Connection, articles: Iterable[tuple[str, Iterable[int]]]
) -> None:
    """Count each article (site, line hashes) once for each of its distinct lines, in one
    statement for a chunk of the load."""
    counts: dict[tuple[str, int], int] = {}
    for site, hashes in articles:
        if site:
            for h in set(hashes):
                counts[site, h] = counts.get((site, h), 0) + 1
    if not counts:
        return
    keys = sorted(counts)
    conn.execute(
        """
        INSERT INTO news.dedup_site_lines (site, line_hash, docs)
        SELECT * FROM unnest(%s::text[], %s::bigint[], %s::integer[])
        ON CONFLICT (site, line_hash) DO UPDATE
            SET docs = news.dedup_site_lines.docs + EXCLUDED.docs
        """,
        ([k[0] for k in keys], [k[1] for k in keys], [counts[k] for k in keys]),
    )


def line_founders(conn: Connection, line_hashes: Iterable[int]) -> dict[int, int]:
    """Stored founder counts of line hashes (lines no founder holds are absent)."""
    wanted = _distinct_ints(line_hashes)
    if not wanted.size:
        return {}
    with _bulk_cursor(conn) as cursor:
        rows = cursor.execute(
            """
            SELECT w.line_hash, l.founders
            FROM (SELECT unnest(%(h)s::bigint[]) AS line_hash) AS w
            CROSS JOIN LATERAL (
                SELECT l.founders FROM news.dedup_lines l WHERE l.line_hash = w.line_hash
                OFFSET 0
            ) AS l
            """,
            {"h": _Int8Array(wanted)},
        ).fetchall()
    return {int(h): int(n) for h, n in rows}


def add_founder_lines(conn: Connection, founders_lines: Iterable[Iterable[int]]) -> None:
    """Count one more founder for each distinct line of each founder, in one statement."""
    flat = [h for lines in founders_lines for h in sorted(set(lines))]
    if not flat:
        return
    with _bulk_cursor(conn) as cursor:
        cursor.execute(
            """
            INSERT INTO news.dedup_lines (line_hash, founders)
            SELECT h, count(*) FROM unnest(%(h)s::bigint[]) AS h GROUP BY h ORDER BY h
            ON CONFLICT (line_hash) DO UPDATE
                SET founders = news.dedup_lines.founders + EXCLUDED.founders
            """,
            {"h": _Int8Array(flat)},
        )


def _int8s(raw: bytes | None) -> I64:
    """Big-endian 8-byte integers (string_agg of int8send) as an array."""
    return np.frombuffer(raw or b"", dtype=">i8").astype(np.int64)


def _distinct_ints(values: Iterable[int] | I64) -> I64:
    """Sorted distinct keys to look up, from an array or any iterable of ints."""
    given = values if isinstance(values, np.ndarray) else list(values)
    return distinct(np.asarray(given, dtype=np.int64))


def seed_index(conn: Connection, shingles: Iterable[int] | I64, *, df_cap: int) -> StoredState:
    """Founder counts of the batch's shingles and the stored founders posting them.

    A shingle is posted for at most df_cap founders (store_founder), so its
    postings count its founders up to the cap. Founders come as ids only:
    most postings of a day's batch lead to founders sharing a sample or two
    with it, which no decision reads (stored_founders reads the few that
    are). Numbers come back as one bytea each (string_agg of int8send), read
    into numpy without a Python object per row: a chunk's lookups return
    hundreds of thousands of them.

    Args:
        conn: open connection.
        shingles: every sampled shingle of the batch.
        df_cap: shingles in this many founders or more are frequent (their postings not returned).
    """
    wanted = _distinct_ints(shingles)
    with _bulk_cursor(conn) as cursor:
        row = cursor.execute(
            """
            SELECT string_agg(int8send(w.shingle), ''), string_agg(int8send(p.founder_id), '')
            FROM (SELECT unnest(%(s)s::bigint[]) AS shingle) AS w
            CROSS JOIN LATERAL (
                SELECT p.founder_id FROM news.dedup_postings p WHERE p.shingle = w.shingle
                LIMIT %(cap)s
            ) AS p
            """,
            {"s": _Int8Array(wanted), "cap": df_cap},
        ).fetchone()
    posted, posted_by = (_int8s(row[0]), _int8s(row[1])) if row else (_int8s(None), _int8s(None))
    # Rows come shingle by shingle in the order asked, but SQL promises no
    # order: sorted here (a stable sort of sorted runs is a linear pass).
    order = np.argsort(posted, kind="stable")
    posted, posted_by = posted[order], posted_by[order]
    starts = np.flatnonzero(run_starts(posted))
    found, counts = posted[starts], np.diff(starts, append=posted.size)
    informative = np.repeat(counts < df_cap, counts)
    return StoredState(found, counts, posted[informative], posted_by[informative])


def stored_founders(
    conn: Connection,
    founder_ids: Iterable[int] | I64,
    *,
    algorithm: str,
    since: datetime | None,
    until: datetime | None,
) -> dict[int, StoredFounder]:
    """The founders of these ids fingerprinted by `algorithm` and published in the window.

    Args:
        conn: open connection.
        founder_ids: ids from seed_index's postings.
        algorithm: current fingerprint version (founders of others are left out).
        since, until: publication window (None: unbounded); undated founders are in it.

    Returns:
        Founders by id; ids outside the window or of another algorithm are absent.
    """
    wanted = _distinct_ints(founder_ids)
    if not wanted.size:
        return {}
    with _bulk_cursor(conn) as cursor:
        rows = cursor.execute(
            """
            SELECT f.founder_id, f.canonical_url, f.size, f.published_at, a.cluster_id, f.sketch
            FROM (SELECT unnest(%(ids)s::bigint[]) AS founder_id) AS ids
            CROSS JOIN LATERAL (
                SELECT f.founder_id, f.canonical_url, f.size, f.published_at, f.sketch
                FROM news.dedup_founders f
                WHERE f.founder_id = ids.founder_id AND f.algorithm = %(alg)s
                  AND (f.published_at IS NULL OR %(since)s::timestamptz IS NULL
                       OR f.published_at >= %(since)s)
                  AND (f.published_at IS NULL OR %(until)s::timestamptz IS NULL
                       OR f.published_at <= %(until)s)
                OFFSET 0
            ) AS f
            LEFT JOIN LATERAL (
                SELECT a.cluster_id FROM news.articles a
                WHERE a.canonical_url = f.canonical_url OFFSET 0
            ) AS a ON true
            """,
            {"ids": _Int8Array(wanted), "alg": algorithm, "since": since, "until": until},
        ).fetchall()
    return {
        founder_id: StoredFounder(url, size, published_at, cluster, bytes(sketch))
        for founder_id, url, size, published_at, cluster, sketch in rows
    }


@dataclass(frozen=True, slots=True)
class NewFounder:
    """A cluster founder the load indexes: its fingerprint (samples) and sketch."""

    canonical_url: str
    published_at: datetime | None
    samples: Sequence[int]
    sketch: bytes


def store_founder(
    conn: Connection,
    canonical_url: str,
    *,
    published_at: datetime | None,
    samples: Sequence[int],
    algorithm: str,
    df_cap: int,
    sketch: bytes,
) -> bool:
    """Index one cluster founder (see store_founders).

    Returns:
        False when the founder was already stored (a rerun), True otherwise.
    """
    founder = NewFounder(canonical_url, published_at, samples, sketch)
    return bool(store_founders(conn, [founder], algorithm=algorithm, df_cap=df_cap))


def store_founders(
    conn: Connection, founders: Sequence[NewFounder], *, algorithm: str, df_cap: int
) -> set[str]:
    """Index a load's cluster founders, in order, with a fixed number of statements.

    A shingle is posted for a founder while fewer than df_cap founders hold it:
    the stored ones (counted once for the batch's distinct shingles), then the
    batch's earlier founders. Founders and postings are then COPYed, so the cost
    per founder does not depend on the size of the index.

    Returns:
        The canonical URLs stored (a founder already stored, as in a rerun, is not).
    """
    if not founders:
        return set()
    with _bulk_cursor(conn) as cursor:
        stored = {
            url
            for (url,) in cursor.execute(
                "SELECT canonical_url FROM news.dedup_founders WHERE canonical_url = ANY(%s)",
                ([f.canonical_url for f in founders],),
            ).fetchall()
        }
        todo = list({f.canonical_url: f for f in reversed(founders)
                     if f.canonical_url not in stored}.values())[::-1]  # fmt: skip
        if not todo:
            return set()
        wanted = _distinct_ints([s for f in todo for s in f.samples])
        held = {
            int(shingle): int(count)
            for shingle, count in cursor.execute(
                """
                SELECT w.shingle, (SELECT count(*) FROM (
                    SELECT 1 FROM news.dedup_postings p WHERE p.shingle = w.shingle
                    LIMIT %(cap)s) AS held)
                FROM (SELECT unnest(%(s)s::bigint[]) AS shingle) AS w
                """,
                {"s": _Int8Array(wanted), "cap": df_cap},
            ).fetchall()
        }
        ids = [
            int(i)
            for (i,) in cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('news.dedup_founders', 'founder_id')) "
                "FROM generate_series(1, %s)",
                (len(todo),),
            ).fetchall()
        ]
        postings: list[tuple[int, int]] = []
        with cursor.copy(
            "COPY news.dedup_founders (founder_id, canonical_url, algorithm, published_at, size, "
            "samples, sketch) FROM STDIN"
        ) as copy:
            for founder, founder_id in zip(todo, ids, strict=True):
                size = 0
                for shingle in dict.fromkeys(int(v) for v in founder.samples):
                    if held.get(shingle, 0) < df_cap:
                        held[shingle] = held.get(shingle, 0) + 1
                        postings.append((shingle, founder_id))
                        size += 1
                copy.write_row((founder_id, founder.canonical_url, algorithm,
                                founder.published_at, size, list(founder.samples),
                                founder.sketch))  # fmt: skip
        # One COPY at a time on a connection: postings after their founders.
        with cursor.copy("COPY news.dedup_postings (shingle, founder_id) FROM STDIN") as copy:
            # Blocks of text lines: write_row took about 6 µs a posting, 80 postings a founder.
            for start in range(0, len(postings), POSTINGS_BLOCK):
                block = postings[start : start + POSTINGS_BLOCK]
                copy.write("".join(f"{shingle}\t{founder}\n" for shingle, founder in block))
    return {f.canonical_url for f in todo}


def stale_founders(conn: Connection, algorithm: str) -> int:
    """How many stored founders were fingerprinted by another algorithm version."""
    row = conn.execute(
        # Two ranges instead of <> so that the (algorithm, published_at) index answers.
        "SELECT count(*) AS n FROM news.dedup_founders WHERE algorithm < %s OR algorithm > %s",
        (algorithm, algorithm),
    ).fetchone()
    return int(row["n"]) if row else 0


def reset_dedup_index(conn: Connection, since: datetime | None) -> list[dict[str, Any]]:
    """Drop the index and return the founders to fingerprint again (those since `since`).

    Returns:
        Rows with canonical_url, body, outlet and published_at of the founders
        to re-index, oldest first.
    """
    founders = conn.execute(
        """
        SELECT a.canonical_url, a.body, a.outlet, a.site_name, a.published_at
        FROM news.dedup_founders f JOIN news.articles a USING (canonical_url)
        WHERE %(since)s::timestamptz IS NULL OR a.published_at IS NULL
              OR a.published_at >= %(since)s
        ORDER BY a.published_at NULLS LAST, a.article_id
        """,
        {"since": since},
    ).fetchall()
    conn.execute("TRUNCATE news.dedup_postings, news.dedup_lines")
    conn.execute("DELETE FROM news.dedup_founders")
    return [dict(r) for r in founders]
