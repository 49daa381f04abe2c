"""Tests of `newsingest dedup` (newsingest.dedup.jsonl and the CLI command)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from newsingest import cli
from newsingest.dedup.jsonl import InputError, read_docs

rng = random.Random(3)
VOCAB = [f"t{i}" for i in range(5000)]


def text(words: int = 300) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


def test_cli_clusters_and_keeps_input_order(tmp_path: Path) -> None:
    wire, other = text(), text()
    lines = [
        {"id": "copy", "text": wire[: len(wire) // 2], "published_at": "2022-01-21T10:00:00Z"},
        {"id": "wire", "text": wire, "published_at": "2022-01-20T10:00:00+00:00", "site": "w"},
        {"id": "other", "text": other, "url": "https://b.example/x", "title": "ignored"},
        {"id": "same", "text": wire.upper(), "published_at": "2022-01-22"},
    ]
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    target = tmp_path / "clusters.jsonl"
    assert cli.main(["dedup", "--input", str(source), "--output", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["copy", "wire", "other", "same"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["wire"]["relation"] == "original"
    assert by_id["copy"]["relation"] == "near"
    assert by_id["same"]["relation"] == "exact"
    assert by_id["copy"]["cluster_id"] == by_id["wire"]["cluster_id"] == by_id["same"]["cluster_id"]
    assert by_id["copy"]["canonical_id"] == "wire"
    assert by_id["other"]["cluster_id"] != by_id["wire"]["cluster_id"]
    assert set(rows[0]) >= {"id", "cluster_id", "canonical_id", "similarity", "relation"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"text": "no id"}', "needs an 'id'"),
        ('{"id": 1, "text": "a", "published_at": "yesterday"}', "ISO 8601"),
        ('{"id": 1, "text": "a", "published_at": "9999-12-31T23:59:59-05:00"}', "out of range"),
        ('{"id": 1, "text": "a", "published_at": "0001-01-01T00:00:00+14:00"}', "out of range"),
        ('{"id": "\\ud800", "text": "a"}', "lone surrogate"),
    ],
)
def test_bad_input_names_the_line(line: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_docs([line])


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(InputError, match="duplicate id"):
        read_docs(['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'])


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text("{oops\n")
    assert cli.main(["dedup", "--input", str(source), "--output", str(tmp_path / "o")]) == 2
    assert "line 1" in capsys.readouterr().err


def test_nul_and_lone_surrogates_in_text_are_cleaned_not_fatal(tmp_path: Path) -> None:
    text = "Rain fell on the city all night and the river rose. "
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": "a", "text": text * 3})
        + "\n"
        + '{"id": "b", "text": "'
        + (text * 3).replace("river", "ri\\u0000ver\\ud800")
        + '"}\n'
    )
    target = tmp_path / "out.jsonl"
    assert cli.main(["dedup", "--input", str(source), "--output", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
