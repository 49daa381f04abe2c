"""Tests of newsingest.migrations against a real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from newsingest import migrations
from newsingest.migrations import SQL_DIR, MigrationError, discover, migrate


def test_apply_on_empty_database_then_noop(empty_database: str) -> None:
    with psycopg.connect(empty_database) as conn:
        applied = migrate(conn)
        assert applied == [m.name for m in discover()]
        assert migrate(conn) == []
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'news'"
            )
        }
    assert {"articles", "story_clusters", "feeds", "feed_state", "fetch_log", "ingest_runs",
            "unique_stories", "daily_feed_stats", "schema_migrations"} <= tables  # fmt: skip


def test_every_table_view_and_column_has_a_comment(empty_database: str) -> None:
    with psycopg.connect(empty_database) as conn:
        migrate(conn)
        missing = conn.execute(
            """
            SELECT c.relname || coalesce('.' || a.attname, '')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'news'
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'v')
              AND (obj_description(c.oid, 'pg_class') IS NULL
                   OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
            """
        ).fetchall()
    assert missing == []


def test_edited_applied_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    with psycopg.connect(empty_database) as conn:
        migrate(conn, sql_dir)
        first = sorted(sql_dir.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- sneaky edit\n")
        with pytest.raises(MigrationError, match=rf"{first.name} was edited after it was applied"):
            migrate(conn, sql_dir)


def test_new_migration_is_applied_in_order(empty_database: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    with psycopg.connect(empty_database) as conn:
        migrate(conn, sql_dir)
        (sql_dir / "9999_extra.sql").write_text(
            "CREATE TABLE news.extra (x int);\nCOMMENT ON TABLE news.extra IS 'x';\n"
        )
        assert migrate(conn, sql_dir) == ["9999_extra.sql"]


def test_failed_migration_rolls_back_alone(empty_database: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "9998_good.sql").write_text("CREATE TABLE news.good (x int);")
    (sql_dir / "9999_bad.sql").write_text("CREATE TABLE news.bad (x int);\nSELECT 1/0;")
    with psycopg.connect(empty_database) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            migrate(conn, sql_dir)
        versions = [r[0] for r in conn.execute("SELECT version FROM news.schema_migrations")]
        bad = conn.execute("SELECT to_regclass('news.bad')").fetchone()
    assert 9998 in versions and 9999 not in versions
    assert bad == (None,)


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_case"):
        discover(tmp_path)


def test_concurrent_migrate_applies_once(empty_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(empty_database) as conn:
                results.append(migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, len(migrations.discover())]


def test_fetch_log_rows_logged_before_0014_lose_their_user_info(
    empty_database: str, tmp_path: Path
) -> None:
    before = tmp_path / "sql"
    before.mkdir()
    for migration in discover():
        if migration.version < 14:
            shutil.copy(SQL_DIR / migration.name, before / migration.name)
    with psycopg.connect(empty_database) as conn:
        migrate(conn, before)
        conn.execute(
            "INSERT INTO news.fetch_log (run_key, feed_name, target, url, final_url)"
            " VALUES ('r', 'f', 'page', 'http://reader:pw@a.example/x', ''),"
            "        ('r', 'f', 'page', 'https://a.example/y', 'http://u:pw@b.example/z?q=@')"
        )
        conn.commit()
        migrate(conn)
        rows = conn.execute("SELECT url, final_url FROM news.fetch_log ORDER BY url").fetchall()
    assert rows == [
        ("http://***@a.example/x", ""),
        ("https://a.example/y", "http://***@b.example/z?q=@"),
    ]
