"""Evidence between candidate bodies: shingle agreement, the per-page choice and its confidence."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from newsingest.candidates import STRUCTURED

LOGGER = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("extraction_calibration.toml")
SHINGLE = 4
# Han and Kana count one token per character, as in bench/extraction.py's scores.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{CJK}]|[^\W{CJK}]+")
# The stages a page's choice went through; the calibration has a table for each,
# and one for the short bodies of each (TABLES).
SINGLE, VOTE = "single", "vote"
SHORT = "_short"
TABLES = (SINGLE, SINGLE + SHORT, VOTE, VOTE + SHORT)


class CalibrationError(ValueError):
    """The calibration file is malformed."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One extractor's body of a page and the set of its shingles."""

    method: str
    blocks: tuple[str, ...]
    shingles: frozenset[int]


@dataclass(frozen=True, slots=True)
class Choice:
    """The body chosen for a page, the stage that chose it and its agreement with the rest."""

    candidate: Candidate
    stage: str
    agreement: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """When a page is ambiguous, and the confidence of an agreement level per table."""

    structured_min: float
    port_min: float
    target_f1: float
    short_chars: int
    edges: dict[str, tuple[float, ...]]
    confidence: dict[str, tuple[float, ...]]
    digest: str

    def table(self, stage: str, chars: int) -> str:
        """The table of a body of this length chosen at this stage."""
        return stage + SHORT if chars < self.short_chars else stage

    def of(self, stage: str, agreement: float, chars: int) -> float:
        """The calibrated confidence of a body chosen at this stage with this agreement.

        Args:
            stage: SINGLE or VOTE.
            agreement: the choice's agreement with the independent opinions.
            chars: the length of the body kept (short bodies have their own table).

        Returns:
            The share of calibration pages like it whose body reached target_f1.
        """
        name = self.table(stage, chars)
        edges, values = self.edges[name], self.confidence[name]
        return values[max(0, bisect_right(edges, agreement) - 1)]


def candidate(method: str, blocks: Sequence[str]) -> Candidate:
    """A candidate with its shingles: hashed windows of 4 lowercased tokens."""
    tokens = TOKEN.findall("\n".join(blocks).lower())
    if len(tokens) < SHINGLE:
        windows = {hash(tuple(tokens))} if tokens else set()
    else:
        windows = {hash(tuple(tokens[i : i + SHINGLE])) for i in range(len(tokens) - SHINGLE + 1)}
    return Candidate(method, tuple(blocks), frozenset(windows))


def agreement(a: Candidate, b: Candidate) -> float:
    """Dice overlap of two candidates' shingle sets (0 when either is empty)."""
    if not a.shingles or not b.shingles:
        return 0.0
    return 2 * len(a.shingles & b.shingles) / (len(a.shingles) + len(b.shingles))


def support(chosen: Candidate, voters: Sequence[Candidate]) -> float:
    """Mean agreement of a candidate with the other voters (0 when there are none)."""
    others = [v for v in voters if v is not chosen]
    return sum(agreement(chosen, v) for v in others) / len(others) if others else 0.0


def first_opinion(
    reference: Candidate, opinion: Candidate, calibration: Calibration
) -> tuple[float, bool]:
    """The reference body's agreement with a cheap second opinion, and whether it is too low.

    Args:
        reference: trafilatura's body in recall mode.
        opinion: the page's declared articleBody (method "structured"), else
            trafilatura's readability port.
        calibration: gives the minimum agreement of each kind of opinion.

    Returns:
        (agreement, ambiguous).
    """
    level = agreement(reference, opinion)
    minimum = calibration.structured_min if opinion.method == STRUCTURED else calibration.port_min
    return level, level < minimum


def vote(candidates: Sequence[Candidate], voters: Sequence[Candidate]) -> Choice:
    """The candidate that agrees best with all voters (the medoid); the first wins ties.

    The choice's agreement is the winner's mean agreement with the voters
    that are not candidates (the independent opinions): trafilatura's two
    modes share most of their code, so their agreement with each other says
    little about the body.

    Args:
        candidates: the bodies that may be chosen, the reference first.
        voters: every opinion on the page, candidates included.

    Returns:
        The choice, stage "vote".
    """
    scored = [(support(c, voters), -n, c) for n, c in enumerate(candidates)]
    _, _, best = max(scored, key=lambda item: (item[0], item[1]))
    independent = [v for v in voters if all(v is not c for c in candidates)]
    return Choice(best, VOTE, support(best, independent))


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """Read the calibration that bench/extraction.py --calibrate writes.

    Raises:
        CalibrationError: a missing table, or edges and values that do not pair up.
    """
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    try:
        gate = data["gate"]
        edges = {name: tuple(float(e) for e in data[name]["edges"]) for name in TABLES}
        values = {name: tuple(float(v) for v in data[name]["confidence"]) for name in TABLES}
        calibration = Calibration(
            structured_min=float(gate["structured_min"]),
            port_min=float(gate["port_min"]),
            target_f1=float(data["target_f1"]),
            short_chars=int(data["short_chars"]),
            edges=edges,
            confidence=values,
            digest=hashlib.sha256(raw).hexdigest()[:12],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{path.name}: {exc!r}") from exc
    for name in TABLES:
        if not edges[name] or len(edges[name]) != len(values[name]):
            raise CalibrationError(f"{path.name} [{name}]: one edge per value, at least one")
        if list(edges[name]) != sorted(edges[name]):
            raise CalibrationError(f"{path.name} [{name}]: edges must be sorted")
        if not all(0.0 <= v <= 1.0 for v in values[name]):
            raise CalibrationError(f"{path.name} [{name}]: confidences must lie in [0, 1]")
    return calibration


@cache
def default_calibration() -> Calibration:
    """The calibration bundled with the package, read once per process."""
    return load_calibration()
