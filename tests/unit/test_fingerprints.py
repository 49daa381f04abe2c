"""Tests of newsingest.fingerprints."""

from __future__ import annotations

from newsingest.fingerprints import ALGORITHM, normalise, sample

TEXT = (
    "The harbour strike that paralysed container traffic for six days ended on Friday after "
    "unions and port operators agreed on a new wage scale for night shifts, the union said."
)


def test_fingerprints_are_stable_for_the_algorithm_version() -> None:
    # Stored fingerprints are compared across processes, machines and releases: a change
    # of these values without a new ALGORITHM would silently mix incompatible state.
    assert ALGORITHM == "w3s8q-1"
    assert sorted(sample(TEXT)) == [
        -8536643306599917184, 4603221252105736677, 6615013452003058676, 8240453125549835844,
    ]  # fmt: skip


def test_case_spacing_and_punctuation_do_not_matter() -> None:
    noisy = "  " + TEXT.upper().replace(" ", "   ").replace(",", " ;")
    assert sample(noisy) == sample(TEXT)


def test_short_texts_have_no_fingerprint() -> None:
    assert sample("") == frozenset()
    assert sample("two words") == frozenset()


def test_every_value_is_a_signed_bigint() -> None:
    values = sample(TEXT * 20 + " ".join(f"w{i}" for i in range(3000)))
    assert values
    assert all(-(2**63) <= v < 2**63 for v in values)
    # Roughly one 3-gram in eight is kept.
    assert 3000 / 16 < len(values) < 3000 / 4


def test_quotes_are_kept_when_they_are_most_of_the_text() -> None:
    quoted = "“" + TEXT + "”"
    assert "harbour" in normalise(quoted)
    assert sample(quoted) == sample(TEXT)
