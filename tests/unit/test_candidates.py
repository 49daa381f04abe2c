"""Tests of newsingest.candidates on hand-written pages."""

from __future__ import annotations

import json

from trafilatura.utils import load_html

from newsingest import candidates

PARAGRAPHS = [
    "The harbour strike that paralysed container traffic for six days ended on Friday "
    "after unions and port operators agreed on a new wage scale for night shifts.",
    "Dock workers will return on Monday morning, the union said in a statement, adding "
    "that the agreement would be put to a vote of members within two weeks.",
    "Shipping companies had diverted more than forty vessels to neighbouring ports "
    "during the stoppage, and freight forwarders warned of delays into February.",
]


def page(head: str = "", body: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html lang='en'><head><title>Strike ends</title>{head}</head><body>"
        f"<article><h1>Strike ends</h1>{body or paragraphs}</article></body></html>"
    )


def jsonld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_jsonld_article_body_inside_a_graph() -> None:
    article = {"@type": "NewsArticle", "articleBody": "\n\n".join(PARAGRAPHS)}
    data = {"@graph": [{"@type": "WebPage"}, article]}
    html = page(jsonld(data))
    assert candidates.structured_body(html, load_html(html)) == PARAGRAPHS


def test_microdata_article_body_when_no_jsonld() -> None:
    body = '<div itemprop="articleBody">' + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</div>"
    html = page(body=body)
    assert candidates.structured_body(html, load_html(html)) == PARAGRAPHS


def test_unreadable_jsonld_and_no_body_give_nothing() -> None:
    broken = '<script type="application/ld+json">{"articleBody": "cut off</script>'
    html = page(broken)
    assert candidates.structured_body(html, load_html(html)) == []
    plain = page()
    assert candidates.structured_body(plain, load_html(plain)) == []


def test_trafilatura_modes_and_port_leave_the_tree_alone() -> None:
    html = page()
    tree = load_html(html)
    before = len(list(tree.iter()))
    for precision in (False, True):
        assert (
            candidates.trafilatura_body(tree, "https://x.example/a", precision=precision)[-1]
            == PARAGRAPHS[-1]
        )
    assert candidates.readability_port_body(tree)[-1] == PARAGRAPHS[-1]
    assert len(list(tree.iter())) == before


def test_element_blocks_take_innermost_blocks() -> None:
    tree = load_html("<div><ul><li><p>one</p></li><li>two</li></ul><p>three  four</p></div>")
    assert candidates.element_blocks(tree) == ["one", "two", "three four"]
