"""Tests of newsingest.signatures: binary formats by their first bytes; text is never one."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from newsingest.signatures import binary_format


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "text " * 100)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (b"%PDF-1.7\n" + b"plain text " * 500, "PDF"),
        (b"\xef\xbb\xbf\n%PDF-1.4\n", "PDF"),
        (_zip(), "zip"),
        (gzip.compress(b"<html></html>"), "gzip"),
        (b"BZh91AY&SY" + b"\x00" * 20, "bzip2"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF87a\x01\x00", "GIF"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "WAVE"),
        (b"\x00\x00\x00\x1cftypavif", "ISO media"),
        (b"\x00" * 257 + b"ustar\x0000", "tar"),
        (b"SQLite format 3\x00", "SQLite"),
    ],
)
def test_binary_formats_are_named(body: bytes, name: str) -> None:
    assert name in (binary_format(body) or "")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<!DOCTYPE html><html></html>",
        b"\xef\xbb\xbf<?xml version='1.0'?><rss/>",
        b'{"version": "https://jsonfeed.org/version/1.1"}',
        b"GIF wins Oxford's word of the year",
        b"BMW X6 2013 Most Luxury Vehicle",
        b"BZh... a headline",
        b"ID3 tags explained",
        b"PK is a footballer's initials",
        b"MZ",
    ],
)
def test_text_is_not_binary(body: bytes) -> None:
    assert binary_format(body) is None
