"""The least-privilege roles of migration 0013: log-in roles granted them are limited."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from newsingest import migrations, pipeline
from newsingest.settings import Settings

LoginAs = Callable[[str], str]


@pytest.fixture
def login_as(warehouse_dsn: str) -> Iterator[LoginAs]:
    """Make a log-in role granted a group role; returns its DSN. Dropped afterwards."""
    made: list[str] = []

    def make(group: str) -> str:
        name = f"nstest_{group.rsplit('_', maxsplit=1)[-1]}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(warehouse_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{name}" LOGIN')
            admin.execute(f'GRANT {group} TO "{name}"')
        made.append(name)
        return make_conninfo(warehouse_dsn, user=name, password="")

    yield make
    with psycopg.connect(warehouse_dsn, autocommit=True) as admin:
        for name in made:
            # Roles outlive the test database: drop what they own or were granted first.
            admin.execute(f'DROP OWNED BY "{name}"')
            admin.execute(f'DROP ROLE "{name}"')


WRITES = [
    "INSERT INTO news.feeds (feed_name, url, kind) VALUES ('x', 'http://x.example/', 'rss')",
    "UPDATE news.articles SET title = 'changed'",
    "DELETE FROM news.fetch_log",
    "TRUNCATE news.raw_pages",
    "CREATE TABLE news.mine (id int)",
    "DROP VIEW news.unique_stories",
    "ALTER TABLE news.articles ADD COLUMN mine text",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_analyst_role_reads_and_cannot_write(login_as: LoginAs, statement: str) -> None:
    dsn = login_as("newsingest_analyst")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (conninfo_to_dict(dsn)["user"],)
        for relation in ("articles", "story_clusters", "unique_stories", "daily_feed_stats"):
            conn.execute(f"SELECT count(*) FROM news.{relation}").fetchone()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_pipeline_role_runs_the_pipeline(
    login_as: LoginAs, settings: Settings, demo_registry: Path
) -> None:
    dsn = login_as("newsingest_pipeline")
    run = pipeline.RunInfo.make(date(2022, 1, 22), "test")
    summary = pipeline.run_all(dsn, settings, run, demo_registry)
    assert "broken-gazette" in summary
    with psycopg.connect(dsn) as conn:
        (loaded,) = conn.execute("SELECT count(*) FROM news.articles").fetchone()  # type: ignore[misc]
        assert loaded > 20
        conn.execute("TRUNCATE news.dedup_postings")  # re-indexing rebuilds the postings
        conn.rollback()
        for statement in [
            *WRITES[-3:],
            "INSERT INTO news.schema_migrations (version, name, checksum) VALUES (99, 'x', 'x')",
            "DELETE FROM news.schema_migrations",
        ]:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_roles_are_created_once_per_cluster(pg_admin_dsn: str, empty_database: str) -> None:
    # Roles are cluster-wide: migrating a second database finds them and grants again.
    with psycopg.connect(empty_database) as conn:
        migrations.migrate(conn)
        granted = conn.execute(
            "SELECT has_table_privilege('newsingest_analyst', 'news.articles', 'SELECT'), "
            "has_table_privilege('newsingest_analyst', 'news.articles', 'INSERT'), "
            "has_table_privilege('newsingest_pipeline', 'news.articles', 'INSERT')"
        ).fetchone()
    assert granted == (True, False, True)
    with psycopg.connect(pg_admin_dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'newsingest\\_%' "
            "ORDER BY rolname"
        ).fetchall()
    assert rows == [("newsingest_analyst", False), ("newsingest_pipeline", False)]
