"""Shared fixtures: a real PostgreSQL (the one configured, or a throwaway cluster) and settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hypothesis
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from newsingest import localdb, migrations, warehouse
from newsingest.settings import Settings, load_settings

TEST_SETTINGS = {
    "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1",
    "NEWSINGEST_HOST_DELAY": "0",
    "NEWSINGEST_BACKOFF_BASE": "0.01",
    "NEWSINGEST_BACKOFF_MAX": "0.05",
    "NEWSINGEST_CONNECT_TIMEOUT": "2",
    "NEWSINGEST_READ_TIMEOUT": "2",
    "NEWSINGEST_TOTAL_TIMEOUT": "4",
}

# Property tests (tests/unit/test_properties_*.py) run the same examples on every machine, so
# that CI is stable and a failure reproduces; no example database is written. Set
# HYPOTHESIS_PROFILE=explore to search with fresh random examples (and remember failures).
hypothesis.settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True
)
hypothesis.settings.register_profile("explore", deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: NEWSINGEST_TEST_DSN if set, else a throwaway local cluster."""
    configured = os.environ.get("NEWSINGEST_TEST_DSN")
    if configured:
        yield configured
        return
    state = tmp_path_factory.mktemp("localdb")
    server = localdb.start(state)
    try:
        yield make_conninfo(server.dsn, dbname="postgres")
    finally:
        # Stop and delete: the data may live under /tmp (root runs the server as another user).
        localdb.destroy(state)


@contextmanager
def fresh_database(pg_admin_dsn: str, *, migrate: bool) -> Iterator[str]:
    """A new database on the test server (migrated when asked), dropped afterwards."""
    name = f"nstest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(pg_admin_dsn, dbname=name)
    try:
        if migrate:
            with warehouse.connect(dsn) as conn:
                migrations.migrate(conn)
        yield dsn
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    with fresh_database(pg_admin_dsn, migrate=True) as dsn:
        yield dsn


@pytest.fixture
def second_warehouse_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """Another fresh, migrated database, for a run to compare with one into warehouse_dsn."""
    with fresh_database(pg_admin_dsn, migrate=True) as dsn:
        yield dsn


@pytest.fixture
def empty_database(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh database with no schema, dropped afterwards."""
    with fresh_database(pg_admin_dsn, migrate=False) as dsn:
        yield dsn


@pytest.fixture
def settings() -> Settings:
    """Settings for tests: 127.0.0.1 allowed, no politeness delay, short timeouts and backoff."""
    return load_settings(TEST_SETTINGS)


@pytest.fixture(scope="session")
def demo_site() -> Iterator[object]:
    """The bundled demo site served on a free port for the whole session."""
    from newsingest.demo.server import serve

    with serve() as server:
        yield server


@pytest.fixture
def demo_registry(demo_site: object, tmp_path: Path) -> Path:
    """The demo feed registry pointing at the running demo site."""
    from newsingest.demo.runner import write_registry

    return write_registry(demo_site.base_url, tmp_path / "feeds.yaml")  # type: ignore[attr-defined]
