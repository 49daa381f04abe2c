"""Tests of newsingest.charsets."""

from __future__ import annotations

import codecs

from newsingest.charsets import decode_html

TEXT = "<html><body><p>Zürich café über straße – “quoted”</p></body></html>"


def test_utf8_bom_wins() -> None:
    text, charset = decode_html(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "iso-8859-1")
    assert text == TEXT
    assert charset == "utf-8"


def test_wrong_declared_charset_is_not_trusted() -> None:
    body = "<p>Zürich café über</p>".encode("latin-1")
    text, charset = decode_html(body, "utf-8")
    assert "Zürich café über" in text
    assert charset != "utf-8"


def test_meta_charset_used_when_header_has_none() -> None:
    body = '<meta charset="windows-1252"><p>“café” – €</p>'.encode("cp1252")
    text, charset = decode_html(body, None)
    assert "“café” – €" in text
    assert charset == "cp1252"


def test_utf8_declared_as_latin1_is_read_as_utf8() -> None:
    text, _ = decode_html(TEXT.encode("utf-8"), "iso-8859-1")
    assert text == TEXT


def test_undecodable_bytes_never_raise() -> None:
    text, _ = decode_html(bytes(range(256)) * 4, "utf-8")
    assert isinstance(text, str)
