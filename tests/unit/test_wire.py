"""Tests of newsingest.wire: datelines, credit lines, bylines, site names and their tiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest.wire import AgenciesError, attribute, default_agencies, load_agencies

DATA = default_agencies()


@pytest.mark.parametrize(
    ("line", "dateline", "codes"),
    [
        ("GENEVA (AFP) — US Secretary of State", "GENEVA (AFP) —", ["AFP"]),
        ("GENEVA, Jan 21 (Reuters) - The top diplomats", "GENEVA, Jan 21 (Reuters) -", ["Reuters"]),
        ("NEW YORK (AP) - NBC Sports anchor", "NEW YORK (AP) -", ["AP"]),
        ("HAMBURG (dpa) — A winter storm", "HAMBURG (dpa) —", ["dpa"]),
        ("Berlin (dpa/lby) - Die Staatsregierung", "Berlin (dpa/lby) -", ["dpa"]),
        ("Madrid, 20 jun (EFE).- El Gobierno", "Madrid, 20 jun (EFE).-", ["EFE"]),
        ("(ANSA) - ROMA, 21 GEN - Il governo", "(ANSA) -", ["ANSA"]),
        ("PARIS (AFP/Reuters) - Talks resumed", "PARIS (AFP/Reuters) -", ["AFP", "Reuters"]),
        ("LONDON (GWS) — Neighbourhoods lined", "LONDON (GWS) —", ["GWS"]),
        ("【ワシントン共同】米政府は", "【ワシントン共同】", ["Kyodo"]),
        ("新华社北京1月21日电 记者", "新华社北京1月21日电", ["Xinhua"]),
    ],
)
def test_datelines(line: str, dateline: str, codes: list[str]) -> None:
    assert DATA.find_dateline(line) == (dateline, codes)


@pytest.mark.parametrize(
    "line",
    [
        "Pittsburgh, PA - a crowd gathered",
        "WASHINGTON (CNN) - The Senate voted",
        "The AP reported that the talks failed.",
        "geneva (afp) — lower-case codes are not agencies",
        "GENEVA (ap) — nor are lower-case short codes",
    ],
)
def test_lines_that_are_no_datelines(line: str) -> None:
    assert DATA.find_dateline(line) is None


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("with reports from © – Agence France-Presse, 2022.", ["AFP"]),
        ("— AFP", ["AFP"]),
        ("(dpa)", ["dpa"]),
        ("© AFP 2022", ["AFP"]),
        ("Copyright 2024 The Associated Press. All rights reserved.", ["AP"]),
        ("© dpa-infocom, dpa:240101-99-00000/2 (dpa)", ["dpa"]),
        ("Compiled by the Harbor Times world desk from AFP reports. Spotted an error?", ["AFP"]),
        ("(Reporting by the Reuters Geneva bureau; editing by the Valley Post desk)", ["Reuters"]),
        ("Additional reporting by PA Media", ["PA"]),
        ("With files from The Associated Press and Nadia Karim", ["AP"]),
        ("Associated Press writer Tom Reyes in Milwaukee contributed to this report.", ["AP"]),
        ("mit dpa", ["dpa"]),
        ("Mit Material von dpa und AFP", ["dpa", "AFP"]),
        ("Avec AFP", ["AFP"]),
        ("(avec AFP)", ["AFP"]),
        ("Con información de EFE", ["EFE"]),
        # A distributor is no author: this credits AFP only.
        ("© Agence France-Presse 2022. Distributed by Global Wire Service under licence.", ["AFP"]),
    ],
)
def test_credit_lines(line: str, codes: list[str]) -> None:
    assert DATA.credited(line) == codes


@pytest.mark.parametrize(
    "line",
    [
        "Source: PA",
        "Reuters reporters were detained at the border for two days.",
        "The Associated Press reported that the vote was delayed.",
        "AFP photographers covered the march.",
        "I live in Pittsburgh, PA.",
        "The ap and the pa are not agencies in lower case.",
    ],
)
def test_lines_that_credit_nobody(line: str) -> None:
    assert DATA.credited(line) is None


@pytest.mark.parametrize(
    ("line", "byline"),
    [
        ("By JANE DOE, Associated Press", True),
        ("By Tom Reyes, AP Business Writer", True),
        ("AP Television Writer", True),
        ("Reuters staff", True),
        ("By Jane Doe", False),
        ("Reuters reporters were detained at the border.", False),
    ],
)
def test_byline_lines(line: str, byline: bool) -> None:
    assert DATA.is_byline(line) is byline


def test_the_text_decides_before_bylines_and_the_site() -> None:
    found = attribute(
        ["GENEVA (AFP) — Blinken said he asked Russia to prove its intentions."],
        authors=["Global Wire Service with AFP"],
        site_name="Global Wire Service",
    )
    assert found.agencies == ("AFP",)
    assert found.evidence == ("dateline: GENEVA (AFP) —", "byline: Global Wire Service with AFP")


def test_a_byline_decides_when_the_text_is_silent() -> None:
    found = attribute(["Grain shipments rose."], authors=["Reuters"], site_name="Northgate Post")
    assert (found.agencies, found.evidence) == (("Reuters",), ("byline: Reuters",))


def test_the_site_decides_last() -> None:
    found = attribute(["Trees cool streets."], authors=["Priya Raman"], site_name="AP News")
    assert (found.agencies, found.evidence) == (("AP",), ("site: AP News",))
    assert attribute(["Trees cool streets."], site_name="Daily Courier").agencies == ()


def test_bylines_are_counted_once_whatever_their_case() -> None:
    found = attribute(["A storm hit."], authors=["Dpa", "dpa"])
    assert found.evidence == ("byline: Dpa",)


def test_credit_lines_leave_the_body_and_datelines_and_bylines_stay() -> None:
    blocks = [
        "By JANE DOE, Associated Press",
        "NEW YORK (AP) — Ferries returned.",
        "It was calm.\nAssociated Press writer Tom Reyes contributed to this report.",
        "Copyright 2024 The Associated Press. All rights reserved.",
    ]
    found = attribute(blocks)
    assert found.blocks == (*blocks[:2], "It was calm.")
    assert found.agencies == ("AP",)
    assert found.evidence == (
        "dateline: NEW YORK (AP) —",
        "credit: Associated Press writer Tom Reyes contributed to this report.",
        "credit: Copyright 2024 The Associated Press. All rights reserved.",
        "byline: By JANE DOE, Associated Press",
    )


def test_two_stitched_wire_stories_give_two_agencies() -> None:
    found = attribute(["GENEVA (AFP) — Talks ended.", "LONDON (PA) - Truss spoke.", "— AFP"])
    assert found.agencies == ("AFP", "PA")


def test_every_name_finds_its_agency() -> None:
    for agency in DATA.agencies:
        for name in agency.names:
            assert DATA.codes_in(f"Story by {name} today") == [agency.code], name
    assert "GWS" in {a.code for a in DATA.agencies}


def test_an_agency_file_with_one_name_for_two_agencies_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agencies.toml"
    path.write_text(
        '[[agency]]\ncode = "A"\nnames = ["Alpha"]\n[[agency]]\ncode = "B"\nnames = ["alpha"]\n'
        "[credits]\nbare = '{agencies}'\n[bylines]\nby = 'by {agencies}'\n"
        "[distributors]\nvia = 'via .{1,20}'\n",
        encoding="utf-8",
    )
    with pytest.raises(AgenciesError, match="both A and B"):
        load_agencies(path)


@pytest.mark.parametrize(
    ("language", "found"), [("ja", ["Kyodo"]), ("", ["Kyodo"]), ("en", None), ("zh", None)]
)
def test_agency_datelines_apply_to_their_language(language: str, found: list[str] | None) -> None:
    dateline = DATA.find_dateline("【ワシントン共同】米政府は", language)
    assert (dateline[1] if dateline else None) == found
    # The "PLACE (AGENCY) —" shape applies to every language.
    assert DATA.find_dateline("GENEVA (AFP) — Talks", language) == ("GENEVA (AFP) —", ["AFP"])
