"""Language of an article's body, identified offline with py3langid, beside the declared one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LOGGER = logging.getLogger(__name__)

# The identifier reads this much of the body (its cost grows with the length).
SAMPLE_CHARS = 2000
# Shorter bodies give no reliable identification; a caption is not a language sample.
MIN_CHARS = 40
# Below this probability the identification is left undecided: on the development set
# every detection above it was right (docs/extraction.md).
MIN_PROBABILITY = 0.8
# Codes that name the same written language in declarations and in the model.
ALIASES = {"nb": "no", "iw": "he", "in": "id", "ji": "yi"}


@dataclass(frozen=True, slots=True)
class Identified:
    """A detected language ("" when undecided) and the identifier's probability."""

    code: str
    probability: float


@cache
def _identifier() -> LanguageIdentifier:
    """py3langid's bundled model, loaded once per process (about 0.2 s)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def normalise(code: str) -> str:
    """An ISO 639-1 code from a declaration such as "en-GB" or "nb_NO"."""
    base = code.replace("_", "-").split("-", maxsplit=1)[0].strip().lower()
    return ALIASES.get(base, base)


def detect(text: str) -> Identified:
    """Identify the language of a body.

    Args:
        text: the article's text.

    Returns:
        The ISO 639-1 code and its probability; the code is "" when the text is
        shorter than MIN_CHARS or the probability is below MIN_PROBABILITY.
    """
    sample = text[:SAMPLE_CHARS]
    if len(sample.strip()) < MIN_CHARS:
        return Identified("", 0.0)
    code, probability = _identifier().classify(sample)
    if probability < MIN_PROBABILITY:
        return Identified("", float(probability))
    return Identified(normalise(str(code)), float(probability))


def disagree(declared: str, detected: str) -> bool:
    """Whether a declared and a detected language are both known and differ."""
    return bool(declared and detected) and normalise(declared) != normalise(detected)
