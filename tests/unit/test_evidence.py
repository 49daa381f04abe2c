"""Tests of newsingest.evidence: agreement, the vote and the calibration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest import evidence

TEXT_A = [
    "The harbour strike ended on Friday after unions and port operators agreed on pay.",
    "Dock workers will return on Monday morning, the union said in a statement.",
]
TEXT_B = ["A football match in the capital ended in a draw after extra time on Sunday."]


def test_agreement_is_dice_of_shingles() -> None:
    a = evidence.candidate("a", TEXT_A)
    assert evidence.agreement(a, evidence.candidate("b", TEXT_A)) == 1.0
    assert evidence.agreement(a, evidence.candidate("b", TEXT_B)) == 0.0
    half = evidence.agreement(a, evidence.candidate("b", TEXT_A[:1]))
    assert 0.5 < half < 0.8
    assert evidence.agreement(a, evidence.candidate("empty", [])) == 0.0


def test_agreement_ignores_case_and_spacing() -> None:
    shouted = [line.upper().replace(" ", "  ") for line in TEXT_A]
    plain, loud = evidence.candidate("a", TEXT_A), evidence.candidate("b", shouted)
    assert evidence.agreement(plain, loud) == 1.0


def test_vote_picks_the_candidate_the_others_back() -> None:
    long = evidence.candidate("long", [*TEXT_A, *TEXT_B])
    short = evidence.candidate("short", TEXT_A)
    opinion = evidence.candidate("opinion", TEXT_A)
    choice = evidence.vote([long, short], [long, short, opinion])
    assert choice.candidate is short
    assert choice.stage == evidence.VOTE
    # Reported against the independent opinion only, not the other candidate.
    assert choice.agreement == 1.0


def test_vote_ties_go_to_the_first_candidate() -> None:
    a, b = evidence.candidate("a", TEXT_A), evidence.candidate("b", TEXT_A)
    assert evidence.vote([a, b], [a, b]).candidate is a


def test_first_opinion_uses_the_threshold_of_its_kind() -> None:
    calibration = evidence.Calibration(
        structured_min=0.95, port_min=0.5, target_f1=0.8, short_chars=800,
        edges=dict.fromkeys(evidence.TABLES, (0.0,)),
        confidence=dict.fromkeys(evidence.TABLES, (1.0,)), digest="",
    )  # fmt: skip
    reference = evidence.candidate("trafilatura_recall", TEXT_A)
    partial = TEXT_A[:1]
    assert evidence.first_opinion(reference, evidence.candidate("structured", partial),
                                  calibration)[1] is True  # fmt: skip
    assert evidence.first_opinion(reference, evidence.candidate("readability_port", partial),
                                  calibration)[1] is False  # fmt: skip


HEAD = "target_f1 = 0.8\nshort_chars = 800\n[gate]\nstructured_min = 0.9\nport_min = 0.8\n"


def test_calibration_maps_agreement_bins_to_confidence(tmp_path: Path) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(
        HEAD + "[single]\nedges = [0.0, 0.9]\nconfidence = [0.6, 0.95]\n"
        "[single_short]\nedges = [0.0]\nconfidence = [0.55]\n"
        "[vote]\nedges = [0.0, 0.3, 0.8]\nconfidence = [0.1, 0.5, 0.9]\n"
        "[vote_short]\nedges = [0.0]\nconfidence = [0.05]\n",
        encoding="utf-8",
    )
    calibration = evidence.load_calibration(path)
    assert calibration.of("single", 0.2, 5000) == 0.6
    assert calibration.of("single", 0.9, 5000) == 0.95
    assert calibration.of("single", 0.9, 799) == 0.55
    assert calibration.of("vote", 0.29, 800) == 0.1
    assert calibration.of("vote", 0.5, 800) == 0.5
    assert calibration.of("vote", 1.0, 800) == 0.9
    assert calibration.of("vote", 1.0, 10) == 0.05


@pytest.mark.parametrize(
    "table",
    [
        "[single]\nedges = [0.0, 0.5]\nconfidence = [0.5]\n",
        "[single]\nedges = [0.5, 0.0]\nconfidence = [0.5, 0.6]\n",
        "[single]\nedges = [0.0]\nconfidence = [1.5]\n",
        "",
    ],
    ids=["unpaired", "unsorted", "out-of-range", "missing"],
)
def test_malformed_calibration_is_refused(tmp_path: Path, table: str) -> None:
    path = tmp_path / "calibration.toml"
    rest = "".join(f"[{name}]\nedges = [0.0]\nconfidence = [0.5]\n" for name in evidence.TABLES[1:])
    path.write_text(HEAD + table + rest, encoding="utf-8")
    with pytest.raises(evidence.CalibrationError):
        evidence.load_calibration(path)


def test_bundled_calibration_is_monotone() -> None:
    calibration = evidence.default_calibration()
    for name in evidence.TABLES:
        values = calibration.confidence[name]
        assert list(values) == sorted(values)
