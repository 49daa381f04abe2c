"""Tests of newsingest.language: identification from the body and disagreement."""

from __future__ import annotations

import pytest

from newsingest import language

GERMAN = (
    "Die Hafenarbeiter kehren am Montag an ihre Arbeit zurück, nachdem sich die "
    "Gewerkschaft und die Betreiber in der Nacht auf einen neuen Lohntarif geeinigt haben."
)
ENGLISH = (
    "Dock workers will return on Monday morning after the union and the port operators "
    "agreed overnight on a new wage scale for night shifts."
)


@pytest.mark.parametrize(("text", "code"), [(GERMAN, "de"), (ENGLISH, "en")])
def test_detects_the_body_language(text: str, code: str) -> None:
    found = language.detect(text)
    assert found.code == code
    assert found.probability >= language.MIN_PROBABILITY


def test_short_text_is_undecided() -> None:
    assert language.detect("Foto: AFP").code == ""


@pytest.mark.parametrize(
    ("declared", "code"), [("en-GB", "en"), ("nb_NO", "no"), ("DE", "de"), ("", "")]
)
def test_declared_codes_are_normalised(declared: str, code: str) -> None:
    assert language.normalise(declared) == code


@pytest.mark.parametrize(
    ("declared", "detected", "disagree"),
    [("en", "de", True), ("en-US", "en", False), ("nb", "no", False), ("", "de", False),
     ("en", "", False)],
)  # fmt: skip
def test_disagreement_needs_both_languages(declared: str, detected: str, disagree: bool) -> None:
    assert language.disagree(declared, detected) is disagree
