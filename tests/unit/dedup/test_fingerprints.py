"""Tests of newsingest.dedup.fingerprints."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from newsingest.dedup.fingerprints import (
    ALGORITHM,
    MIN_UNQUOTED_SHARE,
    QUOTED,
    normalise,
    sample,
    word_hashes,
)

TEXT = (
    "The harbour strike that paralysed container traffic for six days ended on Friday after "
    "unions and port operators agreed on a new wage scale for night shifts, the union said."
)


def test_fingerprints_are_stable_for_the_algorithm_version() -> None:
    # Stored fingerprints are compared across processes, machines and releases: a change
    # of these values without a new ALGORITHM would silently mix incompatible state.
    assert ALGORITHM == "w3s8q-4"
    assert sorted(sample(TEXT)) == [-3699428395385226243, 5027385964647309201]


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


def test_word_characters_are_those_of_re_word_class() -> None:
    word = re.compile(r"\w")
    differing = [c for c in range(0x10000) if (word.fullmatch(chr(c)) is None) == bool(
        len(word_hashes(chr(c))))]  # fmt: skip
    assert differing == []


@pytest.mark.parametrize(
    "text",
    [
        "naïve café façade",
        "Mitte—Kreuzberg, 12–14 Uhr; Straße",
        "Москва и Санкт-Петербург",
        "東京 都 の ニュース",
        "x_y 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀 𐍈𐌰𐌹𐌽𐍃 ٣٤٥",
        "",
        "   ,;!? ",
    ],
)
def test_words_are_those_re_finds(text: str) -> None:
    words = re.findall(r"\w+", text)
    hashes = word_hashes(text)
    assert len(hashes) == len(words)
    assert [int(h) for h in hashes] == [int(word_hashes(w)[0]) for w in words]


def test_a_word_hashes_alike_anywhere_in_a_long_text() -> None:
    # Positions past the first power table (65,536 code points) grow it.
    far = word_hashes("filler " * 20_000 + "harbour strike")
    assert [int(h) for h in far[-2:]] == [int(h) for h in word_hashes("harbour strike")]
    assert len(set(far[:-2].tolist())) == 1


def test_a_word_hashes_alike_whatever_characters_share_its_text() -> None:
    # ASCII, other BMP and astral texts take different encodings to code points.
    words = ["harbour", "strike", "ends"]
    for extra in ["", "— ", "naïve ", "🙂 ", "\U00010348 "]:
        hashes = word_hashes(extra + " ".join(words))
        assert [int(h) for h in hashes[-3:]] == [int(word_hashes(w)[0]) for w in words], extra
    # a𐍈b is one word; a lone surrogate is no word character.
    assert len(word_hashes("🙂 a\U00010348b \ud800 c")) == 2


def test_normalise_is_nfkc_then_quotes_then_casefold() -> None:
    def reference(text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        unquoted = QUOTED.sub(" ", text)
        return (unquoted if len(unquoted) >= MIN_UNQUOTED_SHARE * len(text) else text).casefold()

    pieces = ["Wait", "…", "\u0301", "e", "ß", "ΣΑΣ", "½", "™", "“quoted”", '"', " ", "\n",
              "ﬁ", "İ", "\u00a0", "Ǆ", "…\u0301", "a\u0308"]  # fmt: skip
    shuffle = random.Random(5)
    for _ in range(3000):
        text = "".join(shuffle.choices(pieces, k=shuffle.randrange(0, 20)))
        assert normalise(text) == reference(text), repr(text)
