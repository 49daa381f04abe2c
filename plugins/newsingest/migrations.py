"""Numbered, forward-only SQL migrations from sql/, applied under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg.rows import tuple_row

if TYPE_CHECKING:
    import psycopg

LOGGER = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every migrating process.
LOCK_KEY = 0x6E657773  # "news"

# The ledger must exist before the first migration can be recorded in it.
BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS news;
CREATE TABLE IF NOT EXISTS news.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE news.schema_migrations IS
    'Ledger of applied sql/ migrations (newsingest migrate).';
COMMENT ON COLUMN news.schema_migrations.version IS 'Migration number (file prefix).';
COMMENT ON COLUMN news.schema_migrations.name IS 'Migration file name.';
COMMENT ON COLUMN news.schema_migrations.checksum IS
    'SHA-256 of the file when applied; an edit is refused.';
COMMENT ON COLUMN news.schema_migrations.applied_at IS 'When the migration was applied.';
"""


class MigrationError(RuntimeError):
    """The migrations cannot be applied as they stand."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """List the migrations in sql_dir in version order.

    Args:
        sql_dir: folder of NNNN_name.sql files.

    Returns:
        The migrations, sorted by version.
    """
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_case.sql")
        data = path.read_bytes()
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share version {version}: {path.name}")
        found[version] = Migration(
            version, path.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest()
        )
    return [found[v] for v in sorted(found)]


def migrate(conn: psycopg.Connection[Any], sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction.

    Holds a session advisory lock so that concurrent callers wait and then
    find nothing left to do. Refuses to go on when an applied file changed.

    Args:
        conn: an open connection (autocommit is switched on for the duration).
        sql_dir: folder of migration files.

    Returns:
        Names of the migrations applied by this call.
    """
    migrations = discover(sql_dir)
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(BOOTSTRAP)
        # Tuple rows whatever row factory the caller's connection uses.
        with conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute("SELECT version, name, checksum FROM news.schema_migrations")
            applied = {int(v): (str(n), str(c)) for v, n, c in rows.fetchall()}
        on_disk = {m.version for m in migrations}
        for version, (name, _) in sorted(applied.items()):
            if version not in on_disk:
                LOGGER.warning("applied migration %s is no longer in %s", name, sql_dir)
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                name, checksum = applied[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was edited after it was applied as {name} "
                        f"(checksum {checksum[:12]} in the database, {migration.checksum[:12]} "
                        "on disk). Applied migrations are never edited: revert the file and "
                        "put the change in a new numbered migration."
                    )
                continue
            LOGGER.info("applying migration %s", migration.name)
            with conn.transaction():
                conn.execute(migration.sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO news.schema_migrations (version, name, checksum) "
                    "VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        conn.autocommit = previous_autocommit
