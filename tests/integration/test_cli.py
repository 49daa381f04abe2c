"""The `newsingest` command run for real: bad input and an unusable warehouse give one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from newsingest.registry import RegistryError, load_registry

from ..operator.instance import free_port


def newsingest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh interpreter, as a user would."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    return subprocess.run(
        [sys.executable, "-m", "newsingest.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**clean, **(env or {})},
        timeout=120,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (logging may add timestamped lines above)."""
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("newsingest")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_malformed_dsn_is_one_line_not_a_traceback() -> None:
    line = one_line(newsingest("report", "--date", "2022-01-22", "--dsn", "postgres:/oops"))
    assert "invalid warehouse DSN" in line
    assert "postgresql://" in line


def test_malformed_dsn_from_the_environment_too() -> None:
    line = one_line(newsingest("migrate", env={"NEWSINGEST_DSN": "postgres:/oops"}))
    assert "invalid warehouse DSN" in line


@pytest.mark.parametrize("day", ["22-01-2022", "2022-1-22", "20220122", "yesterday"])
def test_date_in_another_format_names_the_expected_one(day: str) -> None:
    done = newsingest("report", "--date", day, "--dsn", "dbname=x")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "YYYY-MM-DD" in done.stderr
    assert repr(day) in done.stderr


def test_refused_connection_names_the_cause_and_the_rerun() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/news"
    line = one_line(newsingest("report", "--date", "2022-01-22", "--dsn", dsn))
    assert "unreachable" in line
    assert "refused" in line.lower()
    assert f"rerun `newsingest report --date 2022-01-22 --dsn {dsn}`" in line


def test_password_is_not_repeated_in_the_rerun() -> None:
    dsn = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/news"
    line = one_line(newsingest("migrate", "--dsn", dsn))
    assert "hunter2" not in line
    assert "rerun `newsingest migrate --dsn '<DSN>'`" in line


def test_unmigrated_warehouse_says_to_migrate(empty_database: str) -> None:
    line = one_line(newsingest("report", "--date", "2022-01-22", "--dsn", empty_database))
    assert "run `newsingest migrate`" in line


def test_server_ending_the_session_mid_command(warehouse_dsn: str) -> None:
    """AdminShutdown: the report waits on a lock, and its backend is terminated meanwhile."""
    with psycopg.connect(warehouse_dsn) as locker:
        locker.execute("LOCK TABLE news.ingest_runs IN ACCESS EXCLUSIVE MODE")
        command = [sys.executable, "-m", "newsingest.cli", "report", "--date", "2022-01-22"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
        with subprocess.Popen(
            [*command, "--dsn", warehouse_dsn],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            with psycopg.connect(warehouse_dsn, autocommit=True) as admin:
                deadline = time.monotonic() + 60
                while True:
                    waiting = admin.execute(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = 'newsingest' "
                        "AND wait_event_type = 'Lock'"
                    ).fetchall()
                    if waiting:
                        break
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "the report never waited on the lock"
                    time.sleep(0.1)
                admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
            stdout, stderr = process.communicate(timeout=60)
    line = one_line(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    assert "ended the connection" in line
    assert "terminating connection due to administrator command" in line
    assert "rerun `newsingest report --date 2022-01-22" in line


class DroppingProxy:
    """A TCP relay on 127.0.0.1 to a PostgreSQL server; drop() cuts every relayed connection,
    as a network fault or a dying server would, without the server saying why."""

    def __init__(self, dsn: str) -> None:
        params = conninfo_to_dict(dsn)
        host = str(params.get("host") or "localhost")
        port = int(params.get("port") or 5432)
        self.upstream: tuple[str, int] | str = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.dsn = make_conninfo(dsn, host="127.0.0.1", port=self.listener.getsockname()[1])
        self.relayed: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                family = socket.AF_UNIX if isinstance(self.upstream, str) else socket.AF_INET
                server = socket.socket(family, socket.SOCK_STREAM)
                server.connect(self.upstream)
                self.relayed += [client, server]
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def drop(self) -> None:
        for sock in self.relayed:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.drop()


@contextmanager
def dropping_proxy(dsn: str) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(dsn)
    try:
        yield proxy
    finally:
        proxy.close()


def test_connection_lost_mid_command_says_the_server_closed_it(warehouse_dsn: str) -> None:
    """The connection ends with no word from the server (a crash, a restart, the network)."""
    with psycopg.connect(warehouse_dsn) as locker, dropping_proxy(warehouse_dsn) as proxy:
        locker.execute("LOCK TABLE news.ingest_runs IN ACCESS EXCLUSIVE MODE")
        command = [sys.executable, "-m", "newsingest.cli", "report", "--date", "2022-01-22"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
        with subprocess.Popen(
            [*command, "--dsn", proxy.dsn], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ) as process:  # fmt: skip
            with psycopg.connect(warehouse_dsn, autocommit=True) as admin:
                deadline = time.monotonic() + 60
                while not admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'newsingest' "
                    "AND wait_event_type = 'Lock'"
                ).fetchall():
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "the report never waited on the lock"
                    time.sleep(0.1)
            proxy.drop()
            stdout, stderr = process.communicate(timeout=60)
    line = one_line(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    assert "the warehouse server closed the connection" in line
    assert "server closed the connection unexpectedly" in line
    assert "check that it runs" not in line  # it was reachable: the DSN is not the problem
    assert "rerun `newsingest report --date 2022-01-22" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["db", "--help"], ["start", "stop", "status", "prints the DSN"]),
        (["serve-demo", "--help"], ["address to listen on", "port to listen on"]),
    ],
)
def test_subcommands_explain_their_arguments(args: list[str], words: list[str]) -> None:
    done = newsingest(*args)
    assert done.returncode == 0, done.stderr
    for word in words:
        assert word in done.stdout


def test_registry_errors_name_the_feed_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - name: first\n    url: https://a.example/rss\n"
        "  - name: second\n    url: ftp://b.example/rss\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value).startswith(f"{path}:4: feed 'second': url must be http(s)")
    done = newsingest("run", "--date", "2022-01-22", "--registry", str(path), "--dsn", "dbname=x")
    assert f"{path}:4: feed 'second'" in one_line(done)
