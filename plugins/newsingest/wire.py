"""Wire-agency attribution: which agencies a text comes from, and the evidence for each."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

AGENCIES_FILE = Path(__file__).with_name("wire_agencies.toml")
# Names this long or longer match in any letter case (see wire_agencies.toml).
CASELESS_NAME_CHARS = 5
# Credit and byline lines are short; a longer line is article prose and is not examined.
MAX_CREDIT_CHARS = 300
WHITESPACE = re.compile(r"\s+")
JOINERS = r"(?:\s*[/,&]\s*|\s+(?:and|und|et|y)\s+)"
# "PLACE (AGENCY) —": a capitalised place and optional date, the agencies in
# parentheses (a regional desk such as dpa/lby allowed), then a dash or a colon.
DATELINE_SHAPE = (
    r"(?:[A-ZÀ-ÖØ-Þ][^()\n]{{0,60}}?\s)?\(\s*{agencies}(?:/[\w-]{{1,12}})?\s*\)\s*\.?\s*[-–—:]"
)
# Evidence is read in tiers: the text itself, then bylines, then the site's name.
TIER_TEXT, TIER_BYLINE, TIER_SITE = 0, 1, 2


class AgenciesError(ValueError):
    """The wire agencies file is malformed."""


@dataclass(frozen=True, slots=True)
class Agency:
    """A wire agency: the code recorded and the names that identify it."""

    code: str
    names: tuple[str, ...]
    datelines: tuple[str, ...] = ()
    # Languages whose text the datelines are written in (empty: any language).
    dateline_languages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    """The agencies a text comes from, the evidence, and its blocks without credit lines."""

    agencies: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    blocks: tuple[str, ...] = ()


class WireData:
    """The compiled agencies file: names, and dateline, credit and byline shapes."""

    def __init__(
        self,
        agencies: Sequence[Agency],
        *,
        credits: Iterable[str],
        bylines: Iterable[str],
        distributors: Iterable[str],
        digest: str,
    ) -> None:
        self.agencies = tuple(agencies)
        self.digest = digest
        self._codes = {_key(name): a.code for a in self.agencies for name in a.names}
        spelled = sorted({name for a in self.agencies for name in a.names}, key=len, reverse=True)
        names = "|".join(_name_pattern(name) for name in spelled)
        self._names = re.compile(rf"(?<![\w-])(?:{names})(?![\w-])")
        joined = rf"(?:{names})(?:{JOINERS}(?:{names}))*"
        self._dateline_shape = DATELINE_SHAPE.format(agencies=joined)
        self._datelines: dict[str, tuple[re.Pattern[str], list[str]]] = {}
        self._dateline_for("")  # compiles every shape now, so that errors surface at load
        self._credit = _alternation(
            (p.replace("{agencies}", joined) for p in credits), flags=re.IGNORECASE
        )
        self._byline = _alternation(
            (p.replace("{agencies}", joined) for p in bylines), flags=re.IGNORECASE
        )
        self._distributors = _alternation(distributors, flags=re.IGNORECASE)

    def codes_in(self, text: str) -> list[str]:
        """The agency codes named in a text, in order of first mention."""
        found = (self._codes.get(_key(m.group(0))) for m in self._names.finditer(text))
        return list(dict.fromkeys(code for code in found if code))

    def _dateline_for(self, language: str) -> tuple[re.Pattern[str], list[str]]:
        """The dateline shapes that apply to a language ("": all) and the code of each (cached)."""
        if language not in self._datelines:
            shapes, codes = [self._dateline_shape], [""]
            for agency in self.agencies:
                langs = agency.dateline_languages
                if not language or not langs or language in langs:
                    shapes.extend(agency.datelines)
                    codes.extend(agency.code for _ in agency.datelines)
            self._datelines[language] = (_alternation(shapes, flags=0), codes)
        return self._datelines[language]

    def find_dateline(self, line: str, language: str = "") -> tuple[str, list[str]] | None:
        """(the dateline, its agency codes) when the line opens with one, else None.

        Agencies' own dateline shapes apply only to text in their languages
        (all of them when the language is unknown).
        """
        dateline, codes = self._dateline_for(language)
        found = dateline.match(line)
        if found is None or found.lastgroup is None:
            return None
        code = codes[int(found.lastgroup[1:])]
        return found.group(0), [code] if code else self.codes_in(found.group(0))

    def credited(self, line: str) -> list[str] | None:
        """The agencies a credit line credits (distributors left out), or None for other lines."""
        if self._credit.fullmatch(line) is None:
            return None
        return self.codes_in(self._distributors.sub("", line))

    def is_byline(self, line: str) -> bool:
        """Whether the line is a byline naming an agency ("By JANE DOE, Associated Press")."""
        return self._byline.fullmatch(line) is not None

    def mentions_agency(self, line: str) -> bool:
        """Whether any agency name occurs in the line (a cheap test before the shapes)."""
        return self._names.search(line) is not None


def _key(name: str) -> str:
    """The lookup key of a name: case-folded when it matches in any letter case."""
    return name.casefold() if len(name) >= CASELESS_NAME_CHARS else name


def _name_pattern(name: str) -> str:
    """A name as a regex fragment; short codes keep their letter case."""
    flag = "i" if len(name) >= CASELESS_NAME_CHARS else "-i"
    return f"(?{flag}:{re.escape(name)})"


def _alternation(patterns: Iterable[str], *, flags: int) -> re.Pattern[str]:
    """One regex with a named group per pattern (p0, p1, ...) so a match tells which."""
    joined = "|".join(f"(?P<p{i}>{p})" for i, p in enumerate(patterns))
    try:
        return re.compile(joined, flags)
    except re.error as exc:
        raise AgenciesError(
            f"a dateline, credit or byline pattern does not compile: {exc}"
        ) from exc


def load_agencies(path: Path = AGENCIES_FILE) -> WireData:
    """Read and compile a wire agencies file.

    Args:
        path: the TOML file (see wire_agencies.toml for its layout).

    Returns:
        The compiled agencies, names and line shapes.

    Raises:
        AgenciesError: a duplicate code or name, or a pattern that does not compile.
    """
    raw = path.read_bytes()
    data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    agencies = [
        Agency(
            code=str(entry["code"]),
            names=tuple(str(n) for n in entry["names"]),
            datelines=tuple(str(p) for p in entry.get("datelines", ())),
            dateline_languages=tuple(str(c) for c in entry.get("dateline_languages", ())),
        )
        for entry in data["agency"]
    ]
    _check_unique(agencies)
    return WireData(
        agencies,
        credits=[str(p) for p in data["credits"].values()],
        bylines=[str(p) for p in data["bylines"].values()],
        distributors=[str(p) for p in data["distributors"].values()],
        digest=hashlib.sha256(raw).hexdigest()[:12],
    )


def _check_unique(agencies: Sequence[Agency]) -> None:
    """Refuse two agencies with one code, or one name that would identify two agencies."""
    codes: set[str] = set()
    owners: dict[str, str] = {}
    for agency in agencies:
        if agency.code in codes:
            raise AgenciesError(f"agency {agency.code} is declared twice")
        codes.add(agency.code)
        for name in agency.names:
            owner = owners.setdefault(_key(name), agency.code)
            if owner != agency.code:
                raise AgenciesError(f"name {name!r} belongs to both {owner} and {agency.code}")


@cache
def default_agencies() -> WireData:
    """The agencies bundled with the package, compiled once per process."""
    return load_agencies()


def attribute(
    blocks: Sequence[str],
    *,
    authors: Iterable[str] = (),
    site_name: str = "",
    language: str = "",
    data: WireData | None = None,
) -> Attribution:
    """Find the wire agencies of an article and take its credit lines out of the body.

    Evidence comes in tiers, and the first tier that names an agency decides:
    the text (datelines, credit lines), then bylines (the page's authors and
    byline lines in the body), then the site's name. So a wire service's own
    site, whose name is an agency, records that agency only for stories that
    carry no other agency's dateline or credit.

    Args:
        blocks: the article's blocks (paragraphs; lines separated by newlines).
        authors: the page's author names.
        site_name: the page's site name.
        language: the text's ISO 639-1 language ("" when unknown): picks the
            agencies' own dateline shapes.
        data: the agencies (default: the bundled file).

    Returns:
        The agency codes, the evidence for them ("dateline: GENEVA (AFP) —",
        "credit: ...", "byline: ...", "site: ..."), and the blocks without credit lines.
    """
    data = data or default_agencies()
    found: list[tuple[int, str, list[str]]] = []
    kept: list[str] = []
    for block in blocks:
        lines = []
        for line in block.split("\n"):
            text = WHITESPACE.sub(" ", line).strip()
            dateline = data.find_dateline(text, language)
            if dateline is not None:
                found.append((TIER_TEXT, f"dateline: {dateline[0].strip()}", dateline[1]))
            elif len(text) <= MAX_CREDIT_CHARS and data.mentions_agency(text):
                credited = data.credited(text)
                if credited is not None:
                    found.append((TIER_TEXT, f"credit: {text}", credited))
                    continue
                if data.is_byline(text):
                    found.append((TIER_BYLINE, f"byline: {text}", data.codes_in(text)))
            lines.append(line)
        if any(line.strip() for line in lines):
            kept.append("\n".join(lines))
    # The same byline may come twice (trafilatura's author and the page's meta tag).
    bylines: dict[str, str] = {}
    for author in authors:
        if author:
            bylines.setdefault(author.casefold(), author)
    found.extend((TIER_BYLINE, f"byline: {a}", data.codes_in(a)) for a in bylines.values())
    if site_name:
        found.append((TIER_SITE, f"site: {site_name}", data.codes_in(site_name)))
    deciding = min((tier for tier, _, codes in found if codes), default=None)
    agencies = tuple(
        dict.fromkeys(code for tier, _, codes in found if tier == deciding for code in codes)
    )
    evidence = tuple(
        dict.fromkeys(
            text
            for _, text, codes in sorted(found, key=lambda item: item[0])
            if set(codes) & set(agencies)
        )
    )
    if agencies:
        LOGGER.debug("wire agencies %s from %s", agencies, evidence)
    return Attribution(agencies=agencies, evidence=evidence, blocks=tuple(kept))
