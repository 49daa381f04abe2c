"""Every ```sql block of the README runs as printed on the demo warehouse and finds rows."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import psycopg

from newsingest import pipeline
from newsingest.settings import Settings

README = Path(__file__).parents[2] / "README.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.DOTALL | re.MULTILINE)
# Placeholders cannot be pasted into psql.
PLACEHOLDER = re.compile(r"\$\d|%s|%\(")


def test_readme_queries_run_as_printed(
    warehouse_dsn: str, settings: Settings, demo_registry: Path
) -> None:
    queries = SQL_BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(queries) >= 3
    run = pipeline.RunInfo.make(date(2022, 1, 22), "t")
    pipeline.run_all(warehouse_dsn, settings, run, demo_registry)
    failures = []
    for query in queries:
        if PLACEHOLDER.search(query):
            failures.append(f"has a placeholder:\n{query}")
            continue
        with psycopg.connect(warehouse_dsn) as conn:
            try:
                rows = conn.execute(query).fetchall()
            except psycopg.Error as exc:
                failures.append(f"fails ({exc}):\n{query}")
                continue
        if not rows:
            failures.append(f"finds no rows on the demo warehouse:\n{query}")
    assert not failures, "\n\n".join(failures)
