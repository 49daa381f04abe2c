"""The `newsingest` command line: migrations, in-process runs, the local database and the demo."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from newsingest import __version__

LOGGER = logging.getLogger(__name__)

STATE_DIR = Path(".newsingest")
DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "dags" / "feeds.yaml"
# libpq's and psycopg's words for a session that ended under a command.
LOST_CONNECTION = ("server closed the connection", "the connection is closed", "connection is lost",
                   "terminating connection")  # fmt: skip


def _dsn(explicit: str | None) -> str:
    """The warehouse DSN from --dsn or NEWSINGEST_DSN, checked for syntax before any connection.

    Raises:
        ValueError: neither is set, or the DSN is not a libpq URI or key=value string.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from newsingest.settings import load_settings

    dsn = explicit or load_settings().dsn
    if not dsn:
        raise ValueError(
            "no warehouse DSN: set NEWSINGEST_DSN (or pass --dsn); "
            "`newsingest db start` starts a local PostgreSQL and prints its DSN"
        )
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ValueError(
            f"invalid warehouse DSN ({_first_line(exc)}): give a URI such as "
            "postgresql://user@host:5432/dbname or key=value pairs such as "
            "'host=... dbname=...' in --dsn or NEWSINGEST_DSN"
        ) from None
    return dsn


def _day(text: str) -> date:
    """An argparse type: a calendar date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text) if len(text) == len("YYYY-MM-DD") else _bad_day(text)
    except ValueError:
        return _bad_day(text)


def _bad_day(text: str) -> date:
    raise argparse.ArgumentTypeError(
        f"expected a date as YYYY-MM-DD (e.g. 2022-01-22), not {text!r}"
    )


def _first_line(exc: BaseException) -> str:
    """An exception's message on one line (libpq's span several, with tabs)."""
    return (
        "; ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        or type(exc).__name__
    )


def _warehouse_failure(exc: Exception, argv: Sequence[str]) -> str:
    """One line for a warehouse failure: the cause, and what to do before rerunning."""
    import psycopg

    rerun = f"then rerun `{_rerun(argv)}`"
    cause = _first_line(exc)
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return (
            f"the warehouse has no newsingest schema ({cause}): run `newsingest migrate`, {rerun}"
        )
    if isinstance(exc, psycopg.errors.AdminShutdown):
        return f"the warehouse server ended the connection ({cause}): once it is back up, {rerun}"
    if isinstance(exc, psycopg.OperationalError) and _connection_lost(exc):
        # It was reachable: a restart, a crash or the network ended the session mid-command.
        return f"the warehouse server closed the connection ({cause}): once it is back up, {rerun}"
    if isinstance(exc, psycopg.OperationalError) or isinstance(
        exc.__cause__, psycopg.OperationalError
    ):
        return (
            f"the warehouse is unreachable ({cause}): check that it runs and that --dsn or "
            f"NEWSINGEST_DSN points at it (`newsingest db start` starts a local one), {rerun}"
        )
    return f"{cause}: fix that, {rerun}"


def _connection_lost(exc: Exception) -> bool:
    """Whether a psycopg error says an open connection ended (WarehouseError: none opened)."""
    text = str(exc).lower()
    return any(words in text for words in LOST_CONNECTION)


def _rerun(argv: Sequence[str]) -> str:
    """The command line as typed, with a --dsn that holds a password replaced by <DSN>."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    def secret(dsn: str) -> bool:
        try:
            return "password" in conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            return False

    words = ["newsingest", *argv]
    for index, word in enumerate(words):
        if word.startswith("--dsn=") and secret(word.removeprefix("--dsn=")):
            words[index] = "--dsn=<DSN>"
        elif word == "--dsn" and index + 1 < len(words) and secret(words[index + 1]):
            words[index + 1] = "<DSN>"
    return shlex.join(words)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending warehouse migrations."""
    from newsingest import migrations, warehouse

    with warehouse.connect(_dsn(args.dsn)) as conn:
        applied = migrations.migrate(conn)
    print(f"applied: {', '.join(applied)}" if applied else "warehouse schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run every stage in-process for one date, without Airflow."""
    from newsingest import pipeline
    from newsingest.settings import load_settings

    settings = load_settings()
    registry = Path(args.registry or settings.registry or DEFAULT_REGISTRY)
    run = pipeline.RunInfo.make(args.date, f"cli__{args.date.isoformat()}")
    feeds = [f for f in (args.feeds or "").split(",") if f] or None
    print(pipeline.run_all(_dsn(args.dsn), settings, run, registry, feeds))
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    """Cluster the documents of a JSONL file with the DAG's algorithm and parameters."""
    from newsingest.dedup import jsonl
    from newsingest.settings import load_settings

    settings = load_settings()
    with Path(args.input).open(encoding="utf-8") as source:
        try:
            docs = jsonl.read_docs(source)
        except UnicodeDecodeError as exc:
            raise jsonl.InputError(
                f"{args.input} is not UTF-8 text (byte {exc.start} of a read block)"
            ) from exc
    rows = jsonl.cluster(docs, settings)
    with Path(args.output).open("w", encoding="utf-8") as target:
        jsonl.write_rows(rows, target)
    clusters = len({r["cluster_id"] for r in rows})
    print(f"{len(rows)} documents, {clusters} story clusters -> {args.output}", file=sys.stderr)
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Extract HTML files, directories or a JSON-lines file as the DAG does, one JSON line each.

    Args:
        args: paths (files or directories) or jsonl, and url, output, outlet, language.

    Returns:
        0; a missing input or a bad combination of options raises ValueError (exit 2).
    """
    import contextlib
    import gzip
    import json
    from collections.abc import Iterator
    from datetime import UTC, datetime

    from newsingest.extraction import extract_page
    from newsingest.records import FeedEntry, FetchedPage, to_json
    from newsingest.settings import load_settings
    from newsingest.urls import canonical_url

    if bool(args.paths) == bool(args.jsonl):
        raise ValueError("extract: give HTML files or directories, or --jsonl FILE")

    def inputs() -> Iterator[tuple[str, str, bytes, str | None]]:
        """(id, url, page bytes, charset) of every page, in input order."""
        if args.jsonl:
            with Path(args.jsonl).open("rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.strip():
                        yield _extract_input(args.jsonl, number, line)
            return
        files: list[Path] = []
        for name in args.paths:
            path = Path(name)
            if path.is_dir():
                suffixes = (".html", ".htm", ".html.gz", ".htm.gz")
                files.extend(sorted(f for f in path.rglob("*") if f.name.endswith(suffixes)))
            elif path.is_file():
                files.append(path)
            else:
                raise ValueError(f"extract: {name}: no such file or directory")
        if args.url and len(files) != 1:
            raise ValueError("extract: --url needs exactly one HTML file")
        for path in files:
            raw = path.read_bytes()
            page = gzip.decompress(raw) if path.suffix == ".gz" else raw
            yield str(path), args.url or path.resolve().as_uri(), page, None

    settings = load_settings()
    fetched_at = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(Path(args.output).open("w", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        for page_id, url, body, charset in inputs():
            try:
                key = canonical_url(url) if url else url
            except ValueError:  # an unparsable URL is kept as given: the page is still read
                key = url
            page = FetchedPage(
                feed_name="cli",
                url=key,
                requested_url=url,
                final_url=url,
                status=200,
                content_type="text/html",
                charset=charset,
                fetched_at=fetched_at,
                body=body,
                entry=FeedEntry(feed_name="cli", url=url),
            )
            article = extract_page(page, settings, outlet=args.outlet, language=args.language)
            out.write(json.dumps({"id": page_id, **to_json(article)}, ensure_ascii=False) + "\n")
    return 0


def _extract_input(source: str, number: int, line: bytes) -> tuple[str, str, bytes, str | None]:
    """(id, url, page bytes, charset) of one `extract --jsonl` line; ValueError names the line."""
    import json

    from newsingest.records import storable

    where = f"extract: {source} line {number}"
    try:
        item = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("html"), str):
        raise ValueError(f"{where}: needs an 'id' and a string 'html'")
    # A lone surrogate in the page's text cannot be encoded: it is read as U+FFFD.
    html = storable(item["html"]).encode("utf-8")
    return storable(str(item["id"])), storable(str(item.get("url") or "")), html, "utf-8"


def cmd_report(args: argparse.Namespace) -> int:
    """Print one day of the warehouse: feeds, top stories, copying outlets."""
    from newsingest import report

    print(report.daily_report(_dsn(args.dsn), args.date, top=args.top))
    return 0


def cmd_data_dictionary(args: argparse.Namespace) -> int:
    """Print the data dictionary, or regenerate it inside a Markdown file."""
    from newsingest import datadict

    dsn = _dsn(args.dsn)
    if args.write:
        changed = datadict.write(dsn, Path(args.write))
        print(f"{args.write}: {'updated' if changed else 'already up to date'}")
    else:
        print(datadict.render(dsn), end="")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Start, stop or show the local PostgreSQL used when no DSN is configured."""
    from newsingest import localdb

    state = Path(args.state_dir)
    if args.action == "start":
        server = localdb.start(state)
        print(server.dsn)
    elif args.action == "stop":
        print("stopped" if localdb.stop(state) else "not running")
    else:
        found = localdb.status(state)
        print(found.dsn if found else "not running")
        return 0 if found else 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the bundled demo end to end through Airflow and print the summary."""
    from newsingest.demo import runner

    return runner.run_demo(
        state_dir=Path(args.state_dir),
        airflow_home=Path(args.airflow_home),
        port=args.port or runner.DEMO_PORT,
    )


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the Airflow UI on the demo until Ctrl-C, then stop everything it started."""
    from newsingest.demo import runner, ui

    return ui.run_ui(
        state_dir=Path(args.state_dir),
        airflow_home=Path(args.airflow_home),
        port=args.port,
        demo_port=args.demo_port or runner.DEMO_PORT,
        trigger=not args.no_trigger,
    )


def cmd_serve_demo(args: argparse.Namespace) -> int:
    """Serve the bundled demo site until interrupted."""
    from newsingest.demo import server

    server.run_forever(args.host, args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="newsingest",
        description="Scheduled news ingestion into a PostgreSQL warehouse (Airflow 3).",
    )
    parser.add_argument("--version", action="version", version=f"newsingest {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="apply pending warehouse migrations (sql/)")
    p.add_argument("--dsn", help="warehouse DSN (default: NEWSINGEST_DSN)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("run", help="run all stages for one date in-process, without Airflow")
    p.add_argument("--date", type=_day, required=True, help="YYYY-MM-DD")
    p.add_argument("--registry", help="feed registry YAML (default: dags/feeds.yaml)")
    p.add_argument("--feeds", help="comma-separated subset of feed names")
    p.add_argument("--dsn", help="warehouse DSN (default: NEWSINGEST_DSN)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "dedup",
        help="cluster a JSONL file of {id, text, published_at?, site?} with the DAG's algorithm",
    )
    p.add_argument(
        "--input", required=True, help="JSONL: id, text, title?, url?, published_at?, site?"
    )
    p.add_argument("--output", required=True, help="JSONL: id, cluster_id, canonical_id, ...")
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser("extract", help="extract HTML pages as the DAG does: one JSON line each")
    p.add_argument("paths", nargs="*", metavar="PATH", help="HTML files (.gz too) or directories")
    p.add_argument("--url", help="the page's URL (with a single file)")
    p.add_argument("--jsonl", metavar="FILE", help="JSON lines {id, url, html} instead of PATHs")
    p.add_argument("--output", metavar="FILE", help="write the JSON lines here, not to stdout")
    p.add_argument("--outlet", default="", help="outlet name, as the feed registry gives it")
    p.add_argument("--language", default="", help="language used when a page declares none")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("report", help="one day of the warehouse: feeds, top stories, copiers")
    p.add_argument("--date", type=_day, required=True, help="YYYY-MM-DD")
    p.add_argument("--top", type=int, default=10, help="story clusters to list (default 10)")
    p.add_argument("--dsn", help="warehouse DSN (default: NEWSINGEST_DSN)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "data-dictionary", help="Markdown data dictionary from the schema's COMMENTs"
    )
    p.add_argument("--write", metavar="FILE", help="replace the marked section of FILE")
    p.add_argument("--dsn", help="a migrated warehouse (default: NEWSINGEST_DSN)")
    p.set_defaults(func=cmd_data_dictionary)

    _add_local_commands(sub)
    return parser


def _add_local_commands(sub: Any) -> None:
    """The subcommands that run things on this machine: db, demo, ui, serve-demo."""
    p = sub.add_parser(
        "db",
        help="a local PostgreSQL for demos and tests",
        description="start: start (creating it on first use) and print its DSN; stop: stop it, "
        "keeping its data; status: print its DSN if it runs (exit 0), else `not running` "
        "(exit 1).",
    )
    p.add_argument(
        "action",
        choices=["start", "stop", "status"],
        help="start (prints the DSN), stop (keeps the data) or status (exit 1 when stopped)",
    )
    p.add_argument("--state-dir", default=str(STATE_DIR / "pg"), help="where its state lives")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("demo", help="run the offline demo through Airflow and print a summary")
    p.add_argument("--state-dir", default=str(STATE_DIR), help="local state (database, registry)")
    p.add_argument("--airflow-home", default=".airflow", help="project-local AIRFLOW_HOME")
    p.add_argument(
        "--port", type=int, help="demo site port (default 8765; article URLs contain it)"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "ui",
        help="the Airflow UI (airflow standalone) on the demo; Ctrl-C stops everything",
        description="Starts the local PostgreSQL (unless NEWSINGEST_DSN is set), the demo site "
        "and airflow standalone (LocalExecutor, 4 task processes), unpauses news_ingest and "
        "triggers one run for the demo day, 2022-01-22. Ctrl-C (or SIGTERM) stops all of it.",
    )
    p.add_argument("--state-dir", default=str(STATE_DIR), help="local state (database, registry)")
    p.add_argument("--airflow-home", default=".airflow", help="project-local AIRFLOW_HOME")
    p.add_argument("--port", type=int, default=8080, help="UI port on 127.0.0.1 (default 8080)")
    p.add_argument(
        "--demo-port", type=int, help="demo site port (default 8765, as `newsingest demo`)"
    )
    p.add_argument(
        "--no-trigger", action="store_true", help="only start the UI; trigger runs yourself"
    )
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("serve-demo", help="serve the bundled demo site until interrupted")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on (default 8765, which the demo registry expects)",
    )
    p.set_defaults(func=cmd_serve_demo)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsingest` console script.

    Returns:
        0 on success; 2 with one line on stderr (no traceback) for bad input or an unusable
        warehouse; argparse's 2 for bad options.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import psycopg

    from newsingest.migrations import MigrationError
    from newsingest.warehouse import WarehouseError

    try:
        return int(args.func(args))
    except (WarehouseError, psycopg.Error) as exc:
        print(f"newsingest: {_warehouse_failure(exc, argv)}", file=sys.stderr)
        return 2
    except (MigrationError, ValueError, RuntimeError) as exc:
        print(f"newsingest: {_first_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file named on the command line cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"newsingest: {exc.strerror or _first_line(exc)}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsingest: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
