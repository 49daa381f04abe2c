"""Tests of `newsingest extract`: files, directories or JSON lines in, a JSON line per page out."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from newsingest.cli import main
from newsingest.demo.server import SITE_ROOT
from newsingest.extraction import EXTRACTOR_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
SEED = (
    SITE_ROOT
    / "the-newsfarm/2022/01/22/blinken-asks-russia-prove-intentions-withdrawing-troops.html"
)
# What `newsingest extract` must say of every page (issue 4), beyond the Article's own fields.
REQUIRED = {"id", "title", "body", "published_at", "language", "wire_agencies", "skipped_reason"}


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_files_and_directories_in_argument_order(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for name in ["rheinbote_2024_04_11.html.gz", "harbourwatch_2024_02_09.html.gz"]:
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "notes.txt").write_text("not a page", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    first = FIXTURES / "lejournaldesalpes_2024_05_02.html.gz"
    assert main(["extract", str(first), str(folder), str(SEED), "--output", str(out)]) == 0
    rows = read_lines(out)
    assert [row["id"] for row in rows] == [
        str(first),
        str(folder / "harbourwatch_2024_02_09.html.gz"),  # a directory's pages in name order
        str(folder / "rheinbote_2024_04_11.html.gz"),
        str(SEED),
    ]
    assert all(set(row) >= REQUIRED for row in rows)
    alpes, harbour, rhein, seed = rows
    assert (alpes["language"], alpes["wire_agencies"]) == ("fr", ["AFP"])
    assert alpes["body"].startswith("CHAMONIX (AFP) - Le refuge du Col Blanc")
    assert harbour["skipped_reason"] == "paywall: teaser"
    assert (rhein["wire_agencies"], rhein["skipped_reason"]) == (["dpa"], None)
    assert seed["published_at"] == "2022-01-22T07:12:00+00:00"
    assert seed["wire_evidence"] == ["credit: with reports from © – Agence France-Presse, 2022."]
    assert seed["extractor_version"] == EXTRACTOR_VERSION
    assert seed["url"] == SEED.resolve().as_uri()


def test_url_of_a_single_file_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://farm.example/2022/01/22/blinken.html?utm_source=feed"
    assert main(["extract", str(SEED), "--url", url]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["url"] == url
    assert row["canonical_url"] == "https://farm.example/2022/01/22/blinken.html"
    assert row["title"].startswith("Blinken asks Russia to prove its intentions")


def test_json_lines_in_input_order(tmp_path: Path) -> None:
    source = tmp_path / "pages.jsonl"
    pages = [
        ("b-second", "https://rheinbote.example/a.html", "rheinbote_2024_04_11"),
        ("a-first", "https://diariodelcabo.example/b.html", "diariodelcabo_2024_06_20"),
        ("c-third", "https://harbourwatch.example/c.html", "harbourwatch_2024_02_09"),
    ]
    with source.open("w", encoding="utf-8") as handle:
        for page_id, url, name in pages:
            html = gzip.decompress((FIXTURES / f"{name}.html.gz").read_bytes()).decode("utf-8")
            handle.write(json.dumps({"id": page_id, "url": url, "html": html}) + "\n\n")
    out = tmp_path / "out.jsonl"
    assert main(["extract", "--jsonl", str(source), "--output", str(out)]) == 0
    rows = read_lines(out)
    assert [(row["id"], row["url"]) for row in rows] == [(i, u) for i, u, _ in pages]
    assert [row["wire_agencies"] for row in rows] == [["dpa"], ["EFE"], []]
    assert [row["skipped_reason"] for row in rows] == [None, None, "paywall: teaser"]
    assert [row["language_detected"] for row in rows[:2]] == ["de", "es"]
    for row in rows:
        assert row["extraction_method"] in {"trafilatura_recall", "trafilatura_precision"}
        assert 0.0 <= row["extraction_confidence"] <= 1.0
        assert isinstance(row["extraction_low_confidence"], bool)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extract"], "give HTML files or directories, or --jsonl FILE"),
        (["extract", str(SEED), "--jsonl", "pages.jsonl"], "or --jsonl FILE"),
        (["extract", str(SEED), str(SEED), "--url", "https://a.example/"], "exactly one"),
        (["extract", "no/such/page.html"], "no such file or directory"),
    ],
)
def test_bad_invocations_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json\n", "line 2: not JSON"),
        (b'{"id": "x"}\n', "line 2: needs an 'id' and a string 'html'"),
        (b'{"id": "x", "html": 5}\n', "line 2: needs an 'id' and a string 'html'"),
        (b'{"id": "x", "html": "\xff\xfe"}\n', "line 2: not UTF-8 text"),
    ],
)
def test_a_bad_json_line_is_named_in_one_line(
    line: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pages.jsonl"
    good = json.dumps({"id": "seed", "html": SEED.read_text(encoding="utf-8")}) + "\n"
    source.write_bytes(good.encode() + line)
    assert main(["extract", "--jsonl", str(source), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_hostile_text_and_urls_in_json_lines_still_give_a_record(tmp_path: Path) -> None:
    html = SEED.read_text(encoding="utf-8")
    source = tmp_path / "pages.jsonl"
    lines = [
        {"id": "surrogate", "html": html.replace("</p>", "\ud800</p>", 1)},
        {"id": "bad-port", "url": "http://news.example:99999/a", "html": html},
        {"id": "not-a-url", "url": "::::", "html": html},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["extract", "--jsonl", str(source), "--output", str(out)]) == 0
    rows = read_lines(out)
    assert [row["id"] for row in rows] == ["surrogate", "bad-port", "not-a-url"]
    assert all(row["skipped_reason"] is None and row["body"] for row in rows)
